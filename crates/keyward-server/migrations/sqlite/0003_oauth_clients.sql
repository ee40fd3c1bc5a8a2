-- Keyward key service schema, version 3: OAuth clients (issue 10).
-- Web-chat apps register themselves (RFC 7591); partner apps are registered by the operator.
-- A confidential client's secret is 256-bit random, kept as its SHA-256 digest only.

CREATE TABLE oauth_clients (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('registered', 'partner')),
    redirect_uris  TEXT NOT NULL,                 -- a JSON array of exact URIs
    auth_method    TEXT NOT NULL CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
    secret_hash    BLOB,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
CREATE INDEX oauth_clients_unused ON oauth_clients(kind, last_used_at, created_at);
