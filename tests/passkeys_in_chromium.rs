//! Passkeys in a real browser: headless Chromium with WebDriver's virtual authenticator
//! (a platform authenticator with discoverable credentials and user verification) adds
//! a passkey on the security page through our script; a second Chromium holding the same
//! credential (a synced passkey on another device) signs in with it without typing
//! anything, into an app whose ID token then says how; once removed, it signs nobody in.
//! The pages with the new controls pass axe-core and are photographed into
//! target/screenshots/passkey-*.png.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver, like tests/browser.rs.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use anyhow::{Result, ensure};
use common::TestServer;
use common::passkey::spawn_at_localhost;
use common::people::PW;
use portcullis::oauth::clients::ClientRequest;
use serde_json::json;
use webdriver::{ChromeDriver, browser_available};

/// A Chromium with a virtual authenticator: the browser and the authenticator's id.
async fn with_authenticator() -> Result<(ChromeDriver, String)> {
    let browser = ChromeDriver::start().await?;
    let id = browser.add_virtual_authenticator().await?;
    Ok((browser, id))
}

/// Wait until `browser`'s page has an element matching `css` whose text contains `text`.
async fn wait_for_text(browser: &ChromeDriver, css: &str, text: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = browser
            .execute(
                "const e = document.querySelector(arguments[0]); return e && e.textContent;",
                vec![json!(css)],
            )
            .await?;
        if got.as_str().is_some_and(|t| t.contains(text)) {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no {css} saying {text:?}; it says {got}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Sign in with the browser's passkey from the sign-in page, until `then` (a CSS
/// selector) shows. Chromium may use the passkey by itself through the username field's
/// autofill (conditional mediation: the virtual authenticator verifies its user without
/// asking); otherwise the button does it.
async fn use_passkey(browser: &ChromeDriver, then: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut clicked = false;
    loop {
        let state = browser
            .execute(
                "if (document.querySelector(arguments[0])) return 'done';
                 const b = document.querySelector('#passkey-sign-in:not([hidden]) #passkey-button');
                 return b && !b.disabled ? 'button' : 'wait';",
                vec![json!(then)],
            )
            .await?;
        match state.as_str() {
            Some("done") => return Ok(()),
            Some("button") if !clicked => {
                // The autofill may navigate away between the look and the click.
                if let Ok(button) = browser.find("#passkey-button").await {
                    clicked = browser.click(&button).await.is_ok();
                }
            }
            _ => {}
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no {then} after the passkey"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An app and the URL that starts its sign-in, with PKCE; the verifier to finish it.
fn app(srv: &TestServer) -> Result<(String, String, String, oauth2::PkceCodeVerifier)> {
    let redirect = format!("http://127.0.0.1:{}/callback", webdriver::free_port()?);
    let (client_id, _) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![redirect.clone()],
        scope: Some("openid".into()),
        public: true,
        ..Default::default()
    });
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s1&code_challenge={}&code_challenge_method=S256",
        srv.url("/authorize"),
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        challenge.as_str(),
    );
    Ok((client_id, redirect, url, verifier))
}

/// Exchange the code in `callback` (the URL the browser was sent to): the ID token's
/// claims.
async fn id_token_claims(
    srv: &TestServer,
    client_id: &str,
    redirect: &str,
    callback: &str,
    verifier: oauth2::PkceCodeVerifier,
) -> Result<serde_json::Value> {
    let url = url::Url::parse(callback)?;
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| anyhow::anyhow!("no code in {callback}"))?;
    let res = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", client_id),
                ("code_verifier", verifier.secret()),
            ],
        )
        .await;
    ensure!(res.status() == 200, "token: {}", res.status());
    let body: serde_json::Value = res.json().await?;
    Ok(common::jose::claims(
        body["id_token"].as_str().unwrap_or(""),
    ))
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_adds_a_passkey_and_another_device_signs_in_with_it() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn_at_localhost().await;
    // Two-factor sign-in on: a passkey must make the code unnecessary.
    let person = common::people::enrolled(&srv, "ada").await;

    // The first device: signs in with a password and a code, then adds a passkey.
    let (first, first_auth) = with_authenticator().await?;
    let (client_id, redirect, url, verifier) = app(&srv)?;
    first.navigate(&url).await?;
    first.sign_in("ada", PW).await?;
    srv.clock.advance(30);
    let code = first.wait_for("#code").await?;
    first.send_keys(&code, &person.code(&srv)).await?;
    let verify = first.find("form button[type=submit]").await?;
    first.click(&verify).await?;
    let allow = first.wait_for("button[name=decision][value=allow]").await?;
    first.click(&allow).await?;
    let callback = first.wait_for_url(&redirect).await?;
    let claims = id_token_claims(&srv, &client_id, &redirect, &callback, verifier).await?;
    ensure!(claims["amr"] == json!(["pwd", "otp", "mfa"]), "{claims}");
    ensure!(claims["acr"] == "urn:portcullis:acr:mfa", "{claims}");

    first.navigate(&srv.url("/account/security")).await?;
    // The form shows only once our script has found WebAuthn.
    let name = first
        .wait_for("#passkey-add:not([hidden]) #passkey-name")
        .await?;
    let mut blocking = first.check_page("passkey-security").await?;
    first.send_keys(&name, "Ada's laptop").await?;
    let add = first.find("#passkey-add button[type=submit]").await?;
    first.click(&add).await?;
    let create = first.wait_for("#passkey-button:not([hidden])").await?;
    blocking.extend(first.check_page("passkey-new").await?);
    first.click(&create).await?;
    wait_for_text(&first, "#passkey-status", "Passkey added.").await?;
    wait_for_text(&first, "#passkey-list", "Ada's laptop").await?;
    blocking.extend(first.check_page("passkey-security-listed").await?);
    let credentials = first.virtual_credentials(&first_auth).await?;
    ensure!(credentials.len() == 1, "{credentials:?}");
    ensure!(
        credentials[0]["isResidentCredential"] == true,
        "discoverable"
    );

    // The sign-in page with passkeys on, in a browser that holds none yet.
    let (third, third_auth) = with_authenticator().await?;
    third.navigate(&srv.url("/login")).await?;
    third
        .wait_for("#passkey-sign-in:not([hidden]) #passkey-button")
        .await?;
    blocking.extend(third.check_page("passkey-login").await?);

    // The second device holds the same passkey: signs in to the app without typing.
    let (second, second_auth) = with_authenticator().await?;
    second
        .add_virtual_credential(&second_auth, credentials[0].clone())
        .await?;
    let (client_id, redirect, url, verifier) = app(&srv)?;
    second.navigate(&url).await?;
    use_passkey(&second, "button[name=decision][value=allow]").await?;
    let allow = second.find("button[name=decision][value=allow]").await?;
    second.click(&allow).await?;
    let callback = second.wait_for_url(&redirect).await?;
    let claims = id_token_claims(&srv, &client_id, &redirect, &callback, verifier).await?;
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone())?;
    ensure!(!amr.iter().any(|m| m == "pwd"), "{amr:?}");
    ensure!(amr.iter().any(|m| m == "hwk" || m == "swk"), "{amr:?}");
    ensure!(claims["acr"] == "urn:portcullis:acr:phr", "{claims}");

    // Removed on the first device, the passkey signs nobody in on the third.
    first.navigate(&srv.url("/account/security")).await?;
    let remove = first.wait_for("#passkey-list form button").await?;
    first.click(&remove).await?;
    wait_for_text(&first, "#passkey-status", "removed").await?;
    third
        .add_virtual_credential(&third_auth, credentials[0].clone())
        .await?;
    third.navigate(&srv.url("/login")).await?;
    use_passkey(&third, "#login-error").await?;
    wait_for_text(&third, "#login-error", "That passkey did not work").await?;
    ensure!(third.current_url().await?.starts_with(&srv.url("/login")));
    blocking.extend(third.check_page("passkey-login-refused").await?);

    ensure!(blocking.is_empty(), "accessibility: {blocking:#?}");
    first.quit().await?;
    second.quit().await?;
    third.quit().await?;
    Ok(())
}
