//! The account pages in a real browser: headless Chromium follows the navigation on
//! every page, changes a password, ends other sessions from the sessions list and uses an
//! operator's reset link, with a second Chromium as "the other browser" that must end up
//! signed out. Every page is checked by axe-core (no serious or critical violation) at a
//! desktop width and a phone width, in light and dark mode, and photographed into
//! target/screenshots/account-*.png.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver, like tests/browser.rs.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use anyhow::{Context, Result, bail, ensure};
use common::{TestServer, create_user, spawn};
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};
use webdriver::{ChromeDriver, browser_available};

/// The same as `common::people::PW`, which `enrolled` gives its people.
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "violet tundra spoon orchestra";
const WEAK_PASSWORD: &str = "password1";

/// The account pages: path, the link marked in the navigation (the sessions list sits
/// under Security), the screenshot's name.
const PAGES: [(&str, &str, &str); 5] = [
    ("/account", "Connected apps", "apps"),
    ("/account/security", "Security", "security"),
    ("/account/security/sessions", "Security", "sessions"),
    ("/account/tokens", "API tokens", "tokens"),
    ("/account/activity", "Activity", "activity"),
];

/// `document.querySelector(css)`'s text, or null.
async fn text_of(browser: &ChromeDriver, css: &str) -> Result<Value> {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]); return e && e.textContent.trim();",
            vec![json!(css)],
        )
        .await
}

/// Open `/login` in a new Chromium and sign in; waits for the account page.
async fn signed_in_browser(
    srv: &TestServer,
    username: &str,
    password: &str,
) -> Result<ChromeDriver> {
    let browser = ChromeDriver::start().await?;
    browser.navigate(&srv.url("/login")).await?;
    browser.sign_in(username, password).await?;
    browser.wait_for_url(&srv.url("/account")).await?;
    Ok(browser)
}

/// Whether `browser` is signed out: the account page sends it to sign in.
/// Poll `check` until it holds, for at most the driver's wait: a click starts a form
/// post that the next command must not overtake (a `wait_for` can still find the old
/// page's element, and a navigation would cancel the post).
async fn eventually<F, Fut>(mut check: F) -> Result<bool>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if check().await? {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn is_signed_out(srv: &TestServer, browser: &ChromeDriver) -> Result<bool> {
    browser.navigate(&srv.url("/account")).await?;
    Ok(browser.current_url().await?.starts_with(&srv.url("/login")))
}

/// The layout every account page shares: who is signed in, the four links with the
/// current one marked, and a way out.
async fn check_layout(browser: &ChromeDriver, path: &str, current: &str) -> Result<()> {
    let who = text_of(browser, ".topbar .who").await?;
    ensure!(who == "Signed in as ada Example", "{path}: {who}");
    let links = browser
        .execute(
            "return [...document.querySelectorAll('nav[aria-label=Account] a')].map(a => a.getAttribute('href'));",
            vec![],
        )
        .await?;
    ensure!(
        links
            == json!([
                "/account",
                "/account/security",
                "/account/tokens",
                "/account/activity"
            ]),
        "{path}: navigation {links}"
    );
    let marked = text_of(browser, "nav a[aria-current=page]").await?;
    ensure!(marked == current, "{path}: marked {marked}, not {current}");
    browser
        .find("form[action='/logout'] button[type=submit]")
        .await
        .with_context(|| format!("{path}: a Sign out button"))?;
    Ok(())
}

/// Tab through the whole page as a keyboard user: every element that takes the focus
/// shows it, with an outline at least 2 px wide (WCAG 2.4.7, and 2.4.13's thickness).
/// Returns the elements that do not, described for the failure message.
async fn check_focus_visible(browser: &ChromeDriver, name: &str) -> Result<Vec<String>> {
    const FOCUSED: &str = "const e = document.activeElement;
        if (!e || e === document.body) return null;
        const s = getComputedStyle(e);
        const what = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '')
            + ' ' + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40);
        return [what, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];";
    let mut faults = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..80 {
        browser.press_tab().await?;
        let focused = browser.execute(FOCUSED, vec![]).await?;
        let Some(what) = focused[0].as_str() else {
            continue;
        };
        if seen.first().is_some_and(|first| first == what) {
            break;
        }
        seen.push(what.to_string());
        if focused[1] != true {
            faults.push(format!("{name}: no visible focus on {what}"));
        }
    }
    ensure!(seen.len() >= 3, "{name}: the Tab key reached only {seen:?}");
    Ok(faults)
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn every_account_page_has_one_navigation_and_passes_the_accessibility_check() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    // With two-factor sign-in on, so the security page has its two-factor forms and the
    // tokens page its form (the password is the same PASSWORD).
    let person = common::people::enrolled(&srv, "ada").await;
    // One connected app, so its page shows an entry with its scopes.
    let redirect = format!("http://127.0.0.1:{}/callback", webdriver::free_port()?);
    let (client_id, _) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![redirect.clone()],
        scope: Some("openid profile email".into()),
        ..Default::default()
    });
    let (challenge, _verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let authorize = format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email&state=s1&code_challenge={}&code_challenge_method=S256",
        srv.url("/authorize"),
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        challenge.as_str(),
    );
    let browser = ChromeDriver::start().await?;
    browser.navigate(&authorize).await?;
    browser.sign_in("ada", PASSWORD).await?;
    // The code used to enrol is spent: the second step takes the next one.
    srv.clock.advance(30);
    let field = browser.wait_for("#code").await?;
    let mut blocking = browser.check_page("account-second-step").await?;
    browser.send_keys(&field, &person.code(&srv)).await?;
    let verify = browser.find("form button[type=submit]").await?;
    browser.click(&verify).await?;
    let allow = browser
        .wait_for("button[name=decision][value=allow]")
        .await?;
    blocking.extend(browser.check_page("account-consent").await?);
    browser.click(&allow).await?;
    browser.wait_for_url(&redirect).await?;

    // Every page: the layout, then axe-core and the screenshots.
    for (path, current, name) in PAGES {
        browser.navigate(&srv.url(path)).await?;
        browser.wait_for("nav[aria-label=Account]").await?;
        check_layout(&browser, path, current).await?;
        blocking.extend(browser.check_page(&format!("account-{name}")).await?);
        blocking.extend(check_focus_visible(&browser, name).await?);
    }
    // Someone who lands on the first page finds every other one by following links.
    browser.navigate(&srv.url("/account")).await?;
    for (link, lands) in [
        ("/account/security", "/account/security"),
        ("/account/security/sessions", "/account/security/sessions"),
        ("/account/tokens", "/account/tokens"),
        ("/account/activity", "/account/activity"),
        ("/account", "/account"),
    ] {
        let a = browser.wait_for(&format!("a[href='{link}']")).await?;
        browser.click(&a).await?;
        let at = browser.wait_for_url(&srv.url(lands)).await?;
        ensure!(at == srv.url(lands), "{link} led to {at}");
    }
    let page = browser.source().await?;
    ensure!(
        page.contains("Photo Printer"),
        "the connected app is listed"
    );

    // Sign out from the bar: the account pages then ask who you are.
    let out = browser
        .find("form[action='/logout'] button[type=submit]")
        .await?;
    browser.click(&out).await?;
    // The post answers the signed-out page at its own URL.
    browser.wait_for_url(&srv.url("/logout")).await?;
    ensure!(
        is_signed_out(&srv, &browser).await?,
        "signed out by the bar"
    );
    blocking.extend(browser.check_page("account-login").await?);
    browser.quit().await?;
    srv.stop().await;
    if !blocking.is_empty() {
        bail!("accessibility:\n{}", blocking.join("\n"));
    }
    Ok(())
}

