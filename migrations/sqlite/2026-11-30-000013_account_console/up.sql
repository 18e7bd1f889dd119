-- Where each browser session was started from, for the person's list of their sessions
-- (the address as the server saw it, through trusted proxies; the user agent, cut to
-- 512 characters).
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- Password reset links an operator gives a person (`user reset-link`): single use,
-- short-lived, stored as hashes.
CREATE TABLE reset_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
