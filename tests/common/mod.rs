//! Test harness: the real server in-process on port 0, over a temporary SQLite file,
//! or over a fresh PostgreSQL database when PORTCULLIS_TEST_DATABASE_URL is set.
#![allow(dead_code)]

pub mod browser;
pub mod flow;
pub mod jose;
pub mod oidc;
pub mod passkey;
pub mod people;
pub mod receiver;
pub mod scrape;

use std::sync::Arc;

use diesel::{Connection, RunQueryDsl};
use portcullis::clock::ManualClock;
use portcullis::config::{Settings, SettingsArgs};
use portcullis::oauth::clients::ClientRequest;
use portcullis::oauth::clients::registrar;
use portcullis::server::{self, RunningServer};
use serde_json::Value;

/// A database of its own for one test, dropped afterwards.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new() -> TestDb {
        match std::env::var("PORTCULLIS_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&base)
                    .expect("PORTCULLIS_TEST_DATABASE_URL must be reachable");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&base).expect("database url");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    admin_url: Some(base),
                    name,
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    admin_url: None,
                    name: String::new(),
                    _dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin_url
            && let Ok(mut conn) = diesel::PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub running: Option<RunningServer>,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub keys_dir: tempfile::TempDir,
    // Dropped last: the server's pool must close before the database goes.
    pub db: TestDb,
}

/// A keys directory as the server wants it: readable by its user only (a temporary
/// directory is created under the umask).
pub fn keys_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod 700");
    dir
}

pub fn settings_for(db: &TestDb, keys: &std::path::Path) -> SettingsArgs {
    SettingsArgs {
        bind: Some("127.0.0.1:0".into()),
        database_url: Some(db.url.clone()),
        keys_dir: Some(keys.to_path_buf()),
        db_pool_size: Some(4),
        workers: Some(2),
        ..Default::default()
    }
}

pub async fn spawn() -> TestServer {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(adjust: impl FnOnce(&mut SettingsArgs)) -> TestServer {
    let db = TestDb::new();
    let keys_dir = keys_dir();
    let mut args = settings_for(&db, keys_dir.path());
    adjust(&mut args);
    let settings = Settings::from_args(&args).expect("settings");
    let clock = ManualClock::default();
    let running = server::start(settings.clone(), Arc::new(clock.clone()))
        .await
        .expect("server starts");
    let base = running.issuer.clone();
    TestServer {
        base,
        running: Some(running),
        clock,
        http: http_client(),
        settings,
        keys_dir,
        db,
    }
}

/// A client that never follows redirects (we assert on them) and keeps cookies.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client")
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn state(&self) -> &portcullis::state::AppState {
        &self.running.as_ref().expect("running").state
    }

    /// Register a client directly through the registry (as `client create` does).
    pub fn register(&self, req: ClientRequest) -> (String, Option<String>) {
        let valid = req.validate().expect("valid client");
        let mut conn = self.state().db.pool().get().expect("db");
        let (client, secret) =
            registrar::register(&mut conn, &valid, self.clock_now()).expect("register");
        (client.client_id, secret.map(|s| s.0))
    }

    /// A confidential client-credentials client with the given scope.
    pub fn service_client(&self, scope: &str) -> (String, String) {
        let (id, secret) = self.register(ClientRequest {
            name: "test service".into(),
            scope: Some(scope.into()),
            ..Default::default()
        });
        (id, secret.expect("confidential"))
    }

    /// Run the `portcullis` binary against this server's database and keys, as an
    /// operator would beside the running server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_env(args, &[])
    }

    /// `cli` with more environment variables.
    pub fn cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("PORTCULLIS_KEYS_DIR", self.keys_dir.path())
            .envs(env.iter().copied())
            .output()
            .expect("the portcullis binary runs")
    }

    /// A second instance over the same database and keys (its own memory, its own
    /// port), sharing this one's clock.
    pub async fn sibling(&self) -> RunningServer {
        self.sibling_with(|_| {}).await
    }

    /// A second instance as `sibling`, with its settings adjusted.
    pub async fn sibling_with(&self, adjust: impl FnOnce(&mut SettingsArgs)) -> RunningServer {
        let mut args = settings_for(&self.db, self.keys_dir.path());
        adjust(&mut args);
        let settings = Settings::from_args(&args).expect("settings");
        server::start(settings, Arc::new(self.clock.clone()))
            .await
            .expect("a second instance starts")
    }

    pub fn clock_now(&self) -> i64 {
        use portcullis::clock::Clock;
        self.clock.now()
    }

    pub async fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.http
            .get(self.url("/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }

    /// Verify a JWT against the JWKS fetched over HTTP, as a resource server would.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwks = self.jwks().await;
        let jwk = jwks.find(&kid).ok_or("kid not in JWKS")?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_issuer(&[&self.base]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // The server's clock may have been moved forward by the test.
        v.leeway = 0;
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| e.to_string())?;
        let exp = data.claims["exp"].as_i64().ok_or("no exp")?;
        if exp <= self.clock_now() {
            return Err("expired".into());
        }
        Ok(data.claims)
    }

    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("request")
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Read an error response and check it is RFC 6749 §5.2 shaped.
pub async fn oauth_error(res: reqwest::Response) -> (u16, String, reqwest::header::HeaderMap) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body: Value = res.json().await.expect("JSON error body");
    let code = body["error"].as_str().expect("error member").to_string();
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "errors are not cached"
    );
    (status, code, headers)
}

/// Create a user directly in the store (as `user create` does).
pub fn create_user(
    srv: &TestServer,
    username: &str,
    password: &str,
    email: Option<&str>,
) -> String {
    let mut conn = srv.state().db.pool().get().expect("db");
    let t = srv.clock_now();
    let user = portcullis::store::users::User {
        id: portcullis::store::id::Id::new_v7(),
        username: username.into(),
        email: email.map(str::to_string),
        password_hash: portcullis::password::hash(password).expect("hash"),
        created_at: t,
        updated_at: t,
        name: Some(format!("{username} Example")),
        email_verified: email.is_some(),
        api_scopes: None,
    };
    portcullis::store::users::insert(&mut conn, &user).expect("insert user");
    user.id.to_string()
}

/// The value of a hidden (or any) input field `name` in an HTML page, unescaped as a
/// browser would.
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// Query parameters of a Location header.
pub fn location_params(
    res: &reqwest::Response,
) -> (String, std::collections::HashMap<String, String>) {
    let loc = res
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .expect("ascii")
        .to_string();
    let url = url::Url::parse(&loc).expect("absolute location");
    let params = url.query_pairs().into_owned().collect();
    (loc, params)
}
