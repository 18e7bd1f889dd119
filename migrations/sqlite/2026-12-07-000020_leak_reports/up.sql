-- A client secret reported as leaked (POST /credentials/revoke) stops authenticating
-- until an operator rotates it; this says when it was reported.
ALTER TABLE clients ADD COLUMN secret_reported_at BIGINT;
