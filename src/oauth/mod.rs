//! The protocol, kept apart from actix where practical.

pub mod authorize;
pub mod bearer;
pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod error;
pub mod grants;
pub mod liveness;
pub mod personal;
pub mod pkce;
pub mod redirect_uri;
pub mod registrar;
pub mod tokens;
