-- Keyward key service schema for PostgreSQL, version 1: the same tables, columns and rules as
-- the SQLite schema after its migration 0004, written for PostgreSQL. Later changes come as a
-- numbered migration for each backend.
--
-- Times are unix seconds (BIGINT), as in SQLite, so both backends read rows alike. Secrets
-- are never stored: keys keep an argon2id hash; session, connection, code and client-secret
-- digests are SHA-256 (BYTEA).

CREATE TABLE deployment (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    brand       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE stores (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    subscription_active  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           BIGINT NOT NULL,
    uninstalled_at       BIGINT
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL REFERENCES stores(id),
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at     BIGINT NOT NULL,
    removed_at     BIGINT
);
-- SQLite's `UNIQUE COLLATE NOCASE`: one account per address, whatever the case of its ASCII
-- letters (the C collation's lower() folds those only, as NOCASE does, whatever the locale).
CREATE UNIQUE INDEX users_by_email ON users (lower(email COLLATE "C"));

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL REFERENCES stores(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    name           TEXT NOT NULL,
    token_hash     BYTEA NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    signed_out_at  BIGINT
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
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    expires_at      BIGINT,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    revoked_at      BIGINT,
    revoked_by      TEXT REFERENCES users(id),
    revokes_at      BIGINT,                      -- a rotated key's overlap end
    updated_at      BIGINT NOT NULL,
    -- The mirror feed's cursor. Writers that assign it take a transaction-level advisory lock
    -- first, so values commit in order and a reader never skips one committed late.
    change_seq      BIGINT NOT NULL,
    replaces        TEXT REFERENCES api_keys(id),
    -- Insertion order, for "newest first" among keys made in the same second (SQLite's rowid).
    created_seq     BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX api_keys_by_store ON api_keys(store_id, created_at);
CREATE INDEX api_keys_by_change ON api_keys(store_id, change_seq);
CREATE INDEX api_keys_by_device ON api_keys(created_device);
CREATE INDEX api_keys_by_seq ON api_keys(change_seq);
CREATE INDEX api_keys_by_replaces ON api_keys(replaces);

CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id      TEXT NOT NULL REFERENCES stores(id),
    at            BIGINT NOT NULL,
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
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    granted_device  TEXT,
    client_id       TEXT,
    kind            TEXT NOT NULL DEFAULT 'web_chat' CHECK (kind IN ('web_chat', 'partner')),
    redirect_host   TEXT,
    resource        TEXT,
    last_used_at    BIGINT
);
CREATE INDEX connections_by_device ON connections(store_id, granted_device);
CREATE INDEX connections_by_client ON connections(client_id);

CREATE TABLE connection_codes (
    code_hash       BYTEA PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    app_name        TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_by      TEXT NOT NULL REFERENCES users(id),
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    created_device  TEXT,
    connection_id   TEXT
);

CREATE TABLE connection_tokens (
    token_hash      BYTEA PRIMARY KEY,
    connection_id   TEXT NOT NULL REFERENCES connections(id),
    kind            TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    issued_from     BYTEA,
    superseded_at   BIGINT
);
CREATE INDEX connection_tokens_by_connection ON connection_tokens(connection_id);
CREATE INDEX connection_tokens_by_parent ON connection_tokens(issued_from);

CREATE TABLE oauth_clients (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('registered', 'partner')),
    redirect_uris  TEXT NOT NULL,                 -- a JSON array of exact URIs
    auth_method    TEXT NOT NULL CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
    secret_hash    BYTEA,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX oauth_clients_unused ON oauth_clients(kind, last_used_at, created_at);

CREATE TABLE authorization_codes (
    code_hash        BYTEA PRIMARY KEY,
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
    connection_code  BYTEA,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT,
    connection_id    TEXT
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes(expires_at);

CREATE TABLE service_secrets (
    name   TEXT PRIMARY KEY,
    value  BYTEA NOT NULL
);

CREATE TABLE raw_materials (
    id        BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores(id),
    name      TEXT NOT NULL,
    unit      TEXT NOT NULL,
    stock     DOUBLE PRECISION NOT NULL
);
CREATE INDEX raw_materials_by_store ON raw_materials(store_id, id);

CREATE TABLE boms (
    id        BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores(id),
    product   TEXT NOT NULL
);
CREATE INDEX boms_by_store ON boms(store_id, id);

CREATE TABLE bom_lines (
    bom_id           BIGINT NOT NULL REFERENCES boms(id),
    raw_material_id  BIGINT NOT NULL REFERENCES raw_materials(id),
    quantity         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (bom_id, raw_material_id)
);
