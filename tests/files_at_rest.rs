//! What the server keeps on disk is readable by its own user only.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use common::{TestDb, settings_for, spawn};
use portcullis::config::Settings;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn the_sqlite_file_and_its_journal_are_private() {
    if std::env::var("PORTCULLIS_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return; // The PostgreSQL run has no SQLite file.
    }
    let srv = spawn().await;
    // Something written, so that the write-ahead log exists.
    common::create_user(&srv, "alice", common::people::PW, None);
    let path = portcullis::store::db::sqlite_path(&srv.db.url).to_string();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let p = std::path::Path::new(&file);
        assert!(p.exists(), "{file}");
        assert_eq!(mode(p), 0o600, "{file}");
    }
    assert_eq!(mode(srv.keys_dir.path()), 0o700);
    assert_eq!(mode(&srv.keys_dir.path().join("data.key")), 0o600);
    srv.stop().await;
}

#[actix_web::test]
async fn a_keys_directory_others_can_read_stops_the_server() {
    let db = TestDb::new();
    let keys = common::keys_dir();
    let settings = Settings::from_args(&settings_for(&db, keys.path())).unwrap();
    let clock = Arc::new(portcullis::clock::ManualClock::default());
    // A fresh directory made under the umask holds no secret yet: it is made private.
    std::fs::set_permissions(keys.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let running = portcullis::server::start(settings.clone(), clock.clone())
        .await
        .expect("starts, narrowing an empty directory");
    running.stop().await;
    assert_eq!(mode(keys.path()), 0o700);
    // Once it holds the data key, a directory open to others stops the server.
    std::fs::set_permissions(keys.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = match portcullis::server::start(settings.clone(), clock.clone()).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("keys (--keys-dir") && err.contains("755"),
        "{err}"
    );
    // The same for the data key file.
    std::fs::set_permissions(keys.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_key = keys.path().join("data.key");
    std::fs::set_permissions(&data_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = match portcullis::server::start(settings, clock).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("data.key"), "{err}");
}
