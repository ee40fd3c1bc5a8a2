// Who may do what, as the key service decides it, so the screens show a person only the
// controls their role allows: the owner acts on everything; staff change, rotate and revoke
// the keys they created, revoke the connections they granted, and sign out their own devices.
// The key service still refuses anything else; these only keep the screens honest.
// Pure helpers, tested by people.test.ts.
import type { Connection, Device, KeyRecord, Person, Profile } from "./bindings";

/**
 * Whether the signed-in person is the store's owner. A profile saved before Keyward kept the
 * role says nothing, so nothing is hidden from it (the key service still decides).
 */
export function isOwner(profile: Profile): boolean {
  return profile.user_role !== "staff";
}

function isMe(profile: Profile, person: Person): boolean {
  return person.email.trim().toLowerCase() === profile.user_email.trim().toLowerCase();
}

/** Null when the person may rename, rescope, deactivate, rotate and revoke the key; else why not. */
export function keyRefusal(profile: Profile, key: KeyRecord): string | null {
  if (isOwner(profile) || isMe(profile, key.created_by)) return null;
  return `${key.created_by.name} created this key, so only they or the store's owner can change, rotate or revoke it. Ask them if it needs changing.`;
}

/** Null when the person may revoke the connection; else why not. */
export function connectionRefusal(profile: Profile, connection: Connection): string | null {
  if (isOwner(profile) || isMe(profile, connection.granted_by)) return null;
  return `${connection.granted_by.name} granted this connection, so only they or the store's owner can revoke it.`;
}

/** Null when the person may sign the device out; else why not. */
export function deviceRefusal(profile: Profile, device: Device): string | null {
  if (isOwner(profile) || isMe(profile, device.user)) return null;
  return `This is ${device.user.name}'s device, so only they or the store's owner can sign it out.`;
}

/** What staff are told on the screens where some rows are not theirs to change. */
export const STAFF_LIMITS = {
  keys: "As staff, you can change, rotate and revoke the keys you created; the store's owner can change any key.",
  connections: "As staff, you can revoke the connections you granted; the store's owner can revoke any.",
  devices: "As staff, you can sign out your own devices; the store's owner can sign out any.",
  staff: "Only the store's owner adds and removes staff.",
} as const;

/** Null when a new password and its confirmation can be sent; else what to do. */
export function newPasswordProblem(password: string, again: string): string | null {
  if (!password) return "Type the new password.";
  if (password !== again) return "The two new passwords differ. Type the same password in both fields.";
  return null;
}

/** "1 device" / "3 devices" and the like. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
