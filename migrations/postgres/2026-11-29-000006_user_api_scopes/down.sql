ALTER TABLE users DROP COLUMN api_scopes;
