//! The protocol (RFC 6749 and its extensions, OpenID Connect), kept apart from actix
//! where practical: the `Registrar` (clients), the `Authorizer` (authorization requests
//! and codes), the grants, and the `Issuer` (tokens).

pub mod authorize;
pub mod backchannel;
pub mod bearer;
pub mod clients;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod issuer;
pub mod jwk;
pub mod liveness;
pub mod metadata;
pub mod personal;
pub mod pkce;
pub mod tokens;
