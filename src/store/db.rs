//! One connection type over SQLite and PostgreSQL, the pool, and the embedded migrations.
//!
//! diesel's `MultiConnection` gives one query path for both backends. Its derived
//! `establish` tries every backend and swallows the errors, so the pool uses its own
//! manager that dispatches on the URL scheme and keeps the real error.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<Manager>;
pub type DbConn = PooledConnection<Manager>;

/// The pool, and the one way request paths use it: a whole unit of work on the blocking
/// pool, never a query on an async worker thread.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
}

/// Why a unit of work did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had (the database is down or the pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("blocking task failed: {0}")]
    Task(String),
}

impl Db {
    pub fn new(pool: DbPool) -> Db {
        Db { pool }
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> diesel::QueryResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        // The work runs on another thread: it logs within the caller's span (the
        // request's, with its id).
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _span = span.enter();
            let asked = std::time::Instant::now();
            let got = pool.get();
            crate::metrics::db_wait(asked.elapsed().as_secs_f64());
            let mut conn = got.map_err(|e| DbError::Unavailable(e.to_string()))?;
            f(&mut conn).map_err(DbError::Query)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file path inside a `sqlite://` URL (a bare path is accepted too).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// The SQLite file holds password hashes, emails and the audit trail: it is created
/// readable by its owner only (0600), whatever the umask, and an existing one readable by
/// others is narrowed to that. SQLite creates the `-wal` and `-shm` files with the
/// database file's permissions, so they follow; any left from before are narrowed too.
fn keep_private(path: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.is_empty() || path.starts_with(':') || path.starts_with("file:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {
            tracing::info!(path, "created the SQLite database (mode 0600)");
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for file in [
        path.to_string(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ] {
        match std::fs::metadata(&file) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Manager(String);

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        let url = &self.0;
        let conn = match Backend::of(url) {
            Backend::Postgres => AnyConnection::Postgresql(
                diesel::PgConnection::establish(url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?,
            ),
            Backend::Sqlite => {
                let path = sqlite_path(url);
                keep_private(path).map_err(|e| {
                    diesel::r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                        format!("{path}: {e}"),
                    ))
                })?;
                AnyConnection::Sqlite(
                    diesel::SqliteConnection::establish(path)
                        .map_err(diesel::r2d2::Error::ConnectionError)?,
                )
            }
        };
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        diesel::r2d2::R2D2Connection::ping(conn).map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// SQLite settings per connection. `busy_timeout` must come first: switching to WAL
/// needs the write lock, and the pool opens its connections concurrently.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        let AnyConnection::Sqlite(c) = conn else {
            return Ok(());
        };
        // While another process or connection is switching a new file to WAL, SQLite can
        // answer "database is locked" at once, without calling the busy handler (seen
        // with four connections opening one new file together). Retry for as long as the
        // busy timeout would have waited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            ) {
                Ok(()) => return Ok(()),
                Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(diesel::r2d2::Error::QueryError(e)),
            }
        }
    }
}

fn is_locked(e: &diesel::result::Error) -> bool {
    let text = e.to_string();
    text.contains("database is locked") || text.contains("database is busy")
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
}

/// Open a pool. Fails fast (a few seconds) when the database cannot be reached, so
/// that a wrong `DATABASE_URL` is reported at start rather than on the first request.
pub fn open_pool(url: &str, size: u32) -> Result<DbPool, DbSetupError> {
    check_sqlite_path(url)?;
    // Check the URL with one direct connection first: r2d2 would only report a timeout.
    Manager(url.to_string())
        .connect()
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas))
        .build(Manager(url.to_string()))
        .map_err(|e| DbSetupError::Connect(e.to_string()))
}