/// Type `fields` (CSS selector, text) into the form whose action is `action`, and send it.
async fn fill_and_send(
    browser: &ChromeDriver,
    action: &str,
    fields: &[(&str, &str)],
) -> Result<()> {
    for (css, value) in fields {
        let field = browser.wait_for(css).await?;
        browser.send_keys(&field, value).await?;
    }
    let send = browser
        .find(&format!("form[action='{action}'] button[type=submit]"))
        .await?;
    browser.click(&send).await
}

/// Fill in the password form on the security page and send it.
async fn change_password(browser: &ChromeDriver, current: &str, new: &str) -> Result<()> {
    let fields = [
        ("#current-password", current),
        ("#new-password", new),
        ("#new-password-again", new),
    ];
    fill_and_send(browser, "/account/security/password", &fields).await
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_changes_a_password_and_the_other_browser_is_signed_out() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let here = signed_in_browser(&srv, "ada", PASSWORD).await?;
    let elsewhere = signed_in_browser(&srv, "ada", PASSWORD).await?;

    // Too weak: refused with the reason, tied to the new-password field.
    here.navigate(&srv.url("/account/security")).await?;
    change_password(&here, PASSWORD, WEAK_PASSWORD).await?;
    here.wait_for(".alert").await?;
    let alert = text_of(&here, ".alert").await?;
    ensure!(
        alert.as_str().unwrap_or("").contains("not strong enough"),
        "{alert}"
    );
    let described = here
        .execute(
            "const f = document.getElementById('new-password'); return [f.getAttribute('aria-invalid'), f.getAttribute('aria-describedby')];",
            vec![],
        )
        .await?;
    ensure!(described[0] == "true", "aria-invalid: {described}");
    let ids = described[1].as_str().unwrap_or("");
    let error_id = here
        .execute("return document.querySelector('.alert').id;", vec![])
        .await?;
    ensure!(
        ids.split(' ').any(|id| json!(id) == error_id),
        "the error is tied to the field: {described} / {error_id}"
    );
    let blocking = here.check_page("account-password-refused").await?;
    ensure!(blocking.is_empty(), "{}", blocking.join("\n"));
    ensure!(
        !is_signed_out(&srv, &elsewhere).await?,
        "a refused change ends nothing"
    );

    // Strong, with "sign out everywhere else" left on (its default).
    here.navigate(&srv.url("/account/security")).await?;
    let others = here
        .execute(
            "return document.querySelector('input[name=sign_out_others]').checked;",
            vec![],
        )
        .await?;
    ensure!(others == true, "signing out elsewhere is on by default");
    change_password(&here, PASSWORD, NEW_PASSWORD).await?;
    here.wait_for(".notice").await?;
    let notice = text_of(&here, ".notice").await?;
    ensure!(
        notice
            .as_str()
            .unwrap_or("")
            .contains("Your password is changed."),
        "{notice}"
    );
    ensure!(
        is_signed_out(&srv, &elsewhere).await?,
        "the other browser is signed out"
    );
    ensure!(
        !is_signed_out(&srv, &here).await?,
        "this browser stays signed in"
    );
    // The old password no longer signs in; the new one does.
    elsewhere.sign_in("ada", PASSWORD).await?;
    elsewhere.wait_for(".alert").await?;
    ensure!(
        elsewhere
            .current_url()
            .await?
            .starts_with(&srv.url("/login"))
    );
    elsewhere.navigate(&srv.url("/login")).await?;
    elsewhere.sign_in("ada", NEW_PASSWORD).await?;
    elsewhere.wait_for_url(&srv.url("/account")).await?;
    here.quit().await?;
    elsewhere.quit().await?;
    srv.stop().await;
    Ok(())
}

