-- The API scopes a person may put in personal tokens, space-separated; NULL means the
-- whole configured catalogue.
ALTER TABLE users ADD COLUMN api_scopes TEXT;
