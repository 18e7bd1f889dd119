ALTER TABLE authorization_codes DROP COLUMN family_id;
DROP TABLE refresh_tokens;
DROP TABLE token_families;
