//! A person with a software passkey (`webauthn-authenticator-rs`'s `SoftPasskey`),
//! driving the same forms and endpoints as our script does in a browser.
#![allow(dead_code)]

use serde_json::Value;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, AuthenticatorTransport, CreationChallengeResponse, RequestChallengeResponse,
};

use super::{TestServer, field, unescape};

/// An authenticator for the relying party at `origin` (the issuer's origin, whichever
/// instance the requests go to).
pub struct Authenticator {
    soft: SoftPasskey,
    origin: url::Url,
    /// The credential it created, and the user handle it was created for.
    pub credential: Option<(Vec<u8>, Vec<u8>)>,
}

impl Authenticator {
    pub fn new(origin: &str) -> Authenticator {
        Authenticator {
            // `true`: it claims user verification, as a passkey with a PIN would.
            soft: SoftPasskey::new(true),
            origin: url::Url::parse(origin).unwrap(),
            credential: None,
        }
    }

    /// Answer the creation options of the "Add a passkey" page: the credential, as JSON.
    pub fn create(&mut self, options: &str) -> String {
        let mut ccr: CreationChallengeResponse = serde_json::from_str(options).unwrap();
        let user = ccr.public_key.user.id.to_vec();
        // SoftPasskey cannot make discoverable credentials; the server asks for one but
        // (as WebAuthn lets it) checks nothing of it. Chromium's tests cover the real one.
        if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
            sel.resident_key = None;
        }
        let cred = self
            .soft
            .do_registration(self.origin.clone(), ccr)
            .expect("the soft passkey registers");
        self.credential = Some((cred.raw_id.to_vec(), user));
        serde_json::to_string(&cred).unwrap()
    }

    /// Answer request options (as `/passkeys/options` sends them): the assertion, as
    /// JSON. With no allowed credentials (a discoverable ceremony), it names its own and
    /// gives its user handle, as a discoverable credential does.
    pub fn get(&mut self, options: &Value) -> String {
        let mut rcr: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        let (id, user) = self.credential.clone().expect("a passkey was created");
        let discoverable = rcr.public_key.allow_credentials.is_empty();
        if discoverable {
            rcr.public_key.allow_credentials = vec![AllowCredentials {
                type_: "public-key".into(),
                id,
                transports: Some(vec![AuthenticatorTransport::Internal]),
            }];
        }
        let mut cred = self
            .soft
            .do_authentication(self.origin.clone(), rcr)
            .expect("the soft passkey signs");
        if discoverable {
            cred.response.user_handle = Some(user);
        }
        serde_json::to_string(&cred).unwrap()
    }
}

/// Add a passkey named `name` from the security page of the browser `http` (signed in
/// at `base`, recently enough): the final response.
pub async fn add(
    base: &str,
    http: &reqwest::Client,
    auth: &mut Authenticator,
    name: &str,
) -> reqwest::Response {
    let page = text(http, &format!("{base}/account/security")).await;
    let csrf = field(&page, "csrf").expect("csrf");
    let res = http
        .post(format!("{base}/account/security/passkeys/new"))
        .form(&[("csrf", csrf.as_str()), ("name", name)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the creation page");
    let page = res.text().await.unwrap();
    let (options, ceremony, csrf) = creation_page(&page);
    let credential = auth.create(&options);
    http.post(format!("{base}/account/security/passkeys"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("ceremony", ceremony.as_str()),
            ("name", name),
            ("credential", credential.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// The creation options, ceremony and CSRF token of the "Add a passkey" page.
pub fn creation_page(page: &str) -> (String, String, String) {
    let marker = "data-options=\"";
    let i = page.find(marker).expect("options on the page") + marker.len();
    let j = page[i..].find('"').unwrap() + i;
    let options = unescape(&page[i..j]);
    let ceremony = field(page, "ceremony").expect("ceremony");
    let csrf = field(page, "csrf").expect("csrf");
    (options, ceremony, csrf)
}

pub async fn text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Ask `base` for the options of a ceremony for `purpose`, with the CSRF token of
/// `page` (the page the script runs on): the JSON answer.
pub async fn options(
    base: &str,
    http: &reqwest::Client,
    page: &str,
    purpose: &str,
) -> reqwest::Response {
    let csrf = field(page, "csrf").expect("csrf on the page");
    http.post(format!("{base}/passkeys/options"))
        .form(&[("csrf", csrf.as_str()), ("purpose", purpose)])
        .send()
        .await
        .unwrap()
}

/// `options`, answered 200: its JSON.
pub async fn options_json(base: &str, http: &reqwest::Client, page: &str, purpose: &str) -> Value {
    let res = options(base, http, page, purpose).await;
    assert_eq!(res.status(), 200, "options for {purpose}");
    res.json().await.unwrap()
}

/// Post the answer `credential` for `ceremony` as the sign-in page's passkey form does.
pub async fn post_sign_in(
    base: &str,
    http: &reqwest::Client,
    page: &str,
    ceremony: &str,
    credential: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = field(page, "csrf").expect("csrf on the page");
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("ceremony", ceremony),
        ("credential", credential),
    ];
    form.extend_from_slice(extra);
    if let Some(t) = field(page, "txn") {
        let t: &'static str = Box::leak(t.into_boxed_str());
        form.push(("txn", t));
    }
    http.post(format!("{base}/login/passkey"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Sign in at `base` with the passkey, from the sign-in page `page` the browser `http`
/// shows: the final response.
pub async fn sign_in(
    base: &str,
    http: &reqwest::Client,
    page: &str,
    auth: &mut Authenticator,
) -> reqwest::Response {
    let o: Value = options(base, http, page, "sign_in")
        .await
        .json()
        .await
        .unwrap();
    let credential = auth.get(&o);
    let ceremony = o["ceremony"].as_str().unwrap().to_string();
    post_sign_in(base, http, page, &ceremony, &credential, &[]).await
}

/// The issuer at `http://localhost:PORT` (WebAuthn allows no IP address as a relying
/// party): a free port is found first, then the server binds it.
pub async fn spawn_at_localhost() -> TestServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    super::spawn_with(|a| {
        a.bind = Some(format!("127.0.0.1:{port}"));
        a.issuer = Some(format!("http://localhost:{port}"));
    })
    .await
}
