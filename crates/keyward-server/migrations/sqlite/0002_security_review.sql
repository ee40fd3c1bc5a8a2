-- Keyward key service schema, version 2: what the security review asked for.

-- The key a rotation replaced, so a replacement whose predecessor still works cannot be
-- rotated again, and the limit can tell an overlap from an extra key.
ALTER TABLE api_keys ADD COLUMN replaces TEXT REFERENCES api_keys(id);
CREATE INDEX api_keys_by_replaces ON api_keys(replaces);

-- Removed staff keep their row (the audit trail names them) but cannot sign in.
ALTER TABLE users ADD COLUMN removed_at INTEGER;

-- The device a connection was granted from, so signing a lost device out can revoke its
-- connections too; and the connection a code made, so a replayed code can revoke it.
ALTER TABLE connection_codes ADD COLUMN created_device TEXT;
ALTER TABLE connection_codes ADD COLUMN connection_id TEXT;
ALTER TABLE connections ADD COLUMN granted_device TEXT;
CREATE INDEX connections_by_device ON connections(store_id, granted_device);
