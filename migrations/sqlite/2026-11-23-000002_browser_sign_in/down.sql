DROP TABLE revoked_tokens;
DROP TABLE authorization_codes;
DROP TABLE consents;
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN name;
