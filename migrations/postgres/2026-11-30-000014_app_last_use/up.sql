-- When each app last used a refresh token of a grant, and from which address (the
-- app's, as the server saw it through trusted proxies), for the person's list of
-- connected apps.
ALTER TABLE token_families ADD COLUMN last_used_at BIGINT;
ALTER TABLE token_families ADD COLUMN last_used_ip TEXT;
