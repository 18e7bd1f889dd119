//! Bringing a database up to date: the schema (`db::migrate_conn`), then the data that a
//! migration's SQL cannot write as the server does (usernames' lookup keys).

use super::db::{AnyConnection, DbSetupError, migrate_conn};
use super::users;

/// Apply pending migrations and the data fixes after them; returns how many migrations
/// were applied. Every command that opens the database for writing runs this.
pub fn migrate(conn: &mut AnyConnection) -> Result<usize, DbSetupError> {
    let applied = migrate_conn(conn)?;
    let clashes =
        users::fold_keys(conn).map_err(|e| DbSetupError::Migrate(format!("username keys: {e}")))?;
    for id in clashes {
        tracing::warn!(user = %id, "another account's name differs from this one's only in case: this one cannot sign in until one of them is renamed or deleted");
    }
    Ok(applied)
}
