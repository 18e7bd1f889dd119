//! Clients, in one home: what a client is and may do (`model`), what may be registered
//! (`request`), how it is looked up
//! and how it proves itself (`registrar`, with `cache`, `auth`, `assertion` and
//! `jwks_fetch`), the redirect URIs it registers (`redirect_uri`), and how it registers
//! itself (`registration`, RFC 7591/7592).

pub mod assertion;
pub mod auth;
pub mod cache;
pub mod jwks_fetch;
mod model;
pub mod redirect_uri;
pub mod registrar;
pub mod registration;
mod request;

pub use model::{
    AuthMethod, BackchannelLogout, Client, ClientKeys, ClientMetadata, GrantType, Introspection,
    RegisteredBy,
};
pub use request::{ClientRequest, RegistrationError, ValidClientRequest, validate_jwks_uri};
