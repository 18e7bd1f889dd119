//! Log lines as an operator's pipeline reads them: `--log-format json` writes one JSON
//! object per line, and the lines of a request carry its `X-Request-Id`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use common::TestDb;

#[actix_web::test]
async fn json_log_lines_carry_the_request_id() {
    let db = TestDb::new();
    let keys = common::keys_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .env("DATABASE_URL", &db.url)
        .env("PORTCULLIS_KEYS_DIR", keys.path())
        .env_remove("PORTCULLIS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The serving line names the address.
    let addr = loop {
        let line = lines.next().expect("a log line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect(&line);
        for k in ["timestamp", "level", "target", "message"] {
            assert!(v.get(k).is_some(), "{k} in {line}");
        }
        if v["message"] == "portcullis is serving" {
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    // A failed sign-in writes an audit event inside the request.
    let http = common::http_client();
    let page = http
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = http
        .post(format!("http://{addr}/login"))
        .form(&[
            ("csrf", common::field(&page, "csrf").unwrap().as_str()),
            ("username", "nobody"),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let event = loop {
        let line = lines.next().expect("the audit line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect(&line);
        if v["target"] == "audit" {
            break v;
        }
    };
    assert_eq!(event["request_id"], id.as_str());
    assert_eq!(event["kind"], "signin.failure");

    // A request actix cannot parse (a URI over its limit) is the client's fault: a 400,
    // and no ERROR line, which anyone could otherwise write at will. The next request's
    // audit line is the first line after it.
    // Over a plain socket: HTTP client libraries refuse to send such a URI.
    let mut raw = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        raw,
        "GET /reset?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        "A".repeat(70_000)
    )
    .unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{:.80}", answer);
    http.post(format!("http://{addr}/login"))
        .form(&[
            ("csrf", common::field(&page, "csrf").unwrap().as_str()),
            ("username", "nobody"),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    let next = lines.next().expect("a log line").unwrap();
    let v: serde_json::Value = serde_json::from_str(&next).expect(&next);
    assert_eq!(v["target"], "audit", "{next}");
    let _ = child.kill();
    let _ = child.wait();
}
