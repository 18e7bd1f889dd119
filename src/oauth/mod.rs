//! The protocol (RFC 6749 and its extensions, OpenID Connect), kept apart from actix
//! where practical: the `Registrar` (clients), the `Authorizer` (authorization requests
//! and codes), the grants, and the `Issuer` (tokens).

pub mod assertion;
pub mod authorize;
pub mod bearer;
pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod issuer;
pub mod jwk;
pub mod jwks_fetch;
pub mod liveness;
pub mod metadata;
pub mod personal;
pub mod pkce;
pub mod redirect_uri;
pub mod registrar;
pub mod registration;
pub mod tokens;
