import { describe, expect, it } from "vitest";
import { connectionRefusal, count, deviceRefusal, isOwner, keyRefusal, newPasswordProblem } from "./people";
import type { Connection, Device, KeyRecord, Profile } from "./bindings";

const profile = (role: string, email = "sam@x.test"): Profile => ({
  server: "http://127.0.0.1:8420", store_id: "sto_1", store_name: "Acme", brand: "kw",
  user_name: "Sam", user_email: email, user_role: role, device_id: "dev_1", device_name: "laptop",
});
const owner = profile("owner", "ada@x.test");
const staff = profile("staff");
const ada = { name: "Ada", email: "ada@x.test" };
const sam = { name: "Sam", email: "Sam@X.test " };

const key = (created_by = ada): KeyRecord => ({
  id: "Ab12Cd34", name: "bot", key_prefix: "kw_Ab12Cd34", scopes: ["read"], created_by, created_device: null,
  created_at: "2026-01-01T00:00:00Z", last_used_at: null, expires_at: null, is_active: true,
  revoked_at: null, revoked_by: null, revokes_at: null, status: "active",
});
const connection = (granted_by = ada): Connection => ({
  id: "con_1", app_name: "Claude on the web", scopes: ["read"], granted_by,
  created_at: "2026-01-01T00:00:00Z", revoked_at: null,
});
const device = (user = ada): Device => ({
  id: "dev_2", name: "desktop", user, created_at: "2026-01-01T00:00:00Z",
  last_seen_at: "2026-01-01T00:00:00Z", signed_out_at: null, current: false,
});

describe("what a role may do", () => {
  it("lets the owner act on everyone's keys, connections and devices", () => {
    expect(isOwner(owner)).toBe(true);
    expect(keyRefusal(owner, key(sam))).toBeNull();
    expect(connectionRefusal(owner, connection(sam))).toBeNull();
    expect(deviceRefusal(owner, device(sam))).toBeNull();
  });
  it("lets staff act only on what they made, whatever the email's case", () => {
    expect(isOwner(staff)).toBe(false);
    expect(keyRefusal(staff, key(sam))).toBeNull();
    expect(connectionRefusal(staff, connection(sam))).toBeNull();
    expect(deviceRefusal(staff, device(sam))).toBeNull();
  });
  it("tells staff who can act on what someone else made", () => {
    expect(keyRefusal(staff, key())).toMatch(/^Ada created this key, so only they or the store's owner/);
    expect(connectionRefusal(staff, connection())).toMatch(/^Ada granted this connection/);
    expect(deviceRefusal(staff, device())).toMatch(/^This is Ada's device/);
  });
  it("hides nothing from a profile saved before roles were kept", () => {
    const old = profile("");
    expect(isOwner(old)).toBe(true);
    expect(keyRefusal(old, key())).toBeNull();
  });
});

describe("new passwords", () => {
  it("asks for the same password twice", () => {
    expect(newPasswordProblem("", "")).toBe("Type the new password.");
    expect(newPasswordProblem("correct horse", "correct hose")).toMatch(/differ/);
    expect(newPasswordProblem("correct horse", "correct horse")).toBeNull();
  });
  it("counts in words", () => {
    expect(count(1, "device")).toBe("1 device");
    expect(count(0, "device")).toBe("0 devices");
    expect(count(2, "entry", "entries")).toBe("2 entries");
  });
});
