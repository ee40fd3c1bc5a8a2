// What a screen loads from the app, with what the screen shows about it: the data, the sentence
// when loading failed, whether a load is running, and reload(). Specified by resource.test.ts.
//
//   const devices = resource(api.listDevices);
//   onMount(devices.reload);
//   {#if devices.error}<p class="error" role="alert">{devices.error}</p>{/if}
//
// Nothing loads until the screen asks (reload, usually from onMount): a load started while a
// component is being set up would run inside Svelte's own effects.
import { untrack } from "svelte";
import { failure } from "./api.svelte";

export class Resource<T> {
  /** What the last successful load gave; null until one has. A screen may change it too (Scan marks a rolled key). */
  data = $state<T | null>(null);
  /**
   * The sentence the screen shows: why the last load failed, as `failure` words it (null for an
   * ended session, which goes back to sign-in). A successful load clears it. The screen's own
   * actions may set it as well, so the screen keeps one error line, as it always had.
   */
  error = $state<string | null>(null);
  #running = $state(0);
  /** How many loads have started: each load's number tells whether a later one has begun. */
  #started = 0;
  #loader: () => Promise<T>;

  constructor(loader: () => Promise<T>) {
    this.#loader = loader;
  }

  /** Whether a load is running (any of them, when a second started before the first ended). */
  get busy(): boolean {
    return this.#running > 0;
  }

  /**
   * Loads again with the screen's loader; the data it gives replaces the data. Never throws (a
   * failure is `error`), so a screen may await it inside its own try. An arrow function, so it
   * can be handed on as it is: `onclick={keys.reload}`, `setInterval(keys.reload, 30_000)`.
   */
  reload = (): Promise<void> => this.load(this.#loader);

  /**
   * Makes a change the screen offers (revoke, sign out, remove) and shows its effect: when it
   * went through, `settled` runs (the screen closes its confirmation) and the screen loads
   * again; when it failed, `settled` runs and the sentence why is `error`. Never throws.
   */
  async change(action: () => Promise<unknown>, settled: () => void = () => {}): Promise<void> {
    try {
      await action();
      settled();
      await this.reload();
    } catch (e) {
      settled();
      this.error = failure(e);
    }
  }

  /**
   * Loads once with another loader, the same way: the audit trail's older pages, whose loader
   * adds them to the data it has. When loads overlap, the one started last decides what is
   * shown, and one started earlier that ends later is dropped, data and error alike: a refresh
   * the 30-second timer started before a revoke would otherwise land after the revoke's own
   * reload and show the revoked key as active again.
   */
  load(loader: () => Promise<T>): Promise<void> {
    // The loader's commands count themselves in the shared busy counter, and this counts in its
    // own. Untracked, so that an effect that loads depends on neither: it would load again each
    // time a command ends (the bug the key details once had).
    return untrack(async () => {
      const started = ++this.#started;
      this.#running++;
      try {
        const data = await loader();
        if (started === this.#started) {
          this.data = data;
          this.error = null;
        }
      } catch (e) {
        // failure() also does what the error asks of the whole app (sign-in again, the offline
        // banner), which holds however old the load; only the screen's sentence is dropped.
        const sentence = failure(e);
        if (started === this.#started) this.error = sentence;
      } finally {
        this.#running--;
      }
    });
  }
}

/** A screen's data, loaded by `loader` each time the screen calls reload(). */
export function resource<T>(loader: () => Promise<T>): Resource<T> {
  return new Resource(loader);
}
