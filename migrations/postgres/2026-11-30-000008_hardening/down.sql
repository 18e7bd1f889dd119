ALTER TABLE personal_token_addresses DROP COLUMN last_event_at;
DROP INDEX personal_tokens_live_name;
ALTER TABLE personal_tokens DROP COLUMN live_name;
CREATE UNIQUE INDEX personal_tokens_live_name ON personal_tokens(user_id, name) WHERE revoked_at IS NULL;
DROP TABLE throttle_counters;
