ALTER TABLE token_families DROP COLUMN amr;
ALTER TABLE authorization_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
