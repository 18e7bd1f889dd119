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
pub mod pat;
pub mod purge;
pub mod refresh;
pub mod revoked;
pub mod schema;
pub mod sessions;
pub mod totp;
pub mod users;

pub use db::{AnyConnection, Backend, DbConn, DbPool};
