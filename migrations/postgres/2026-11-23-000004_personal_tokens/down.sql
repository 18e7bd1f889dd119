DROP TABLE personal_token_addresses;
DROP TABLE audit_events;
DROP TABLE personal_tokens;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
ALTER TABLE sessions DROP COLUMN mfa_pending;
