-- A family starts at one authorization grant; every rotation adds a refresh token to
-- it. Revoking the family ends every token in it (RFC 9700 §4.14.2).
CREATE TABLE token_families (
    id             UUID PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX token_families_user_client ON token_families(user_id, client_id);
CREATE INDEX token_families_expiry ON token_families(expires_at);

-- Refresh tokens, stored only as hashes. `used_at` is set exactly once, by the one
-- request that rotates the token; `access_jti` is the access token issued with it.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id  UUID NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    access_jti TEXT NOT NULL,
    access_exp BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

ALTER TABLE authorization_codes ADD COLUMN family_id UUID;
