-- A session that passed the password but still owes its second factor.
ALTER TABLE sessions ADD COLUMN mfa_pending BOOLEAN NOT NULL DEFAULT 0;

-- TOTP (RFC 6238). The secret is sealed with the data key (AES-256-GCM). Enrolment is
-- complete when enabled_at is set; last_used_step stops a code being accepted twice.
CREATE TABLE user_totp (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    enabled_at     BIGINT,
    last_used_step BIGINT
);

CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- Personal access tokens, stored only as hashes.
CREATE TABLE personal_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scope        TEXT NOT NULL,
    allowed_ips  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT
);
CREATE UNIQUE INDEX personal_tokens_live_name ON personal_tokens(user_id, name) WHERE revoked_at IS NULL;

-- Append-only security events. No foreign keys: the trail outlives users and clients.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    client_id  TEXT,
    ip         TEXT,
    user_agent TEXT,
    outcome    TEXT NOT NULL,
    details    TEXT NOT NULL
);
CREATE INDEX audit_events_user_at ON audit_events(user_id, at);
CREATE INDEX audit_events_at ON audit_events(at);

-- Addresses each personal token was used from, to flag the first use from a new one.
CREATE TABLE personal_token_addresses (
    token_id      TEXT NOT NULL REFERENCES personal_tokens(id) ON DELETE CASCADE,
    ip            TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
);
