import { describe, expect, it } from "vitest";
import { age, expiryFromInput, kindLabel, scopeLabel, statusClass, statusLabel, when } from "./format";
import type { KeyStatus } from "./bindings";

const now = new Date("2026-06-01T12:00:00Z");

describe("key status", () => {
  const all: KeyStatus[] = ["active", "rotating_out", "deactivated", "expired", "revoked"];
  it("shows the status the record carries, as the CLI words it", () => {
    expect(all.map(statusLabel)).toEqual(["active", "rotating out", "deactivated", "expired", "revoked"]);
  });
  it("gives each status the class its pill is styled by", () => {
    expect(all.map(statusClass)).toEqual(["active", "rotating-out", "deactivated", "expired", "revoked"]);
  });
});

describe("labels", () => {
  it("names scopes as people read them", () => {
    expect(scopeLabel(["read"])).toBe("Read only");
    expect(scopeLabel(["read", "write"])).toBe("Read & write");
  });
  it("shows recent times relatively and older ones as dates", () => {
    expect(when(null, now)).toBe("—");
    expect(when("2026-06-01T11:59:30Z", now)).toBe("just now");
    expect(when("2026-06-01T11:30:00Z", now)).toBe("30 min ago");
    expect(when("2026-05-01T08:15:00Z", now)).toBe("2026-05-01 08:15");
  });
});

describe("ages and expiry", () => {
  it("says how old the mirror is in the largest whole unit", () => {
    expect(age(null)).toBe("unknown");
    expect(age(1)).toBe("1 second");
    expect(age(59)).toBe("59 seconds");
    expect(age(120)).toBe("2 minutes");
    expect(age(3 * 3600 + 5)).toBe("3 hours");
    expect(age(86400)).toBe("1 day");
  });
  it("turns the calendar's local time into RFC 3339, and nothing into no expiry", () => {
    expect(expiryFromInput("")).toBeNull();
    expect(expiryFromInput("not a date")).toBeNull();
    expect(expiryFromInput("2027-03-04T05:06")).toBe(new Date(2027, 2, 4, 5, 6).toISOString());
  });
});

describe("connection kind", () => {
  it("reads as people say it", () => {
    expect(kindLabel("web_chat")).toBe("web chat");
    expect(kindLabel("partner")).toBe("partner");
  });
});
