import { afterEach, describe, expect, it, vi } from "vitest";
import { shared } from "./api.svelte";
import type { CommandError } from "./bindings";
import { resource } from "./resource.svelte";

/** A load the test finishes by hand, to look at the resource while it runs. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

const refused: CommandError = { code: "refused", message: "At most 10 keys can be active." };

afterEach(() => {
  shared.offline = null;
  shared.onSessionEnded = () => {};
});

describe("a resource", () => {
  it("loads nothing until the screen asks", () => {
    const loader = vi.fn(async () => ["a"]);
    const r = resource(loader);
    expect(loader).not.toHaveBeenCalled();
    expect(r.data).toBeNull();
    expect(r.error).toBeNull();
    expect(r.busy).toBe(false);
  });

  it("is busy while it loads, then holds what the loader gave", async () => {
    const load = pending<string[]>();
    const r = resource(() => load.promise);
    const done = r.reload();
    expect(r.busy).toBe(true);
    expect(r.data).toBeNull();
    load.resolve(["a", "b"]);
    await done;
    expect(r.busy).toBe(false);
    expect(r.data).toEqual(["a", "b"]);
    expect(r.error).toBeNull();
  });

  it("replaces its data with each reload's", async () => {
    let n = 0;
    const r = resource(async () => ++n);
    await r.reload();
    await r.reload();
    expect(r.data).toBe(2);
  });

  it("can be handed on as a click handler or a timer's callback", async () => {
    const r = resource(async () => "loaded");
    const { reload } = r;
    await reload();
    expect(r.data).toBe("loaded");
  });
});

describe("a failed load", () => {
  it("shows the command's sentence and keeps the data the screen had", async () => {
    let fail = false;
    const r = resource(async () => {
      if (fail) throw refused;
      return ["a"];
    });
    await r.reload();
    fail = true;
    await r.reload();
    expect(r.error).toBe("At most 10 keys can be active.");
    expect(r.data).toEqual(["a"]);
    expect(r.busy).toBe(false);
  });

  it("is not thrown: a screen awaits reload inside its own try", async () => {
    const r = resource(async () => {
      throw refused;
    });
    await expect(r.reload()).resolves.toBeUndefined();
  });

  it("words anything else that was thrown as something that went wrong", async () => {
    const r = resource(async () => {
      throw new Error("boom");
    });
    await r.reload();
    expect(r.error).toBe("Something went wrong (Error: boom). Try again.");
  });

  it("is forgotten when the next load succeeds", async () => {
    let fail = true;
    const r = resource(async () => {
      if (fail) throw refused;
      return 1;
    });
    await r.reload();
    fail = false;
    await r.reload();
    expect(r.error).toBeNull();
    expect(r.data).toBe(1);
  });

  it("of an ended session goes back to sign-in and shows no sentence", async () => {
    const ended = vi.fn();
    shared.onSessionEnded = ended;
    const r = resource(async () => {
      throw { code: "sign_in", message: "Sign in again." } satisfies CommandError;
    });
    await r.reload();
    expect(ended).toHaveBeenCalledOnce();
    expect(r.error).toBeNull();
  });

  it("because the key service is out of reach raises the offline banner too", async () => {
    const r = resource(async () => {
      throw { code: "offline", message: "The key service does not answer." } satisfies CommandError;
    });
    await r.reload();
    expect(r.error).toBe("The key service does not answer.");
    expect(shared.offline).toEqual({ message: "The key service does not answer.", synced_at: null, age_seconds: null });
  });
});

describe("the screen's own changes", () => {
  it("share the one error line: an action's failure shows there until a load succeeds", async () => {
    const r = resource(async () => ["a"]);
    await r.reload();
    r.error = "Could not revoke the key.";
    expect(r.error).toBe("Could not revoke the key.");
    await r.reload();
    expect(r.error).toBeNull();
  });

  it("may change the data in place until the next load (a rolled key marked revoked)", async () => {
    const r = resource(async () => [{ id: "k1", status: "active" }]);
    await r.reload();
    r.data = [{ id: "k1", status: "revoked" }];
    expect(r.data).toEqual([{ id: "k1", status: "revoked" }]);
    await r.reload();
    expect(r.data).toEqual([{ id: "k1", status: "active" }]);
  });
});

describe("another loader", () => {
  it("loads the same way, once: the audit trail's older pages added to the newer", async () => {
    const r = resource(async () => ["newest"]);
    await r.reload();
    await r.load(async () => [...(r.data ?? []), "older"]);
    expect(r.data).toEqual(["newest", "older"]);
    await r.reload();
    expect(r.data).toEqual(["newest"]);
  });
});

describe("loads that overlap", () => {
  it("stay busy until the last one ends", async () => {
    const first = pending<number>();
    const second = pending<number>();
    const r = resource(() => first.promise);
    const a = r.reload();
    const b = r.load(() => second.promise);
    first.resolve(1);
    await a;
    expect(r.busy).toBe(true);
    second.resolve(2);
    await b;
    expect(r.busy).toBe(false);
  });

  it("show the one started last: an older one ending later is dropped (a timer's refresh racing a revoke)", async () => {
    const older = pending<string>();
    const newer = pending<string>();
    const r = resource(() => older.promise);
    const a = r.reload();
    const b = r.load(() => newer.promise);
    newer.resolve("newer");
    await b;
    expect(r.data).toBe("newer");
    older.resolve("older");
    await a;
    expect(r.data).toBe("newer");
    expect(r.busy).toBe(false);
  });

  it("drop an older one's failure too, but still let it end the session", async () => {
    const ended = vi.fn();
    shared.onSessionEnded = ended;
    const older = pending<string>();
    const r = resource(() => older.promise);
    const a = r.reload();
    await r.load(async () => "newer");
    older.reject({ code: "refused", message: "Too many requests." } satisfies CommandError);
    await a;
    expect(r.error).toBeNull();
    expect(r.data).toBe("newer");

    const stale = pending<string>();
    const b = r.load(() => stale.promise);
    await r.load(async () => "newest");
    stale.reject({ code: "sign_in", message: "Sign in again." } satisfies CommandError);
    await b;
    expect(ended).toHaveBeenCalledOnce();
  });
});

describe("a change the screen makes", () => {
  it("settles (the confirmation closes) and then loads again, so the screen shows its effect", async () => {
    const steps: string[] = [];
    let loads = 0;
    const r = resource(async () => {
      steps.push("load");
      return ++loads;
    });
    await r.change(async () => steps.push("revoke"), () => steps.push("settled"));
    expect(steps).toEqual(["revoke", "settled", "load"]);
    expect(r.data).toBe(1);
    expect(r.error).toBeNull();
  });

  it("that fails settles too, shows the sentence why, does not load, and is not thrown", async () => {
    const loader = vi.fn(async () => 1);
    const r = resource(loader);
    let settled = false;
    await r.change(async () => {
      throw refused;
    }, () => (settled = true));
    expect(settled).toBe(true);
    expect(r.error).toBe(refused.message);
    expect(loader).not.toHaveBeenCalled();
  });
});
