-- Signing keys live in the database, sealed with the data key (AES-256-GCM): instances
-- share only the database and the data key, no keys directory.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL,
    state           TEXT NOT NULL,
    sealed_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    activated_at    BIGINT,
    retired_at      BIGINT,
    -- A retired key is published until every token it signed has expired, and kept
    -- (unpublished) to verify logout hints for as long as sessions live. Both are
    -- decided when it retires, from the longest lifetimes any instance was configured
    -- with, never from the settings of whoever later runs `keys prune`.
    published_until BIGINT,
    hints_until     BIGINT
);

-- One row: a version that every change of the key set bumps (instances poll it), the
-- longest token and session lifetimes the serving instances have declared, and the
-- algorithm whose active key signs access tokens (chosen by `keys rotate --alg`).
CREATE TABLE key_set (
    id                INTEGER PRIMARY KEY NOT NULL,
    version           BIGINT NOT NULL,
    longest_token_ttl BIGINT NOT NULL,
    longest_session   BIGINT NOT NULL,
    access_alg        TEXT NOT NULL
);
INSERT INTO key_set (id, version, longest_token_ttl, longest_session, access_alg)
    VALUES (1, 0, 0, 0, 'RS256');
