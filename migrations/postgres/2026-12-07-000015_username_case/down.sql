DROP INDEX users_username_fold;
ALTER TABLE users DROP COLUMN username_key;
