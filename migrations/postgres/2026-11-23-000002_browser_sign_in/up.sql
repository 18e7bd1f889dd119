ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- A signed-in browser. The cookie holds a random token; only its hash is stored.
-- `id` is the public session id (the ID token's `sid`).
CREATE TABLE sessions (
    id           UUID PRIMARY KEY NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- What a person allowed a client, remembered so they are not asked again.
CREATE TABLE consents (
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes, stored as hashes, single use (consumed_at), bound to
-- everything the token request must match.
CREATE TABLE authorization_codes (
    code_hash          TEXT PRIMARY KEY NOT NULL,
    client_id          TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id            UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id         UUID,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given BOOLEAN NOT NULL,
    scope              TEXT NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT NOT NULL,
    auth_time          BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    consumed_at        BIGINT,
    issued_jti         TEXT,
    issued_exp         BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);

-- Access tokens (by jti) that must no longer be accepted, kept until they expire.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