/// The entries of the sessions list: (what, is this browser).
async fn listed_sessions(browser: &ChromeDriver) -> Result<Value> {
    browser
        .execute(
            "return [...document.querySelectorAll('ul.apps li')].map(li => [li.querySelector('strong').textContent, !!li.querySelector('.badge')]);",
            vec![],
        )
        .await
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_lists_its_sessions_and_signs_out_the_others() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let here = signed_in_browser(&srv, "ada", PASSWORD).await?;
    let elsewhere = signed_in_browser(&srv, "ada", PASSWORD).await?;

    here.navigate(&srv.url("/account/security")).await?;
    let link = here
        .wait_for("a[href='/account/security/sessions']")
        .await?;
    here.click(&link).await?;
    here.wait_for("ul.apps li").await?;
    let listed = listed_sessions(&here).await?;
    let entries = listed.as_array().context("a list")?;
    ensure!(entries.len() == 2, "two browsers: {listed}");
    ensure!(
        entries.iter().filter(|e| e[1] == true).count() == 1,
        "this browser marked once: {listed}"
    );
    // Headless Chromium on Linux, read from its user agent.
    ensure!(
        entries
            .iter()
            .all(|e| e[0].as_str().unwrap_or("").contains("Chrom")),
        "browser named: {listed}"
    );

    // One other session, ended with its own button.
    let other = here
        .find("form[action='/account/security/sessions/end'] button:not([aria-label$='(this browser)'])")
        .await?;
    here.click(&other).await?;
    ensure!(
        eventually(|| is_signed_out(&srv, &elsewhere)).await?,
        "its own Sign out ends the other browser"
    );
    here.wait_for("ul.apps li").await?;

    // Signed in again there: "Sign out everywhere else" ends it too, not this one.
    elsewhere.sign_in("ada", PASSWORD).await?;
    elsewhere.wait_for_url(&srv.url("/account")).await?;
    here.navigate(&srv.url("/account/security/sessions"))
        .await?;
    here.wait_for("ul.apps li").await?;
    ensure!(listed_sessions(&here).await?.as_array().map(Vec::len) == Some(2));
    let everywhere = here
        .find("form[action='/account/security/sessions/end-others'] button")
        .await?;
    here.click(&everywhere).await?;
    let only_this_one = || async {
        here.wait_for("ul.apps li").await?;
        let listed = listed_sessions(&here).await?;
        Ok(listed == json!([[listed[0][0], true]]))
    };
    ensure!(
        eventually(only_this_one).await?,
        "only this one: {}",
        listed_sessions(&here).await?
    );
    ensure!(
        is_signed_out(&srv, &elsewhere).await?,
        "the other browser is signed out"
    );
    ensure!(!is_signed_out(&srv, &here).await?, "this one is not");
    here.quit().await?;
    elsewhere.quit().await?;
    srv.stop().await;
    Ok(())
}

