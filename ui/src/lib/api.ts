// The app's commands, one typed function each. The UI calls nothing else.
import { invoke } from "@tauri-apps/api/core";
import type { AppInfo, CommandError, CreatedKey, KeyView, Profile, Revoked } from "./types";

/** Turns whatever a command threw into a CommandError with a sentence. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === "object" && "message" in e && "code" in e) return e as CommandError;
  return { code: "failed", message: `Something went wrong (${String(e)}). Try again.` };
}

export const api = {
  appInfo: () => invoke<AppInfo>("app_info"),
  signIn: (server: string, email: string, password: string, deviceName: string) =>
    invoke<Profile>("sign_in", { server, email, password, deviceName }),
  signOut: () => invoke<void>("sign_out"),
  listKeys: (includeRevoked: boolean) => invoke<KeyView[]>("list_keys", { includeRevoked }),
  createKey: (name: string, write: boolean, expiresAt: string | null) =>
    invoke<CreatedKey>("create_key", { name, write, expiresAt }),
  revokeKey: (id: string) => invoke<Revoked>("revoke_key", { id }),
};
