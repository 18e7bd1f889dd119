-- An authorization request in progress, kept on the server: validated once at
-- /authorize (or PAR), then carried through sign-in, the second step and consent by
-- its id alone. Bound to the browser that started it; used once.
CREATE TABLE authorization_transactions (
    id_hash          TEXT PRIMARY KEY NOT NULL,
    binding_hash     TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,
    session_id       UUID,
    authenticated_at BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    completed_at     BIGINT
);
CREATE INDEX authorization_transactions_expiry ON authorization_transactions(expires_at);
