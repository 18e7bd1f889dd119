-- Tokens a client got up to this moment (when an operator disabled it) stay dead when
-- it is enabled again.
ALTER TABLE clients ADD COLUMN tokens_not_before BIGINT;
