-- Key-based client authentication (RFC 7523, private_key_jwt): a client's public keys,
-- given as a JWK Set or fetched from its jwks_uri. DPoP-bound clients (RFC 9449 §5.2,
-- dpop_bound_access_tokens) and clients that must push their requests (RFC 9126 §6,
-- require_pushed_authorization_requests).
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN dpop_bound BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;

-- A code carries what the authorization request bound it to: the DPoP key
-- (`dpop_jkt`, RFC 9449 §10) and the resources (RFC 8707 §2.2), space-separated.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';

-- A public client's refresh tokens are bound to the DPoP key they were issued with
-- (RFC 9449 §5), and every family to the resources of its original grant (RFC 8707
-- §2.2), space-separated.
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT;
ALTER TABLE token_families ADD COLUMN resources TEXT NOT NULL DEFAULT '';

-- Single-use values seen by any instance: DPoP proof and client assertion `jti`s, kept
-- until the proof or assertion could no longer be accepted anyway. The primary key
-- makes the first insert the only one that counts.
CREATE TABLE used_jtis (
    key        TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_jtis_expiry ON used_jtis(expires_at);

-- Pushed authorization requests (RFC 9126): the validated request's parameters, for
-- the client that pushed it, until used once or expired.
CREATE TABLE pushed_requests (
    uri_hash   TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX pushed_requests_expiry ON pushed_requests(expires_at);

-- Whether a sign-in in progress began as a pushed request (its parameters are then
-- validated again as pushed ones).
ALTER TABLE authorization_transactions ADD COLUMN pushed BOOLEAN NOT NULL DEFAULT FALSE;
