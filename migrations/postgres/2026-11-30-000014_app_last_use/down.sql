ALTER TABLE token_families DROP COLUMN last_used_ip;
ALTER TABLE token_families DROP COLUMN last_used_at;
