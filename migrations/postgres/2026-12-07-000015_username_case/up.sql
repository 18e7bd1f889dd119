-- Usernames are one name whatever the case: people sign in as "Ada" or "ada" alike, so
-- the database itself refuses a second account that differs only in case (the CLI's
-- check before inserting cannot see a concurrent insert).
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
