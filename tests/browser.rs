//! A real browser through the sign-in pages: headless Chromium, driven over WebDriver,
//! signs in, allows the consent and is sent to the client's redirect URI with a code
//! that the `oauth2` crate exchanges for a token. It catches what the HTTP-level tests in
//! authorization_code.rs cannot: forms a browser submits differently, cookies
//! it will not send back, a CSP that blocks the form or the redirect after it.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: chromium, chromium-driver).
//! Without them the tests are built as ignored (`cargo test` lists them as such, with
//! the reason; see build.rs), unless PORTCULLIS_REQUIRE_BROWSER=1, as in CI, makes a
//! missing browser a failure.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow};
use common::{TestServer, create_user, spawn};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use portcullis::oauth::clients::ClientRequest;
use webdriver::{ChromeDriver, browser_available, screenshots_dir};

const CLIENT_NAME: &str = "Photo Printer";
const PASSWORD: &str = "correct horse battery staple";
const SCOPES: [&str; 2] = ["openid", "profile"];

/// A client with the authorization and token endpoints set.
type AppClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Register a confidential client for `redirect` and build its `oauth2` client.
fn register_app(srv: &TestServer, redirect: &str) -> Result<AppClient> {
    let (id, secret) = srv.register(ClientRequest {
        name: CLIENT_NAME.into(),
        redirect_uris: vec![redirect.into()],
        scope: Some(SCOPES.join(" ")),
        ..Default::default()
    });
    let secret = secret.context("a confidential client has a secret")?;
    Ok(BasicClient::new(ClientId::new(id))
        .set_client_secret(ClientSecret::new(secret))
        .set_auth_uri(AuthUrl::new(srv.url("/authorize"))?)
        .set_token_uri(TokenUrl::new(srv.url("/token"))?)
        .set_redirect_uri(RedirectUrl::new(redirect.into())?))
}

struct Started {
    url: String,
    state: String,
    verifier: PkceCodeVerifier,
}

/// The authorization request, as authorization_code.rs builds it: PKCE S256 and a state.
fn start(app: &AppClient) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = app
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_scopes(SCOPES.map(|s| Scope::new(s.into())))
        .url();
    Started {
        url: url.to_string(),
        state: state.secret().clone(),
        verifier,
    }
}

