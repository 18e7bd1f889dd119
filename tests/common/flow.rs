//! The browser sign-in flow over plain HTTP, for tests that need user tokens.

use std::collections::HashMap;

use serde_json::Value;

use super::browser::Browser;
use super::{TestServer, location_params};

pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";

/// Sign `username` in with the browser flow and exchange the code. Returns the token
/// response body.
pub async fn sign_in(
    srv: &TestServer,
    client_id: &str,
    secret: Option<&str>,
    scope: &str,
    username: &str,
    password: &str,
) -> Value {
    sign_in_at(&srv.base, client_id, secret, scope, username, password).await
}

/// The same against any running instance.
pub async fn sign_in_at(
    base: &str,
    client_id: &str,
    secret: Option<&str>,
    scope: &str,
    username: &str,
    password: &str,
) -> Value {
    let browser = Browser::at(base);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    let page = browser.text(&format!("{base}/authorize?{query}")).await;
    let res = browser.login(&page, username, password).await;
    let res = if res.status() == 200 {
        let page = res.text().await.unwrap();
        browser.consent(&page, "allow").await
    } else {
        res
    };
    let (_, params): (String, HashMap<String, String>) = location_params(&res);
    let code = params.get("code").expect("a code").clone();
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.secret().clone()),
    ];
    let mut req = browser.http.post(format!("{base}/token"));
    match secret {
        Some(s) => req = req.basic_auth(client_id, Some(s)),
        None => form.push(("client_id", client_id.into())),
    }
    let res = req.form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200, "code exchange");
    res.json().await.unwrap()
}

/// Sign `username` in through /authorize (with `extra` parameters) and allow: returns
/// the code and the PKCE verifier, unexchanged.
#[allow(dead_code)]
pub async fn authorize(
    srv: &TestServer,
    client_id: &str,
    scope: &str,
    extra: &[(&str, &str)],
    username: &str,
    password: &str,
) -> (String, String) {
    let browser = Browser::at(&srv.base);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    let page = browser
        .text(&format!("{}/authorize?{}", srv.base, q.finish()))
        .await;
    let code = finish_sign_in(&browser, &page, username, password).await;
    (code, verifier.secret().clone())
}

/// From the sign-in page of an authorization request: sign in, allow if asked, and
/// return the code the redirect carries.
#[allow(dead_code)]
pub async fn finish_sign_in(
    browser: &Browser,
    page: &str,
    username: &str,
    password: &str,
) -> String {
    let res = browser.login(page, username, password).await;
    let res = if res.status() == 200 {
        let page = res.text().await.unwrap();
        browser.consent(&page, "allow").await
    } else {
        res
    };
    let (_, params): (String, HashMap<String, String>) = location_params(&res);
    params.get("code").expect("a code").clone()
}
