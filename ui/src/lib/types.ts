// The records the app's commands return, as the Rust side serialises them.

export type Scope = "read" | "write";

export interface Person {
  name: string;
  email: string;
}

export interface KeyRecord {
  id: string;
  name: string;
  key_prefix: string;
  scopes: Scope[];
  created_by: Person;
  created_device: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  is_active: boolean;
  revoked_at: string | null;
  revoked_by: Person | null;
  revokes_at: string | null;
}

export interface KeyView extends KeyRecord {
  on_this_device: boolean;
}

export interface Profile {
  server: string;
  store_id: string;
  store_name: string;
  brand: string;
  user_name: string;
  user_email: string;
  device_id: string;
  device_name: string;
}

export interface AppInfo {
  profile: Profile | null;
  default_server: string;
  demo_account: string | null;
}

export interface CreatedKey {
  record: KeyRecord;
  secret: string;
}

export interface Revoked {
  record: KeyRecord;
  unwired: [string, string][];
  keychain_item_removed: boolean;
}

/** What every command fails with: a code for behaviour, a sentence for people. */
export interface CommandError {
  code: "sign_in" | "offline" | "refused" | "keychain" | "config" | "failed" | "invalid";
  message: string;
}
