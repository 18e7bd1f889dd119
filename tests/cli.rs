//! The `portcullis` binary as an operator scripts it.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TestDb;

struct Env {
    db: TestDb,
    keys: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            db: TestDb::new(),
            keys: common::keys_dir(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        c.args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("PORTCULLIS_KEYS_DIR", self.keys.path())
            .env_remove("PORTCULLIS_CONFIG")
            .env_remove("PORTCULLIS_ISSUER")
            .env_remove("PORTCULLIS_BIND");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("runs")
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[actix_web::test]
async fn client_create_json_gives_a_secret_that_works_once_shown() {
    let env = Env::new();
    let out = env.ok(&[
        "client",
        "create",
        "--name",
        "billing",
        "--scope",
        "read write",
        "--json",
    ]);
    assert_eq!(out.trim().lines().count(), 1, "exactly one JSON object");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = v["client_id"].as_str().unwrap().to_string();
    let secret = v["client_secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("pcs_") && secret.len() >= 4 + 43,
        "256-bit secret with a prefix"
    );

    // The secret is never shown again, and never stored in clear.
    let shown = env.ok(&["client", "show", &id, "--json"]);
    assert!(!shown.contains(&secret));
    assert!(!env.ok(&["client", "list"]).contains(&secret));
    let db_bytes = if env.db.url.starts_with("sqlite://") {
        std::fs::read(env.db.url.trim_start_matches("sqlite://")).unwrap()
    } else {
        Vec::new()
    };
    assert!(!String::from_utf8_lossy(&db_bytes).contains(&secret));

    // Serve on the same database and use it.
    let args = common::settings_for(&env.db, env.keys.path());
    let settings = portcullis::config::Settings::from_args(&args).unwrap();
    let running = portcullis::server::start(
        settings,
        std::sync::Arc::new(portcullis::clock::SystemClock),
    )
    .await
    .unwrap();
    let http = common::http_client();
    let res = http
        .post(format!("{}/token", running.issuer))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    running.stop().await;
}

#[test]
fn client_lifecycle_commands() {
    let env = Env::new();
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["client", "create", "--name", "svc", "--json"])).unwrap();
    let id = v["client_id"].as_str().unwrap();
    let list = env.ok(&["client", "list", "--json"]);
    assert!(list.contains(id));
    let rotated: serde_json::Value =
        serde_json::from_str(&env.ok(&["client", "rotate-secret", id, "--json"])).unwrap();
    assert_ne!(rotated["client_secret"], v["client_secret"]);
    env.ok(&["client", "delete", id]);
    let out = env.run(&["client", "show", id]);
    assert!(!out.status.success());
    assert!(!env.ok(&["client", "list", "--json"]).contains(id));

    // Bad registrations are refused with a message, not a panic.
    let out = env.run(&[
        "client",
        "create",
        "--name",
        "x",
        "--redirect-uri",
        "http://evil.example.com/cb",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("redirect URI"), "{}", stderr(&out));
    let out = env.run(&[
        "client",
        "create",
        "--name",
        "x",
        "--grant-type",
        "password",
    ]);
    assert!(!out.status.success());
}

#[test]
fn user_create_reads_the_password_from_stdin() {
    let env = Env::new();
    let out = env.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "another long one\n",
    );
    assert!(!out.status.success(), "duplicate username refused");
    let out = env.run_with_stdin(
        &["user", "create", "--username", "bob", "--password-stdin"],
        "short\n",
    );
    assert!(!out.status.success(), "short password refused");
    // Long enough but easy to guess, or made of the person's own name: refused, saying why.
    for weak in ["password123", "bob-bob-bob-bob"] {
        let out = env.run_with_stdin(
            &["user", "create", "--username", "bob", "--password-stdin"],
            &format!("{weak}\n"),
        );
        assert!(!out.status.success(), "{weak} refused");
        assert!(stderr(&out).contains("password: "), "{}", stderr(&out));
    }
    let list = env.ok(&["user", "list", "--json"]);
    assert!(list.contains("alice") && !list.contains("bob"));
    assert!(!list.contains("correct horse"));
    let out = env.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "a new passphrase\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    env.ok(&["user", "delete", "alice"]);
}

#[test]
fn keys_rotate_and_list() {
    let env = Env::new();
    let first: serde_json::Value =
        serde_json::from_str(&env.ok(&["keys", "rotate", "--json"])).unwrap();
    assert_eq!(first["alg"], "RS256");
    let second: serde_json::Value =
        serde_json::from_str(&env.ok(&["keys", "rotate", "--alg", "ES256", "--json"])).unwrap();
    assert_eq!(second["alg"], "ES256");
    let list = env.ok(&["keys", "list", "--json"]);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r["state"] == "active"),
        "one active key per algorithm"
    );
    let out = env.run(&["keys", "rotate", "--alg", "HS256"]);
    assert!(!out.status.success());
    // The keys are sealed in the database; the one file is the data key, private.
    use std::os::unix::fs::PermissionsExt;
    let names: Vec<String> = std::fs::read_dir(env.keys.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["data.key".to_string()]);
    let meta = std::fs::metadata(env.keys.path().join("data.key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn migrate_is_idempotent() {
    let env = Env::new();
    assert!(env.ok(&["migrate"]).contains("applied"));
    assert!(env.ok(&["migrate"]).contains("applied 0"));
}

#[test]
fn bad_configuration_is_one_line_naming_the_setting() {
    let env = Env::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--issuer", "https://auth.example.com/?a=b"],
            "issuer",
        ),
        (
            &["serve", "--issuer", "https://auth.example.com/#x"],
            "issuer",
        ),
        (&["serve", "--bind", "not-an-address"], "bind"),
        (&["serve", "--access-token-ttl", "0"], "access token ttl"),
    ];
    for (args, setting) in cases {
        let out = env.run(args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(setting), "{err}");
        assert!(!err.contains("panicked"));
    }
    // Port 0: a server the person already runs (the README's first command) holds 8080.
    let out = env
        .cmd(&["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn user_create_can_limit_the_api_scopes_a_person_may_grant() {
    let env = Env::new();
    let create = |name: &str, scopes: &str| {
        env.run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                name,
                "--allowed-api-scopes",
                scopes,
                "--password-stdin",
            ],
            "correct horse battery\n",
        )
    };
    let out = create("carol", "api:read api:write");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = create("dave", "api:admin");
    assert!(!out.status.success(), "a scope outside the catalogue");
    assert!(stderr(&out).contains("api:admin"), "{}", stderr(&out));
    let list: serde_json::Value =
        serde_json::from_str(env.ok(&["user", "list", "--json"]).trim()).unwrap();
    assert_eq!(list["username"], "carol");
    assert_eq!(list["api_scopes"], "api:read api:write");
}

