-- Times are unix seconds (BIGINT) so that comparisons read the same on both backends.
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    auth_methods  TEXT NOT NULL,
    grant_types   TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    resources     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
