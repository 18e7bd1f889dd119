-- Usernames are one name whatever the case: people sign in as "Ada" or "ada" alike.
-- `username_key` is the name in lower case, Unicode's (written by the server: the
-- databases' own lower() differ, SQLite's knows ASCII only), and the database itself
-- refuses a second account with the same key (the CLI's check before inserting cannot
-- see a concurrent insert). Filled here by lower(); the server writes its own form of
-- every key when it migrates.
ALTER TABLE users ADD COLUMN username_key TEXT;
UPDATE users SET username_key = lower(username);
CREATE UNIQUE INDEX users_username_fold ON users (username_key);
