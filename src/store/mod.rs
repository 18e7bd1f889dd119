//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! Repository functions take a connection and typed values. Callers on request paths
//! run a whole unit of work inside one `web::block`, never a query on a worker thread.

pub mod audit;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod db;
pub mod id;
pub mod keys;
pub mod outbox;
pub mod passkeys;
pub mod pat;
pub mod purge;
pub mod pushed;
pub mod refresh;
pub mod registration;
pub mod replay;
pub mod resets;
pub mod revoked;
pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod transactions;
pub mod upgrade;
pub mod users;

pub use db::{AnyConnection, Backend, Db, DbConn, DbError, DbPool};

/// A stored value that does not parse into its domain type. Reading such a row is an
/// error (the request is refused and the error logged with a reference), never a
/// default: an allow-list that fails to parse must not become "allow everyone".
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(
        format!("stored {what} does not parse: {detail}").into(),
    )
}