/// `portcullis user reset-link ada --json [extra...]`: the link (on the test server)
/// and when it expires.
fn reset_link(srv: &TestServer, extra: &[&str]) -> Result<(String, i64)> {
    let mut args = vec!["user", "reset-link", "ada", "--json"];
    args.extend_from_slice(extra);
    let out = srv.cli(&args);
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link: Value = serde_json::from_slice(&out.stdout)?;
    let url = link["url"].as_str().context("url")?;
    let (_, query) = url.split_once("/reset").context("a /reset link")?;
    let expires_at = link["expires_at"]
        .as_i64()
        .context("expires_at, a Unix time")?;
    Ok((srv.url(&format!("/reset{query}")), expires_at))
}

/// Fill in the reset form and send it.
async fn set_password(browser: &ChromeDriver, new: &str) -> Result<()> {
    let fields = [("#new-password", new), ("#new-password-again", new)];
    fill_and_send(browser, "/reset", &fields).await
}

#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn chromium_uses_a_reset_link_once_and_an_expired_one_not_at_all() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let signed_in = signed_in_browser(&srv, "ada", PASSWORD).await?;
    let (url, _) = reset_link(&srv, &[])?;

    let person = ChromeDriver::start().await?;
    person.navigate(&url).await?;
    person.wait_for("#new-password").await?;
    let mut blocking = person.check_page("account-reset").await?;
    set_password(&person, WEAK_PASSWORD).await?;
    person.wait_for(".alert").await?;
    let alert = text_of(&person, ".alert").await?;
    ensure!(
        alert.as_str().unwrap_or("").contains("not strong enough"),
        "{alert}"
    );
    blocking.extend(person.check_page("account-reset-refused").await?);
    // Refused, the link still works; a strong password is set.
    set_password(&person, NEW_PASSWORD).await?;
    let done = person.wait_for("a[href='/login']").await?;
    let title = text_of(&person, "h1").await?;
    ensure!(title == "Your password is set", "{title}");
    ensure!(
        is_signed_out(&srv, &signed_in).await?,
        "the browser that was signed in is signed out"
    );
    // The link's page leads to sign-in, where the new password works.
    person.click(&done).await?;
    person.sign_in("ada", NEW_PASSWORD).await?;
    person.wait_for_url(&srv.url("/account")).await?;

    // Used once: opening it again shows that it does not work.
    person.navigate(&url).await?;
    person.wait_for("h1").await?;
    let title = text_of(&person, "h1").await?;
    ensure!(title == "This link does not work", "reused: {title}");
    ensure!(
        person.find("#new-password").await.is_err(),
        "no form on a used link"
    );
    blocking.extend(person.check_page("account-reset-used").await?);

    // A one-minute link works until its minute is over, then not at all. (The CLI
    // stamps it by the system clock; the server's clock is the test's, moved to just
    // before and just after.)
    let (url, expires_at) = reset_link(&srv, &["--expires-in", "60"])?;
    srv.clock.advance(expires_at - 1 - srv.clock_now());
    person.navigate(&url).await?;
    person.wait_for("#new-password").await?;
    srv.clock.advance(2);
    person.navigate(&url).await?;
    person.wait_for("h1").await?;
    let title = text_of(&person, "h1").await?;
    ensure!(title == "This link does not work", "expired: {title}");
    person.quit().await?;
    signed_in.quit().await?;
    srv.stop().await;
    if !blocking.is_empty() {
        bail!("accessibility:\n{}", blocking.join("\n"));
    }
    Ok(())
}

/// The check itself can fail: a field without a label and grey-on-white text put into
/// the sign-in page are reported as serious or critical.
#[actix_web::test]
#[cfg_attr(
    not(browser_tests),
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
)]
async fn the_accessibility_check_fails_a_page_that_breaks_the_rules() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let srv = spawn().await;
    let browser = ChromeDriver::start().await?;
    browser.navigate(&srv.url("/login")).await?;
    browser.wait_for("input[name=password]").await?;
    let clean = browser.accessibility_violations().await?;
    ensure!(
        !clean.iter().any(|v| v.is_blocking()),
        "the sign-in page as served: {clean:?}"
    );
    browser
        .execute(
            "const f = document.querySelector('form');
             f.insertAdjacentHTML('beforeend', '<input type=text name=nickname>');
             const p = document.createElement('p');
             p.textContent = 'fine print';
             // Through the CSSOM: the page's CSP refuses style attributes.
             p.style.color = '#bbb';
             p.style.background = '#fff';
             f.append(p);
             return true;",
            vec![],
        )
        .await?;
    let found = browser.accessibility_violations().await?;
    let blocking: Vec<&str> = found
        .iter()
        .filter(|v| v.is_blocking())
        .map(|v| v.id.as_str())
        .collect();
    ensure!(
        blocking.contains(&"label") && blocking.contains(&"color-contrast"),
        "{found:?}"
    );
    browser.quit().await?;
    srv.stop().await;
    Ok(())
}
