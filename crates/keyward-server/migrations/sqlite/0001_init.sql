-- Keyward key service schema, version 1.
-- Times are Unix seconds (UTC). Secrets are never stored: keys keep an argon2id PHC string,
-- session and connection tokens a SHA-256 digest (they are 256-bit random, so a fast hash is
-- enough and lets a token be found by its digest).

CREATE TABLE deployment (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    brand       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE stores (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    subscription_active  INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    uninstalled_at       INTEGER
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL REFERENCES stores(id),
    name           TEXT NOT NULL,
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at     INTEGER NOT NULL
);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL REFERENCES stores(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    name           TEXT NOT NULL,
    token_hash     BLOB NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    signed_out_at  INTEGER
);
CREATE INDEX devices_by_store ON devices(store_id, created_at);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,            -- the 8-character public id inside the key
    store_id        TEXT NOT NULL REFERENCES stores(id),
    name            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,               -- argon2id PHC string of the secret part
    scopes          TEXT NOT NULL,               -- 'read' or 'read,write'
    created_by      TEXT NOT NULL REFERENCES users(id),
    created_device  TEXT,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    expires_at      INTEGER,
    is_active       INTEGER NOT NULL DEFAULT 1,
    revoked_at      INTEGER,
    revoked_by      TEXT REFERENCES users(id),
    revokes_at      INTEGER,                     -- a rotated key's overlap end
    updated_at      INTEGER NOT NULL,
    change_seq      INTEGER NOT NULL             -- the mirror feed's cursor
);
CREATE INDEX api_keys_by_store ON api_keys(store_id, created_at);
CREATE INDEX api_keys_by_change ON api_keys(store_id, change_seq);
CREATE INDEX api_keys_by_device ON api_keys(created_device);
CREATE INDEX api_keys_by_seq ON api_keys(change_seq);

CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    at            INTEGER NOT NULL,
    actor_user    TEXT REFERENCES users(id),
    actor_device  TEXT,
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    summary       TEXT NOT NULL
);
CREATE INDEX audit_by_store ON audit_events(store_id, id);

CREATE TABLE connections (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    app_name        TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    granted_by      TEXT NOT NULL REFERENCES users(id),
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);

CREATE TABLE connection_codes (
    code_hash       BLOB PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    app_name        TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_by      TEXT NOT NULL REFERENCES users(id),
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

CREATE TABLE connection_tokens (
    token_hash      BLOB PRIMARY KEY,
    connection_id   TEXT NOT NULL REFERENCES connections(id),
    kind            TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX connection_tokens_by_connection ON connection_tokens(connection_id);

CREATE TABLE raw_materials (
    id        INTEGER PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores(id),
    name      TEXT NOT NULL,
    unit      TEXT NOT NULL,
    stock     REAL NOT NULL
);
CREATE INDEX raw_materials_by_store ON raw_materials(store_id, id);

CREATE TABLE boms (
    id        INTEGER PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores(id),
    product   TEXT NOT NULL
);
CREATE INDEX boms_by_store ON boms(store_id, id);

CREATE TABLE bom_lines (
    bom_id           INTEGER NOT NULL REFERENCES boms(id),
    raw_material_id  INTEGER NOT NULL REFERENCES raw_materials(id),
    quantity         REAL NOT NULL,
    PRIMARY KEY (bom_id, raw_material_id)
);
