-- Rate limit and failure counts shared between instances (see auth::shared_counts): each
-- instance adds what it counted every second and reads back the totals. Callers are named by
-- a keyed hash, never by key id, address or email; rows of ended windows are deleted.
CREATE TABLE rate_counts (
    limiter       TEXT NOT NULL,
    window_index  BIGINT NOT NULL,
    name          BYTEA NOT NULL,
    count         BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (limiter, window_index, name)
);
CREATE INDEX rate_counts_by_expiry ON rate_counts (expires_at);
