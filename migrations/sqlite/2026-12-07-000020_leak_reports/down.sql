ALTER TABLE clients DROP COLUMN secret_reported_at;
