-- OpenID Connect RP-Initiated Logout 1.0 §3.1: where a client may send people after sign-out.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
