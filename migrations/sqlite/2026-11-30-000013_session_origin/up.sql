-- Where each browser session was started from, for the person's list of their sessions
-- (the address as the server saw it, through trusted proxies; the user agent, cut to
-- 512 characters).
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
