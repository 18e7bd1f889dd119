ALTER TABLE registration_tokens DROP COLUMN allow_introspection;
ALTER TABLE clients DROP COLUMN introspects_any;
