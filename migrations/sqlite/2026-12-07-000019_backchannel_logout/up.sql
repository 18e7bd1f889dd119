-- OpenID Connect Back-Channel Logout 1.0 §2.2: where a client hears that a session
-- ended, and whether it needs `sid` (we always send it).
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT TRUE;

-- Which apps a browser session signed in (a code was issued to them in it): when the
-- session ends, these hear about it and no others.
CREATE TABLE session_clients (
    session_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

-- The outbox: messages that must leave this server (logout tokens now, mail later),
-- written in the same transaction as the change they report and delivered by a worker
-- in every instance. A row is claimed with a lease (`lease_until`), so that one instance
-- sends it; a failure sets `next_attempt_at` later; a finished row keeps its `outcome`
-- for a while, for `client show` and the audit trail. `dedupe_key` makes each message
-- (one app, one session) a single row however many paths report it.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    finished_at     BIGINT,
    outcome         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE finished_at IS NULL;
CREATE INDEX outbox_target ON outbox (target, finished_at);
