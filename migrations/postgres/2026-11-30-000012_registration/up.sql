-- Dynamic client registration (RFC 7591/7592). Initial access tokens, given by an
-- operator to whoever may register: stored as hashes, optionally expiring and limited in
-- uses (counted with one conditional update, so a token for one use is spent once).
CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    max_uses   BIGINT,
    uses       BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT
);

-- How a client came to be ('operator', 'registration-token <id>' or 'open'); the hash of
-- its registration access token (RFC 7592), if it registered itself; its descriptive
-- metadata (client_uri, logo_uri, tos_uri, policy_uri, contacts, software_id,
-- software_version) as JSON; and when it last completed a sign-in, so that `purge` can
-- remove open registrations that never did.
ALTER TABLE clients ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN last_sign_in_at BIGINT;
-- Set by `client disable`: the client is treated as unknown until `client enable`.
ALTER TABLE clients ADD COLUMN disabled_at BIGINT;
