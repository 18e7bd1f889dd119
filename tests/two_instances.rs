//! Two `portcullis serve` processes over one database and one keys directory, racing
//! the same refresh token: exactly one request in all wins. Run against PostgreSQL
//! when PORTCULLIS_TEST_DATABASE_URL is set (the production shape), else SQLite.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestDb;
use common::flow::{REDIRECT, sign_in_at};
use serde_json::Value;

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(db: &TestDb, keys: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.env("DATABASE_URL", &db.url)
        .env("PORTCULLIS_KEYS_DIR", keys)
        .env_remove("PORTCULLIS_CONFIG");
    c
}

fn start(db: &TestDb, keys: &std::path::Path, issuer: &str, port: u16) -> Instance {
    let child = cli(db, keys)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            issuer,
        ])
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    Instance {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

#[actix_web::test]
async fn a_refresh_token_raced_across_two_instances_has_exactly_one_winner() {
    let db = TestDb::new();
    let keys = common::keys_dir();
    let (pa, pb) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{pa}");
    // Both start at once: migrations and first-key creation must not collide.
    let a = start(&db, keys.path(), &issuer, pa);
    let b = start(&db, keys.path(), &issuer, pb);
    let http = common::http_client();
    wait_ready(&http, &a.base).await;
    wait_ready(&http, &b.base).await;

    let out = cli(&db, keys.path())
        .args([
            "client",
            "create",
            "--name",
            "racer",
            "--redirect-uri",
            REDIRECT,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid offline_access",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    create_alice(&db, keys.path());

    // Sign in on A, then both instances agree on the keys: B verifies A's token.
    let tokens = sign_in_at(
        &a.base,
        id,
        Some(secret),
        "openid offline_access",
        "alice",
        "correct horse battery staple",
    )
    .await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let info = http
        .get(format!("{}/userinfo", b.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "instance B accepts A's access token");

    let race = (0..40).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        http.post(format!("{base}/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
    });
    let results = futures_util::future::join_all(race).await;
    let mut ok = 0;
    for r in results {
        let r = r.unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            400 => assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant"),
            s => panic!(
                "unexpected status {s}: {}",
                r.text().await.unwrap_or_default()
            ),
        }
    }
    assert_eq!(
        ok, 1,
        "exactly one of 40 requests across two instances rotates the token"
    );
    drop(a);
    drop(b);
}

/// `portcullis user create alice` with the tests' password.
fn create_alice(db: &TestDb, keys: &std::path::Path) {
    let mut child = cli(db, keys)
        .args(["user", "create", "--username", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse battery staple\n")
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
}

/// `portcullis user set-password alice` (which ends alice's sessions) from the CLI.
fn set_password(db: &TestDb, keys: &std::path::Path) {
    use std::io::Write;
    let mut child = cli(db, keys)
        .args(["user", "set-password", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// A logout token is never lost to a crash: the instance sending it is killed (SIGKILL)
/// while the app has the request and has not answered; the restarted instance sends it
/// once the dead one's claim runs out. And a session ended while no instance runs is
/// announced when one starts.
#[actix_web::test]
async fn a_logout_token_survives_kill_9() {
    use common::receiver::{Receiver, Reply, claims};
    let db = TestDb::new();
    let keys = common::keys_dir();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut a = start(&db, keys.path(), &issuer, port);
    let http = common::http_client();
    wait_ready(&http, &a.base).await;
    let r = Receiver::start().await;
    let out = cli(&db, keys.path())
        .args([
            "client",
            "create",
            "--name",
            "listener",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid",
            "--backchannel-logout-uri",
            &r.uri("app"),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(client["backchannel_logout_uri"], r.uri("app"));
    assert_eq!(client["backchannel_logout_session_required"], true);
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    create_alice(&db, keys.path());
    let pw = "correct horse battery staple";
    let sid_of = |t: &Value| claims(t["id_token"].as_str().unwrap())["sid"].clone();

    // Killed mid-delivery.
    let tokens = sign_in_at(&a.base, id, Some(secret), "openid", "alice", pw).await;
    let first = sid_of(&tokens);
    r.answer(&[Reply::Silence]);
    set_password(&db, keys.path());
    r.wait_for("app", 1, Duration::from_secs(15)).await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let a = start(&db, keys.path(), &issuer, port);
    wait_ready(&http, &a.base).await;
    let got = r.wait_for("app", 2, Duration::from_secs(60)).await;
    assert_eq!(claims(&got[1].token)["sid"], first);

    // Ended while nothing runs.
    let tokens = sign_in_at(&a.base, id, Some(secret), "openid", "alice", pw).await;
    let second = sid_of(&tokens);
    drop(a);
    set_password(&db, keys.path());
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.got("app").len(), 2);
    let a = start(&db, keys.path(), &issuer, port);
    wait_ready(&http, &a.base).await;
    let got = r.wait_for("app", 3, Duration::from_secs(15)).await;
    assert_eq!(claims(&got[2].token)["sid"], second);
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.got("app").len(), 3, "each once");
    drop(a);
    r.stop().await;
}