/// What a new user gets wrong first is answered in one line that says what to do.
#[test]
fn first_mistakes_get_one_line_that_says_what_to_do() {
    let env = Env::new();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["client", "create", "--name", "x", "--public"],
            &["--redirect-uri"],
        ),
        (
            &[
                "client",
                "create",
                "--name",
                "x",
                "--grant-type",
                "implicit",
            ],
            &["implicit", "authorization_code", "client_credentials"],
        ),
        (
            &["--database-url", "mysql://x/y", "user", "list"],
            &["mysql", "postgres://"],
        ),
        (
            &[
                "--database-url",
                "sqlite:///no/such/dir/p.db",
                "user",
                "list",
            ],
            &["/no/such/dir"],
        ),
    ];
    for (args, wanted) in cases {
        let out = env.run(args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for w in wanted {
            assert!(err.contains(w), "{args:?}: {err}");
        }
    }
    // Nothing piped in: said so, not "must be at least 8 characters".
    let out = env.run_with_stdin(
        &["user", "create", "--username", "bob", "--password-stdin"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no password on standard input"),
        "{}",
        stderr(&out)
    );
    // `purge --help` names everything it deletes.
    let help = env.ok(&["purge", "--help"]);
    for w in ["codes", "sessions", "audit events", "sign-in requests"] {
        assert!(help.contains(w), "{help}");
    }
}

/// Commands that only read do not create a database where there is none; names that
/// differ only in case, or hide formatting characters, are refused; a redirect URI must
/// name a host and a scheme that can return to an app.
#[test]
fn reading_commands_and_names_fail_closed() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let url = format!("sqlite://{}", missing.display());
    for args in [
        vec!["keys", "list"],
        vec!["client", "list"],
        vec!["user", "list"],
        vec!["audit", "list"],
    ] {
        let out = env
            .cmd(&args)
            .env("DATABASE_URL", &url)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    }
    assert!(!missing.exists(), "no database was created");

    let create = |name: &str| {
        env.run_with_stdin(
            &["user", "create", "--username", name, "--password-stdin"],
            "long enough pw\n",
        )
    };
    assert!(create("alice").status.success());
    for bad in ["ALICE", "ali\u{202e}ce", "al\u{200b}ice"] {
        let out = create(bad);
        assert!(!out.status.success(), "{bad:?}");
    }
    // Unicode's case, on every database: one account per name, whatever its case.
    for (first, second) in [("straße", "STRAẞE"), ("ǅx", "ǆx")] {
        assert!(create(first).status.success(), "{first}");
        let out = create(second);
        assert!(!out.status.success(), "{second} after {first}");
        assert!(stderr(&out).contains("taken"), "{}", stderr(&out));
    }
    // Display names are shown to people too: nothing that hides or reorders text.
    for name in [
        "Ada\u{202e}ecalevol",
        "Ada\u{200b}Lovelace",
        "Ada\u{1b}[2J",
        "Ada\u{ad}Lovelace",
        "Ada\u{e0041}",
    ] {
        let out = env.run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                "ada",
                "--name",
                name,
                "--password-stdin",
            ],
            "long enough pw\n",
        );
        assert!(!out.status.success(), "{name:?}");
        assert!(stderr(&out).contains("name: "), "{}", stderr(&out));
    }
    for uri in ["https:///cb", "ftp://example.com/cb", "file:///etc/passwd"] {
        let out = env.run(&["client", "create", "--name", "x", "--redirect-uri", uri]);
        assert!(!out.status.success(), "{uri}");
        assert!(!stderr(&out).contains("whitespace"), "{}", stderr(&out));
    }
}

/// `portcullis ... | head`: a reader that goes away ends the command quietly (the status
/// a shell gives SIGPIPE), not with a panic; without an issuer, `reset-link` says which
/// address its link names.
#[test]
fn a_closed_pipe_ends_a_command_quietly_and_reset_links_name_their_base() {
    let env = Env::new();
    let out = env.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "correct horse battery staple\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let mut child = env
        .cmd(&["user", "reset-link", "alice"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // Closed before the command has opened its database, let alone written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");

    let out = env.run(&["user", "reset-link", "alice"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("http://127.0.0.1:8080/reset?token=pcw_")
    );
    assert!(stderr(&out).contains("no issuer given"), "{}", stderr(&out));
    let out = env
        .cmd(&["user", "reset-link", "alice"])
        .env("PORTCULLIS_ISSUER", "https://id.example.com")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("https://id.example.com/reset?token=pcw_")
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}
