-- Keyward key service schema, version 4: OAuth authorization with consent (issue 10).
--
-- A connection now remembers which OAuth client it belongs to and what that client is, the
-- host its redirect URI points at (shown to the merchant), the resource its tokens work at,
-- and when it was last used.
ALTER TABLE connections ADD COLUMN client_id TEXT;          -- NULL: made from a code before OAuth clients existed
ALTER TABLE connections ADD COLUMN kind TEXT NOT NULL DEFAULT 'web_chat' CHECK (kind IN ('web_chat', 'partner'));
ALTER TABLE connections ADD COLUMN redirect_host TEXT;
ALTER TABLE connections ADD COLUMN resource TEXT;           -- NULL: any of this service's resources
ALTER TABLE connections ADD COLUMN last_used_at INTEGER;
CREATE INDEX connections_by_client ON connections(client_id);

-- Authorization codes (RFC 6749 §4.1): made when the merchant approves on the consent page,
-- traded once at /oauth/token within a minute, bound to the client, the exact redirect URI,
-- the PKCE challenge (S256) and the resource. Only the SHA-256 digest of a code is kept.
CREATE TABLE authorization_codes (
    code_hash        BLOB PRIMARY KEY,
    client_id        TEXT NOT NULL,
    app_name         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('web_chat', 'partner')),
    redirect_uri     TEXT NOT NULL,
    code_challenge   TEXT NOT NULL,
    resource         TEXT NOT NULL,
    store_id         TEXT NOT NULL REFERENCES stores(id),
    scopes           TEXT NOT NULL,
    granted_by       TEXT NOT NULL REFERENCES users(id),
    granted_device   TEXT,
    connection_code  BLOB,                                  -- the connection code the merchant pasted, if any
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER,
    connection_id    TEXT                                   -- what the code made, so a replay can revoke it
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes(expires_at);

-- Keys the service signs its own short-lived values with (the consent form's CSRF token),
-- kept here so every instance of the service agrees on them.
CREATE TABLE service_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);

-- Refresh rotation: each token remembers the refresh token whose use minted it, so a retry of
-- that refresh within a few seconds can retire the pair the first answer gave (superseded:
-- any later use of it counts as a replay) instead of leaving two live chains.
ALTER TABLE connection_tokens ADD COLUMN issued_from BLOB;
ALTER TABLE connection_tokens ADD COLUMN superseded_at INTEGER;
CREATE INDEX connection_tokens_by_parent ON connection_tokens(issued_from);
