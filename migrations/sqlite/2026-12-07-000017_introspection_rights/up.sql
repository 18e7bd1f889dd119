-- RFC 7662 §4: who may introspect whose tokens. Clients an operator made (resource
-- servers among them) introspect any token, as before; a client that registered itself
-- only its own, unless its initial access token said otherwise.
ALTER TABLE clients ADD COLUMN introspects_any BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE clients SET introspects_any = TRUE WHERE registered_by = 'operator';
ALTER TABLE registration_tokens ADD COLUMN allow_introspection BOOLEAN NOT NULL DEFAULT FALSE;
