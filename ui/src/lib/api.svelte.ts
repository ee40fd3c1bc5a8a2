// The app's commands, as generated from Rust in bindings.ts, plus what every screen shares:
// how many commands are running (for the progress bar), whether the key service is out of
// reach (for the offline banner), and what to do with a failed command.
import { commands, type CommandError, type Offline } from "./bindings";

class Shared {
  /** Commands running now; the window shows progress while this is above zero. */
  busy = $state(0);
  /** Set while the key service cannot be reached; the banner shows it. */
  offline = $state<Offline | null>(null);
  /** Called when the session has ended, to go back to the sign-in screen. */
  onSessionEnded: () => void = () => {};
}

export const shared = new Shared();

/** Turns whatever a command threw into a CommandError with a sentence. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === "object" && "message" in e && "code" in e) return e as CommandError;
  return { code: "failed", message: `Something went wrong (${String(e)}). Try again.` };
}

/**
 * What a screen does with a failed command: an ended session goes back to sign-in (and gives
 * null); an unreachable service raises the offline banner; the sentence is returned to show.
 */
export function failure(e: unknown): string | null {
  const err = asCommandError(e);
  if (err.code === "sign_in") {
    shared.onSessionEnded();
    return null;
  }
  if (err.code === "offline" && !shared.offline) {
    shared.offline = { message: err.message, synced_at: null, age_seconds: null };
  }
  return err.message;
}

type Commands = typeof commands;

/** Every command, counted while it runs. */
export const api: Commands = Object.fromEntries(
  Object.entries(commands).map(([name, command]) => [
    name,
    async (...args: unknown[]) => {
      shared.busy++;
      try {
        return await (command as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        shared.busy--;
      }
    },
  ]),
) as Commands;
