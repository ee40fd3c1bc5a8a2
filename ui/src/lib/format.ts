// Small, pure helpers the screens share; tested by format.test.ts.
import type { ConnectionKind, KeyStatus, Scopes } from "./bindings";

export function when(iso: string | null, now: Date = new Date()): string {
  if (!iso) return "—";
  const t = new Date(iso);
  const seconds = Math.round((now.getTime() - t.getTime()) / 1000);
  if (seconds >= 0 && seconds < 60) return "just now";
  if (seconds >= 0 && seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return t.toISOString().slice(0, 16).replace("T", " ");
}

/** How old something is, from a number of seconds: "12 seconds", "5 minutes", "3 hours", "2 days". */
export function age(seconds: number | null): string {
  if (seconds === null) return "unknown";
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds < 60) return unit(seconds, "second");
  if (seconds < 3600) return unit(Math.floor(seconds / 60), "minute");
  if (seconds < 86400) return unit(Math.floor(seconds / 3600), "hour");
  return unit(Math.floor(seconds / 86400), "day");
}

// A key's status comes decided with its record (`key.status`, from keyward-core's
// `KeyStatus::of`); the screens only show it.
const STATUS_LABELS: Record<KeyStatus, string> = {
  active: "active",
  rotating_out: "rotating out",
  deactivated: "deactivated",
  expired: "expired",
  revoked: "revoked",
};

/** A key's status as people read it: "active", "rotating out", … (as the CLI prints it). */
export function statusLabel(status: KeyStatus): string {
  return STATUS_LABELS[status] ?? status;
}

/** The class of a status pill in app.css: "active", "rotating-out", … */
export function statusClass(status: KeyStatus): string {
  return status.replace(/_/g, "-");
}

export function scopeLabel(scopes: Scopes): string {
  return scopes.includes("write") ? "Read & write" : "Read only";
}

/** A connection's kind for people: a web-chat app (claude.ai, ChatGPT) or a partner app. */
export function kindLabel(kind?: ConnectionKind): string {
  return kind === "partner" ? "partner" : "web chat";
}

/** A `datetime-local` input's value (local time) as RFC 3339, or null when empty. */
export function expiryFromInput(value: string): string | null {
  if (!value) return null;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}
