-- Attempt counters shared by every instance (sign-in per username or device cookie,
-- second-factor codes per person). An attempt is reserved with one atomic upsert before
-- it is checked, so a burst cannot slip between a check and its bookkeeping.
CREATE TABLE throttle_counters (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL
);
CREATE INDEX throttle_counters_window ON throttle_counters(window_start);

-- A personal token's name is unique among the person's live tokens only: the name is
-- copied here while the token holds it, and released (NULL) when it is revoked or when
-- a new token takes the name of an expired one.
ALTER TABLE personal_tokens ADD COLUMN live_name TEXT;
UPDATE personal_tokens SET live_name = name WHERE revoked_at IS NULL;
DROP INDEX personal_tokens_live_name;
CREATE UNIQUE INDEX personal_tokens_live_name ON personal_tokens(user_id, live_name);

-- `pat.used` is written at most once a minute per token and address.
ALTER TABLE personal_token_addresses ADD COLUMN last_event_at BIGINT NOT NULL DEFAULT 0;
