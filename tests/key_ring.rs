//! Signing keys in the database: created once however many instances start together,
//! imported once from an earlier keys directory, shared without a shared directory, and
//! retired on their own record (never on the settings of whoever runs the CLI).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::browser::Browser;
use common::oidc::*;
use common::{TestDb, create_user, spawn_with};
use portcullis::keys::{KeyAlg, KeyState, Lifetimes, material, ring};
use portcullis::sealed::{DataKeys, Missing};
use portcullis::store::db;

const DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn data_keys() -> DataKeys {
    DataKeys::load(
        Some(DATA_KEY),
        None,
        std::path::Path::new("/nonexistent"),
        Missing::Create,
    )
    .unwrap()
}

async fn jwks_kids(base: &str) -> Vec<String> {
    let set: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{base}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

async fn eventually(base: &str, pred: impl Fn(&[String]) -> bool) {
    for _ in 0..150 {
        if pred(&jwks_kids(base).await) {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} did not pick up the key change");
}

#[test]
fn instances_starting_together_create_exactly_one_first_key() {
    let db = TestDb::new();
    {
        let mut conn = db::connect(&db.url).unwrap();
        portcullis::store::upgrade::migrate(&mut conn).unwrap();
    }
    let empty = common::keys_dir();
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier, dir) = (db.url.clone(), barrier.clone(), empty.path().to_path_buf());
            std::thread::spawn(move || {
                let mut conn = db::connect(&url).unwrap();
                barrier.wait();
                let life = Lifetimes {
                    token: 600,
                    session: 3600,
                };
                ring::initialize(&mut conn, &data_keys(), &dir, life, KeyAlg::RS256, 1_000)
                    .map(|s| s.created.is_some())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let created: Vec<bool> = runs
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    let mut conn = db::connect(&db.url).unwrap();
    let keys = ring::records(&mut conn).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].state, KeyState::Active);
}

#[actix_web::test]
async fn an_earlier_keys_directory_is_imported_once() {
    // A keys directory as earlier versions wrote it: one active key, one retired.
    let dir = common::keys_dir();
    let (active, retired) = (
        material::generate(KeyAlg::RS256).unwrap(),
        material::generate(KeyAlg::ES256).unwrap(),
    );
    let kid = |alg, pem: &str| material::from_pem(alg, pem).unwrap().kid;
    let (akid, rkid) = (kid(KeyAlg::RS256, &active), kid(KeyAlg::ES256, &retired));
    std::fs::write(dir.path().join(format!("{akid}.pem")), &active).unwrap();
    std::fs::write(dir.path().join(format!("{rkid}.pem")), &retired).unwrap();
    let now = portcullis::clock::Clock::now(&portcullis::clock::SystemClock);
    let manifest = serde_json::json!({ "keys": [
        { "kid": akid, "alg": "RS256", "state": "active", "file": format!("{akid}.pem"),
          "created_at": now - 100, "activated_at": now - 100, "retired_at": null },
        { "kid": rkid, "alg": "ES256", "state": "retired", "file": format!("{rkid}.pem"),
          "created_at": now - 200, "activated_at": now - 200, "retired_at": now - 50 },
    ]});
    std::fs::write(dir.path().join("keyset.json"), manifest.to_string()).unwrap();

    let db = TestDb::new();
    let mut args = common::settings_for(&db, dir.path());
    args.data_key = Some(DATA_KEY.parse().unwrap());
    let settings = portcullis::config::Settings::from_args(&args).unwrap();
    let clock = Arc::new(portcullis::clock::ManualClock::default());
    let srv = portcullis::server::start(settings.clone(), clock.clone())
        .await
        .unwrap();
    let base = format!("http://{}", srv.addr);
    let kids = jwks_kids(&base).await;
    assert!(kids.contains(&akid) && kids.contains(&rkid), "{kids:?}");
    srv.stop().await;
    // Imported once: the directory's files may go; the database has the keys.
    std::fs::remove_file(dir.path().join("keyset.json")).unwrap();
    let srv = portcullis::server::start(settings, clock).await.unwrap();
    let kids = jwks_kids(&format!("http://{}", srv.addr)).await;
    assert!(kids.contains(&akid), "{kids:?}");
    srv.stop().await;
}

#[actix_web::test]
async fn two_instances_share_keys_through_the_database_alone() {
    let srv = spawn_with(|a| a.data_key = Some(DATA_KEY.parse().unwrap())).await;
    let elsewhere = common::keys_dir();
    let other = srv
        .sibling_with(|a| {
            a.keys_dir = Some(elsewhere.path().to_path_buf());
            a.data_key = Some(DATA_KEY.parse().unwrap());
        })
        .await;
    let other_base = format!("http://{}", other.addr);
    assert_eq!(jwks_kids(&srv.base).await, jwks_kids(&other_base).await);
    let new = {
        let mut conn = srv.state().db.pool().get().unwrap();
        let life = srv.settings.signing_lifetimes();
        ring::rotate(&mut conn, &data_keys(), None, false, life, srv.clock_now()).unwrap()
    };
    for base in [srv.base.as_str(), other_base.as_str()] {
        eventually(base, |kids| kids.contains(&new[0].kid)).await;
    }
    // A token the other instance signs verifies against the first one's JWKS.
    let (id, secret) = srv.service_client("read");
    let res = srv
        .http
        .post(format!("{other_base}/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap(),
        new[0].kid
    );
    other.stop().await;
    srv.stop().await;
}

/// Keys retire on their own record: a command line run with a 1-second token lifetime
/// neither unpublishes nor prunes a key whose tokens (signed by servers with a one-hour
/// lifetime) are still alive.
#[actix_web::test]
async fn prune_follows_the_key_record_not_the_command_line() {
    let srv = spawn_with(|a| a.access_token_ttl = Some(3600)).await;
    let old = srv.jwks().await.keys[0].common.key_id.clone().unwrap();
    let mut conn = srv.state().db.pool().get().unwrap();
    let cli = Lifetimes {
        token: 1,
        session: 60,
    };
    let now = srv.clock_now();
    ring::rotate(&mut conn, &srv.state().data_keys, None, false, cli, now).unwrap();
    let rec = ring::records(&mut conn)
        .unwrap()
        .into_iter()
        .find(|k| k.kid == old)
        .unwrap();
    assert_eq!(rec.state, KeyState::Retired);
    assert_eq!(rec.published_until, Some(now + 3600 + 60));
    // A minute later, with the command line's short settings: nothing to prune.
    assert!(ring::prune(&mut conn, now + 60).unwrap().is_empty());
    drop(conn);
    srv.clock.advance(60);
    portcullis::server::reload_keys(srv.state(), srv.clock_now()).unwrap();
    assert!(srv.jwks().await.find(&old).is_some(), "still published");
    srv.stop().await;
}

#[actix_web::test]
async fn a_plain_rotate_rotates_every_algorithm() {
    let srv = spawn_with(|_| {}).await;
    let mut conn = srv.state().db.pool().get().unwrap();
    let (keys, life, now) = (
        &srv.state().data_keys,
        srv.settings.signing_lifetimes(),
        srv.clock_now(),
    );
    for alg in [KeyAlg::ES256, KeyAlg::EdDSA] {
        ring::rotate(&mut conn, keys, Some(alg), false, life, now).unwrap();
    }
    let before: Vec<_> = ring::records(&mut conn)
        .unwrap()
        .into_iter()
        .filter(|k| k.state == KeyState::Active)
        .map(|k| k.kid)
        .collect();
    assert_eq!(before.len(), 3);
    let rotated = ring::rotate(&mut conn, keys, None, false, life, now + 1).unwrap();
    assert_eq!(rotated.len(), 3, "one new key per algorithm");
    let after = ring::records(&mut conn).unwrap();
    for kid in &before {
        let k = after.iter().find(|k| &k.kid == kid).unwrap();
        assert_eq!(k.state, KeyState::Retired, "{kid}");
    }
    drop(conn);
    // `keys list` says what each active key signs.
    let out = srv.cli(&["keys", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("signs").count(), 3, "{text}");
    assert_eq!(text.matches("access tokens").count(), 1, "{text}");
    assert!(text.contains("ID tokens of"), "{text}");
    srv.stop().await;
}

/// RP-Initiated Logout hints verify for as long as sessions live, even after the key
/// that signed them left the JWKS (it is kept, unpublished).
#[actix_web::test]
async fn a_logout_hint_verifies_after_its_key_is_rotated_out() {
    let srv = spawn_with(|a| a.session_idle_ttl = Some(86_400)).await;
    create_user(&srv, "alice", PASSWORD, None);
    let printer = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&printer, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let tokens = exchange(&srv, &printer, &params["code"], s.verifier).await;
    let hint = tokens.extra_fields().id_token.clone().unwrap();
    let old = jsonwebtoken::decode_header(&hint).unwrap().kid.unwrap();
    {
        let mut conn = srv.state().db.pool().get().unwrap();
        let life = srv.settings.signing_lifetimes();
        let now = srv.clock_now();
        ring::rotate(&mut conn, &srv.state().data_keys, None, false, life, now).unwrap();
    }
    // Eleven minutes on, the key is no longer published, and the hint still verifies.
    srv.clock.advance(11 * 60);
    portcullis::server::reload_keys(srv.state(), srv.clock_now()).unwrap();
    assert!(srv.jwks().await.find(&old).is_none(), "unpublished");
    let url =
        url::Url::parse_with_params(&srv.url("/logout"), &[("id_token_hint", &hint)]).unwrap();
    let res = browser.get(url.as_str()).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Sign out?"));
    srv.stop().await;
}

/// A new data key (the old one listed in PORTCULLIS_DATA_KEYS_OLD) reseals the signing
/// keys at the next start; after that the old data key is not needed.
#[actix_web::test]
async fn a_new_data_key_reseals_the_signing_keys() {
    const NEW_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    let db = TestDb::new();
    let dir = common::keys_dir();
    let start = |key: &str, old: Option<&str>| {
        let mut args = common::settings_for(&db, dir.path());
        args.data_key = Some(key.parse().unwrap());
        args.data_keys_old = old.map(|o| o.parse().unwrap());
        let settings = portcullis::config::Settings::from_args(&args).unwrap();
        let clock = Arc::new(portcullis::clock::ManualClock::default());
        portcullis::server::start(settings, clock)
    };
    let first = start(DATA_KEY, None).await.unwrap();
    let kids = jwks_kids(&format!("http://{}", first.addr)).await;
    first.stop().await;
    let rotated = start(NEW_KEY, Some(DATA_KEY)).await.unwrap();
    rotated.stop().await;
    let alone = start(NEW_KEY, None)
        .await
        .expect("the keys open with the new key alone");
    assert_eq!(jwks_kids(&format!("http://{}", alone.addr)).await, kids);
    alone.stop().await;
}

async fn access_token_alg(srv: &common::TestServer, client: &(String, String)) -> String {
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    format!("{:?}", jsonwebtoken::decode_header(token).unwrap().alg)
}

/// The algorithm that signs access tokens is recorded, not inferred from activation
/// times: two rotations in one second leave one answer, the same on every instance and
/// in `keys list`; a rotation of every key keeps it.
#[actix_web::test]
async fn the_access_token_algorithm_is_the_one_last_chosen() {
    let srv = spawn_with(|a| a.data_key = Some(DATA_KEY.parse().unwrap())).await;
    let client = srv.service_client("");
    assert_eq!(access_token_alg(&srv, &client).await, "RS256");
    let now = srv.clock_now();
    {
        let mut conn = srv.state().db.pool().get().unwrap();
        let (keys, life) = (&srv.state().data_keys, srv.settings.signing_lifetimes());
        ring::rotate(&mut conn, keys, Some(KeyAlg::ES256), false, life, now).unwrap();
        ring::rotate(&mut conn, keys, Some(KeyAlg::EdDSA), false, life, now).unwrap();
        // Staging never changes it.
        ring::rotate(&mut conn, keys, Some(KeyAlg::ES256), true, life, now).unwrap();
    }
    portcullis::server::reload_keys(srv.state(), now).unwrap();
    assert_eq!(access_token_alg(&srv, &client).await, "EdDSA");
    let other = srv
        .sibling_with(|a| a.data_key = Some(DATA_KEY.parse().unwrap()))
        .await;
    let token: serde_json::Value = srv
        .http
        .post(format!("http://{}/token", other.addr))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::EdDSA,
        "the sibling agrees"
    );
    other.stop().await;

    let out = srv.cli(&["keys", "list", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let access: Vec<&str> = lines
        .iter()
        .filter(|k| k["signs"].to_string().contains("access tokens"))
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(access, vec!["EdDSA"], "{lines:?}");

    {
        let mut conn = srv.state().db.pool().get().unwrap();
        let (keys, life) = (&srv.state().data_keys, srv.settings.signing_lifetimes());
        ring::rotate(&mut conn, keys, None, false, life, now + 1).unwrap();
    }
    portcullis::server::reload_keys(srv.state(), now + 1).unwrap();
    assert_eq!(
        access_token_alg(&srv, &client).await,
        "EdDSA",
        "a plain rotate keeps it"
    );
    srv.stop().await;
}

/// A key command with the wrong data key, or none, changes nothing: it neither adds a
/// key no server could open nor makes a new data key file.
#[actix_web::test]
async fn key_commands_refuse_a_data_key_that_does_not_open_the_keys() {
    const OTHER_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    let srv = spawn_with(|a| a.data_key = Some(DATA_KEY.parse().unwrap())).await;
    let before = {
        let mut conn = srv.state().db.pool().get().unwrap();
        ring::records(&mut conn).unwrap()
    };
    let data_file = srv.keys_dir.path().join("data.key");
    assert!(!data_file.exists());

    // No data key given, no file: refused, and no file is made.
    let out = srv.cli(&["keys", "rotate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PORTCULLIS_DATA_KEY"), "{err}");
    assert!(!data_file.exists(), "no data key file was made");

    // Another data key: refused, naming the key that does not open.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["keys", "rotate", "--alg", "ES256"])
        .env("DATABASE_URL", &srv.db.url)
        .env("PORTCULLIS_KEYS_DIR", srv.keys_dir.path())
        .env("PORTCULLIS_DATA_KEY", OTHER_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&before[0].kid) && err.contains("cannot be opened"),
        "{err}"
    );

    let mut conn = srv.state().db.pool().get().unwrap();
    assert_eq!(ring::records(&mut conn).unwrap(), before, "nothing changed");
    drop(conn);

    // The right one works.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["keys", "rotate", "--alg", "ES256"])
        .env("DATABASE_URL", &srv.db.url)
        .env("PORTCULLIS_KEYS_DIR", srv.keys_dir.path())
        .env("PORTCULLIS_DATA_KEY", DATA_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.stop().await;
}

/// An earlier keys directory whose file does not hold the key its manifest names is
/// refused as a whole: the server does not start and nothing is imported.
#[actix_web::test]
async fn an_import_with_a_wrong_key_file_imports_nothing() {
    let dir = common::keys_dir();
    let (good, wrong) = (
        material::generate(KeyAlg::ES256).unwrap(),
        material::generate(KeyAlg::ES256).unwrap(),
    );
    let gkid = material::from_pem(KeyAlg::ES256, &good).unwrap().kid;
    std::fs::write(dir.path().join("good.pem"), &good).unwrap();
    std::fs::write(dir.path().join("other.pem"), &wrong).unwrap();
    let manifest = serde_json::json!({ "keys": [
        { "kid": gkid, "alg": "ES256", "state": "retired", "file": "good.pem",
          "created_at": 1, "activated_at": 1, "retired_at": 2 },
        { "kid": "not-the-kid-of-the-file", "alg": "ES256", "state": "active", "file": "other.pem",
          "created_at": 3, "activated_at": 3, "retired_at": null },
    ]});
    std::fs::write(dir.path().join("keyset.json"), manifest.to_string()).unwrap();
    let db = TestDb::new();
    let mut args = common::settings_for(&db, dir.path());
    args.data_key = Some(DATA_KEY.parse().unwrap());
    let settings = portcullis::config::Settings::from_args(&args).unwrap();
    let clock = Arc::new(portcullis::clock::ManualClock::default());
    let err = match portcullis::server::start(settings, clock).await {
        Ok(_) => panic!("started with a wrong key file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not-the-kid-of-the-file"), "{err}");
    let mut conn = db::connect(&db.url).unwrap();
    assert!(
        ring::records(&mut conn).unwrap().is_empty(),
        "nothing imported"
    );
}

/// A database whose keys were sealed elsewhere (a restored backup, a new keys
/// directory) is not given a new data key at start: the server refuses, saying which
/// setting to give, and writes no key file.
#[actix_web::test]
async fn a_server_without_the_data_key_refuses_instead_of_inventing_one() {
    let db = TestDb::new();
    let first_dir = common::keys_dir();
    let start = |dir: &std::path::Path| {
        let args = common::settings_for(&db, dir);
        let settings = portcullis::config::Settings::from_args(&args).unwrap();
        portcullis::server::start(
            settings,
            Arc::new(portcullis::clock::ManualClock::default()),
        )
    };
    let first = start(first_dir.path()).await.unwrap();
    first.stop().await;
    let elsewhere = common::keys_dir();
    let err = match start(elsewhere.path()).await {
        Ok(_) => panic!("started with a data key that opens nothing"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("PORTCULLIS_DATA_KEY"), "{err}");
    assert!(
        !elsewhere.path().join("data.key").exists(),
        "no useless key file was written"
    );
}