/// A SQLite URL must name a file in an existing directory: SQLite would report only
/// "unable to open database file".
fn check_sqlite_path(url: &str) -> Result<(), DbSetupError> {
    if Backend::of(url) == Backend::Sqlite {
        let path = sqlite_path(url);
        // `mysql://...` would otherwise become a file of that name.
        if let Some((scheme, _)) = path.split_once("://") {
            return Err(DbSetupError::Connect(format!(
                "unsupported database scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        }
        if path.is_empty() {
            return Err(DbSetupError::Connect("empty SQLite path".into()));
        }
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            return Err(DbSetupError::Connect(format!(
                "directory {} does not exist",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// One connection without a pool, for the CLI: a pool keeps background threads that
/// may still hold libpq connections while the process exits.
pub fn connect(url: &str) -> Result<AnyConnection, DbSetupError> {
    check_sqlite_path(url)?;
    let mut conn = Manager(url.to_string())
        .connect()
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    SqlitePragmas
        .on_acquire(&mut conn)
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    Ok(conn)
}

/// Arbitrary constant naming our advisory lock ("PCLS").
const MIGRATION_LOCK: i64 = 0x50434C53;

/// Several instances may start at once against one database: a lock makes them apply
/// migrations one at a time (diesel itself does not lock).
pub fn migrate_conn(conn: &mut AnyConnection) -> Result<usize, DbSetupError> {
    let err = |e: &dyn std::fmt::Display| DbSetupError::Migrate(e.to_string());
    match conn {
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .execute(c)
                .map_err(|e| err(&e))?;
            let applied = c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
            let unlocked =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(c);
            let applied = applied.map_err(|e| err(&e))?;
            unlocked.map_err(|e| err(&e))?;
            Ok(applied)
        }
        // SQLite has no advisory lock: the write lock of one `BEGIN IMMEDIATE` around
        // the whole run serialises instances started together on one file (each
        // migration nests as a savepoint); the later one waits out the busy timeout,
        // then finds nothing pending.
        AnyConnection::Sqlite(c) => c
            .immediate_transaction(|c| c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()))
            .map_err(|e: Box<dyn std::error::Error + Send + Sync>| err(&e)),
    }
}

/// A transaction that will write. On SQLite it starts with `BEGIN IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads and then writes fails at once
/// with SQLITE_BUSY when another writer got in between (WAL snapshot upgrade), which
/// the busy timeout cannot help. On PostgreSQL it is an ordinary transaction; the
/// conditional updates inside carry the concurrency guarantees.
/// SQLite has one writer per database file; within a process, writers wait here.
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        AnyConnection::Postgresql(_) => conn.transaction(f),
        AnyConnection::Sqlite(c) => {
            if AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .ok()
                .flatten()
                .is_some()
            {
                // Already inside one (this thread holds the writer lock): join it;
                // taking the lock again would wait for ourselves.
                return f(conn);
            }
            // One writer at a time in this process, queued here: SQLite's busy handler
            // would make the others sleep in growing steps (up to 100 ms each) instead.
            let _writer = SQLITE_WRITER.lock();
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            let result = f(conn);
            if let AnyConnection::Sqlite(c) = conn {
                match &result {
                    Ok(_) => AnsiTransactionManager::commit_transaction(c)?,
                    Err(_) => AnsiTransactionManager::rollback_transaction(c)?,
                }
            }
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::migration::MigrationSource;

    /// Instances started together on one new SQLite file: every one must come up, and the
    /// migrations must be applied exactly once (without the lock, two processes both
    /// applied the same `ALTER TABLE` and one failed with "duplicate column").
    #[test]
    fn concurrent_migrations_on_one_sqlite_file_apply_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("race.db").display());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut conn = connect(&url).map_err(|e| e.to_string())?;
                    migrate_conn(&mut conn).map_err(|e| e.to_string())
                })
            })
            .collect();
        let applied: Vec<usize> = runs
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        let total = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .unwrap()
            .len();
        assert_eq!(applied.iter().sum::<usize>(), total, "{applied:?}");
        assert!(
            applied.contains(&total),
            "one instance applied them all: {applied:?}"
        );
    }

    /// A write transaction opened inside another joins it instead of waiting for the
    /// writer lock its own thread holds (this deadlocked a registration once), and an
    /// error in the inner one rolls back the whole.
    #[test]
    fn nested_write_transactions_join_the_outer_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nested.db").display());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut conn = connect(&url).unwrap();
            diesel::sql_query("CREATE TABLE t (x INTEGER)")
                .execute(&mut conn)
                .unwrap();
            let r: Result<(), diesel::result::Error> = write_transaction(&mut conn, |c| {
                diesel::sql_query("INSERT INTO t VALUES (1)").execute(c)?;
                write_transaction(c, |c| {
                    diesel::sql_query("INSERT INTO t VALUES (2)").execute(c)?;
                    Err(diesel::result::Error::RollbackTransaction)
                })
            });
            assert!(r.is_err());
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let n: N = diesel::sql_query("SELECT COUNT(*) AS n FROM t")
                .get_result(&mut conn)
                .unwrap();
            tx.send(n.n).unwrap();
        });
        let rows = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("no deadlock");
        assert_eq!(rows, 0, "the inner error rolled back the outer writes");
    }
}
