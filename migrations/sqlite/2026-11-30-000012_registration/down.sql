ALTER TABLE clients DROP COLUMN disabled_at;
ALTER TABLE clients DROP COLUMN last_sign_in_at;
ALTER TABLE clients DROP COLUMN metadata;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN registered_by;
DROP TABLE registration_tokens;
