-- Passkeys (WebAuthn L3): one row a credential. `passkey` is webauthn-rs's record of
-- it (public key, algorithm, flags) as JSON; the signature counter and the backup flags
-- are columns of their own so that a use can be checked and written in one statement.
CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    passkey         TEXT NOT NULL,
    sign_count      BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backed_up       BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- WebAuthn ceremonies in flight: the server's half (challenge and expectations), kept
-- here so that a ceremony begun on one instance finishes on another. Single use, short
-- lived, and bound to the browser that began it (the hash of a cookie it was given).
CREATE TABLE webauthn_ceremonies (
    id           TEXT PRIMARY KEY NOT NULL,
    binding_hash TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    user_id      TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id   TEXT,
    state        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- How a session signed in (RFC 8176 method references, space-separated), carried into
-- the codes it authorises, the refresh-token families they start, and from there into
-- ID tokens and access tokens (`acr`).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE token_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