fn query_params(url: &str) -> Result<HashMap<String, String>> {
    let url = url::Url::parse(url).with_context(|| format!("parse {url}"))?;
    Ok(url.query_pairs().into_owned().collect())
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_signs_in_allows_and_reaches_the_redirect_uri_with_a_working_code() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    let user_id = create_user(&srv, "alice", PASSWORD, None);
    // Nothing listens on the callback port: Chromium fails to load the page, but the URL
    // it was sent to is all the test needs, and no one else can take the code.
    let redirect = format!("http://127.0.0.1:{}/callback", webdriver::free_port()?);
    let app = register_app(&srv, &redirect)?;
    let started = start(&app);
    let shots = screenshots_dir()?;
    let browser = ChromeDriver::start().await?;

    browser.navigate(&started.url).await?;
    browser.wait_for("input[name=password]").await?;
    browser.screenshot(&shots.join("login.png")).await?;
    browser.sign_in("alice", PASSWORD).await?;

    let allow = browser
        .wait_for("button[name=decision][value=allow]")
        .await
        .context("the consent page after signing in")?;
    let page = browser.source().await?;
    assert!(page.contains(CLIENT_NAME), "consent names the client");
    for scope in SCOPES {
        assert!(
            page.contains(&format!("<code>{scope}</code>")),
            "consent shows scope {scope}"
        );
    }
    browser.screenshot(&shots.join("consent.png")).await?;
    browser.click(&allow).await?;

    let landed = browser.wait_for_url(&redirect).await?;
    browser.quit().await?;
    let params = query_params(&landed)?;
    assert_eq!(params.get("state"), Some(&started.state), "{landed}");
    assert_eq!(params.get("iss"), Some(&srv.base), "RFC 9207: {landed}");
    let code = params.get("code").context("a code in the callback")?;

    let token = app
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(started.verifier)
        .request_async(&srv.http)
        .await
        .map_err(|e| anyhow!("code exchange: {e:?}"))?;
    let claims = srv
        .verify(token.access_token().secret(), &srv.base)
        .await
        .map_err(|e| anyhow!("access token does not verify: {e}"))?;
    assert_eq!(claims["sub"], user_id.as_str());
    srv.stop().await;
    Ok(())
}

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_turns_on_two_factor_and_creates_a_token_shown_once() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let shots = screenshots_dir()?;
    let browser = ChromeDriver::start().await?;

    browser.navigate(&srv.url("/login")).await?;
    browser.wait_for("input[name=password]").await?;
    browser.sign_in("alice", PASSWORD).await?;
    browser.wait_for_url(&srv.url("/account")).await?;

    // Without two-factor sign-in the token form is not offered, and the page says why.
    browser.navigate(&srv.url("/account/tokens")).await?;
    browser.wait_for("a[href='/account/security']").await?;
    assert!(!browser.source().await?.contains("name=\"code\""));

    // Enrolment, scan-free: the key is on the page as text beside the QR code.
    browser.navigate(&srv.url("/account/security")).await?;
    let setup = browser
        .wait_for("form[action='/account/security/enroll'] button")
        .await?;
    browser.click(&setup).await?;
    browser.wait_for("#totp-secret").await?;
    let page = browser.source().await?;
    assert!(page.contains("<svg"), "a QR code rendered on the page");
    let b32 = between(&page, "<code id=\"totp-secret\">", "</code>")
        .context("the base32 key on the page")?;
    let secret = portcullis::mfa::totp::from_base32(b32).context("a base32 key")?;
    browser
        .screenshot(&shots.join("two_factor_setup.png"))
        .await?;
    let code = portcullis::mfa::totp::code_at(&secret, srv.clock_now());
    let field = browser.find("#code").await?;
    browser.send_keys(&field, &code).await?;
    let turn_on = browser
        .find("form[action='/account/security/confirm'] button")
        .await?;
    browser.click(&turn_on).await?;
    browser.wait_for("#recovery-codes").await?;
    let page = browser.source().await?;
    assert_eq!(page.matches("<li><code>").count(), 10, "ten recovery codes");
    browser
        .screenshot(&shots.join("recovery_codes.png"))
        .await?;

    // The code just used is spent: the token form needs the next one.
    srv.clock.advance(30);
    browser.navigate(&srv.url("/account/tokens")).await?;
    let name = browser.wait_for("#name").await?;
    browser.send_keys(&name, "nightly backup").await?;
    let read = browser.find("input[name='scope.api:read']").await?;
    browser.click(&read).await?;
    let ips = browser.find("#allowed_ips").await?;
    browser.send_keys(&ips, "127.0.0.1\n10.0.0.0/8").await?;
    let code = portcullis::mfa::totp::code_at(&secret, srv.clock_now());
    let field = browser.find("#code").await?;
    browser.send_keys(&field, &code).await?;
    browser.screenshot(&shots.join("token_form.png")).await?;
    let create = browser
        .find("form[action='/account/tokens'] button[type=submit]")
        .await?;
    browser.click(&create).await?;

    browser.wait_for("#new-token").await?;
    let page = browser.source().await?;
    assert!(page.contains("will not be shown again"));
    let token = format!(
        "pcp_{}",
        between(&page, "value=\"pcp_", "\"").context("the token in a read-only field")?
    );
    assert!(token.len() > 40, "a whole token: {token}");
    browser.screenshot(&shots.join("token_created.png")).await?;

    // The list shows the token by name and never the token itself.
    browser.navigate(&srv.url("/account/tokens")).await?;
    browser
        .wait_for("form[action='/account/tokens/revoke']")
        .await?;
    let page = browser.source().await?;
    assert!(page.contains("nightly backup") && !page.contains(&token));
    browser.screenshot(&shots.join("tokens_list.png")).await?;
    browser.quit().await?;

    // A resource server accepts it from an allowed address, refuses it from another.
    let rs = srv.service_client("introspect");
    for (ip, active) in [("10.1.2.3", true), ("192.0.2.7", false)] {
        let res = srv
            .post_form(
                "/introspect",
                Some((&rs.0, &rs.1)),
                &[("token", token.as_str()), ("client_ip", ip)],
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await?;
        assert_eq!(body["active"], active, "from {ip}: {body}");
        if active {
            assert_eq!(body["scope"], "api:read");
        }
    }
    srv.stop().await;
    Ok(())
}
