//! People in the browser: sign in with a password, turn on two-factor sign-in, create
//! personal tokens, as a cookie-keeping HTTP client.

use portcullis::mfa::totp;

use super::browser::Browser;
use super::{TestServer, create_user, field, http_client};

pub const PW: &str = "correct horse battery staple";

pub fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

pub struct Person {
    pub http: reqwest::Client,
    pub secret: Vec<u8>,
    pub recovery: Vec<String>,
}

pub async fn sign_in_password(
    srv: &TestServer,
    http: &reqwest::Client,
    user: &str,
) -> reqwest::Response {
    Browser::with(srv, http).sign_in(user, PW).await
}

pub async fn post_page(
    srv: &TestServer,
    http: &reqwest::Client,
    from: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let page = http
        .get(srv.url(from))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").expect("csrf on the page");
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(extra);
    http.post(srv.url(path)).form(&form).send().await.unwrap()
}

/// Sign in and turn on two-factor sign-in, reading the secret from the page.
pub async fn enrolled(srv: &TestServer, user: &str) -> Person {
    create_user(srv, user, PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(srv, &http, user).await.status(), 303);
    let res = post_page(
        srv,
        &http,
        "/account/security",
        "/account/security/enroll",
        &[],
    )
    .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("<svg"), "QR code rendered inline");
    let b32 = between(&page, "<code id=\"totp-secret\">", "</code>")
        .expect("secret shown")
        .to_string();
    let uri = super::unescape(
        between(&page, "<code id=\"otpauth-uri\" class=\"wrap\">", "</code>").unwrap(),
    );
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={b32}")));
    let secret = totp::from_base32(&b32).unwrap();

    // A wrong code does not finish the enrolment.
    let csrf = field(&page, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/confirm"))
        .form(&[("csrf", csrf.as_str()), ("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let code = totp::code_at(&secret, srv.clock_now());
    let res = http
        .post(srv.url("/account/security/confirm"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next().map(str::to_string))
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    // Each code of the app works once: move to the next time step for later use.
    srv.clock.advance(30);
    Person {
        http,
        secret,
        recovery: codes,
    }
}

impl Person {
    pub fn code(&self, srv: &TestServer) -> String {
        totp::code_at(&self.secret, srv.clock_now())
    }

    pub async fn create_token(
        &self,
        srv: &TestServer,
        name: &str,
        scopes: &[&str],
        expires: &str,
        ips: &str,
        code: &str,
    ) -> reqwest::Response {
        let page = self
            .http
            .get(srv.url("/account/tokens"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = field(&page, "csrf").unwrap();
        let mut form = vec![
            ("csrf".to_string(), csrf),
            ("name".to_string(), name.to_string()),
            ("expires".to_string(), expires.to_string()),
            ("allowed_ips".to_string(), ips.to_string()),
            ("code".to_string(), code.to_string()),
        ];
        for s in scopes {
            form.push((format!("scope.{s}"), "on".into()));
        }
        self.http
            .post(srv.url("/account/tokens"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn new_token(
        &self,
        srv: &TestServer,
        name: &str,
        scopes: &[&str],
        ips: &str,
    ) -> String {
        srv.clock.advance(30);
        let res = self
            .create_token(srv, name, scopes, "30", ips, &self.code(srv))
            .await;
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains("will not be shown again"));
        let token = between(&page, "readonly value=\"", "\"")
            .expect("token in a read-only field")
            .to_string();
        assert!(token.starts_with("pcp_"));
        token
    }
}
