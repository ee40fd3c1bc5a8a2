// Small, pure helpers the screens share; tested by format.test.ts.
import type { KeyRecord } from "./types";

export function when(iso: string | null, now: Date = new Date()): string {
  if (!iso) return "—";
  const t = new Date(iso);
  const seconds = Math.round((now.getTime() - t.getTime()) / 1000);
  if (seconds >= 0 && seconds < 60) return "just now";
  if (seconds >= 0 && seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return t.toISOString().slice(0, 16).replace("T", " ");
}

export type Status = "active" | "revoked" | "expired" | "deactivated" | "rotating out";

export function status(key: KeyRecord, now: Date = new Date()): Status {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && new Date(key.expires_at) <= now) return "expired";
  if (!key.is_active) return "deactivated";
  if (key.revokes_at) return "rotating out";
  return "active";
}

export function scopeLabel(scopes: string[]): string {
  return scopes.includes("write") ? "Read & write" : "Read only";
}
