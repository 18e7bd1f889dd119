//! A minimal W3C WebDriver client over `reqwest`: a chromedriver child process driving a
//! headless Chromium, with only the commands the browser test needs.

// Each browser test binary uses its own part of this client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long to wait for chromedriver to come up, an element to appear or a URL to be
/// reached. Generous: CI machines are small and often busy compiling.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// Starting Chromium is part of the new-session command and can take a while.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Flags that keep Chromium headless and off the network: without them it phones home
/// (updates, sync, field trials), which fails or hangs on machines without internet.
/// The widths pages are checked and photographed at: a laptop and a small phone.
const WIDTHS: [u32; 2] = [1100, 375];

const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Tall enough that the screenshots show the whole consent form, buttons included.
    "--window-size=1024,900",
];

/// A port nothing listens on right now: bind to port 0, note the port, let it go.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind a free port")?;
    Ok(listener.local_addr()?.port())
}

/// An element reference returned by Find Element.
pub struct Element(String);

/// A running chromedriver with one open session. Dropping it ends the session and kills
/// chromedriver, also when the test panics.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    http: reqwest::Client,
    session: Option<String>,
    // Chromium's profile, config and cache; removed after Chromium has quit (fields drop
    // after `Drop::drop` has run).
    home: tempfile::TempDir,
}

impl ChromeDriver {
    /// Start chromedriver on a free port and open a session with a fresh headless Chromium.
    pub async fn start() -> Result<ChromeDriver> {
        let port = free_port()?;
        let home = tempfile::tempdir().context("tempdir for Chromium")?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Chromium otherwise writes crash reports and dconf state under $HOME.
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {CHROMEDRIVER}"))?;
        // From here on the guard owns the child, so any error below still kills it.
        let mut driver = ChromeDriver {
            child,
            port,
            http: reqwest::Client::builder()
                .timeout(COMMAND_TIMEOUT)
                .build()?,
            session: None,
            home,
        };
        driver.wait_until_ready().await?;
        driver.new_session().await?;
        Ok(driver)
    }

    async fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("chromedriver exited at start: {status}");
            }
            // Connection refused until it listens; `ready` is false while it starts.
            if let Ok(status) = self.call(Method::GET, "/status", None).await
                && status["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "chromedriver not ready on port {} after {WAIT:?}",
                    self.port
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn new_session(&mut self) -> Result<()> {
        let profile = self.home.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        // A fresh profile: no state from earlier runs, no first-run network traffic.
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let value = self
            .call(Method::POST, "/session", Some(capabilities))
            .await
            .context("start Chromium")?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("new session answered without sessionId: {value}"))?;
        self.session = Some(id.to_string());
        Ok(())
    }

    /// Load `url` and wait for the page to finish loading.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        self.session_call(Method::POST, "/url", Some(json!({ "url": url })))
            .await?;
        Ok(())
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .session_call(Method::POST, "/element", Some(body))
            .await
            .with_context(|| format!("find {css}"))?;
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| anyhow!("find {css}: no element reference in {value}"))?;
        Ok(Element(id.to_string()))
    }

    /// Find an element, retrying until the page that has it has loaded.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(e) if Instant::now() >= deadline => {
                    let at = self.current_url().await.unwrap_or_default();
                    return Err(e.context(format!("waited {WAIT:?} on {at}")));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    pub async fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        let path = format!("/element/{}/value", element.0);
        self.session_call(Method::POST, &path, Some(json!({ "text": text })))
            .await?;
        Ok(())
    }

    pub async fn click(&self, element: &Element) -> Result<()> {
        let path = format!("/element/{}/click", element.0);
        self.session_call(Method::POST, &path, Some(json!({})))
            .await?;
        Ok(())
    }

    pub async fn current_url(&self) -> Result<String> {
        let value = self.session_call(Method::GET, "/url", None).await?;
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("current URL is not a string: {value}"))
    }

    /// Wait until the browser's URL starts with `prefix`; returns the whole URL.
    pub async fn wait_for_url(&self, prefix: &str) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.current_url().await?;
            if url.starts_with(prefix) {
                return Ok(url);
            }
            if Instant::now() >= deadline {
                bail!("after {WAIT:?} the browser is at {url}, not {prefix}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current DOM serialised as HTML.
    pub async fn source(&self) -> Result<String> {
        let value = self.session_call(Method::GET, "/source", None).await?;
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("page source is not a string"))
    }

    /// Save a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let value = self.session_call(Method::GET, "/screenshot", None).await?;
        let encoded = value
            .as_str()
            .ok_or_else(|| anyhow!("screenshot is not a string"))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .context("screenshot base64")?;
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page and return
    /// its result; a returned promise is awaited (W3C WebDriver §13.2.1). Runs through
    /// the DevTools protocol, so the page's CSP, which forbids scripts, does not apply.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.session_call(Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// One Chrome DevTools Protocol command through chromedriver's `goog/cdp/execute`.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        let body = json!({ "cmd": cmd, "params": params });
        self.session_call(Method::POST, "/goog/cdp/execute", Some(body))
            .await
            .with_context(|| format!("CDP {cmd}"))
    }

    /// Lay the page out as a screen `width` CSS pixels wide and `height` tall (a phone's
    /// when `mobile`): device emulation, since a headless window will not shrink below
    /// its own minimum width.
    pub async fn emulate_screen(&self, width: u32, height: u32, mobile: bool) -> Result<()> {
        let params = json!({
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
        });
        self.cdp("Emulation.setDeviceMetricsOverride", params)
            .await?;
        Ok(())
    }

    /// Answer `prefers-color-scheme` with `scheme` ("light" or "dark").
    pub async fn emulate_color_scheme(&self, scheme: &str) -> Result<()> {
        let features = json!([{ "name": "prefers-color-scheme", "value": scheme }]);
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": features }),
        )
        .await?;
        Ok(())
    }

    /// Press and release the Tab key (W3C WebDriver §15 actions), moving the focus as a
    /// keyboard user does.
    pub async fn press_tab(&self) -> Result<()> {
        const TAB: &str = "\u{E004}";
        let actions = json!({ "actions": [{
            "type": "key", "id": "keyboard",
            "actions": [{ "type": "keyDown", "value": TAB }, { "type": "keyUp", "value": TAB }],
        }]});
        self.session_call(Method::POST, "/actions", Some(actions))
            .await?;
        Ok(())
    }

    /// Fill in and submit the sign-in form on the current page.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<()> {
        let field = self.wait_for("input[name=username]").await?;
        self.send_keys(&field, username).await?;
        let field = self.find("input[name=password]").await?;
        self.send_keys(&field, password).await?;
        let submit = self.find("form button[type=submit]").await?;
        self.click(&submit).await
    }

    /// The current page checked by axe-core against WCAG 2.0, 2.1 and 2.2 A and AA and
    /// axe's best practices: every violation, most severe first.
    pub async fn accessibility_violations(&self) -> Result<Vec<Violation>> {
        // Loaded into each page anew: a navigation drops it.
        let loaded = self
            .execute(&format!("{AXE}\nreturn typeof axe;"), vec![])
            .await
            .context("inject axe-core")?;
        if loaded != "object" {
            bail!("axe-core did not load: typeof axe is {loaded}");
        }
        let found = self
            .execute(AXE_RUN, vec![])
            .await
            .context("run axe-core")?;
        let mut violations: Vec<Violation> =
            serde_json::from_value(found).context("axe-core's violations")?;
        violations.sort_by_key(|v| std::cmp::Reverse(v.severity()));
        Ok(violations)
    }

    /// Save a PNG of the whole page, laid out `width` CSS pixels wide, to `path`.
    pub async fn screenshot_at(&self, width: u32, path: &Path) -> Result<()> {
        self.emulate_screen(width, 800, width < 600).await?;
        let height = self
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await?
            .as_u64()
            .unwrap_or(800)
            .clamp(400, 4000);
        self.emulate_screen(width, height as u32, width < 600)
            .await?;
        self.screenshot(path).await
    }

    /// Check the current page with axe-core at every width, in light and dark mode, and
    /// photograph it (light mode; dark at the desktop width) as `{name}-{width}.png` in
    /// target/screenshots. Returns the serious and critical violations, described for
    /// the failure message.
    pub async fn check_page(&self, name: &str) -> Result<Vec<String>> {
        let shots = screenshots_dir()?;
        let mut blocking = Vec::new();
        for width in WIDTHS {
            for scheme in ["light", "dark"] {
                self.emulate_color_scheme(scheme).await?;
                self.emulate_screen(width, 800, width < 600).await?;
                for v in self.accessibility_violations().await? {
                    if v.is_blocking() {
                        blocking.push(format!("{name} at {width}px, {scheme}: {v}"));
                    } else {
                        eprintln!("note: {name} at {width}px, {scheme}: {v}");
                    }
                }
                // Nothing wider than the screen: no sideways scrolling on a phone.
                let overflow = self
                    .execute(
                        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                        vec![],
                    )
                    .await?;
                if overflow.as_i64().unwrap_or(0) > 0 {
                    blocking.push(format!(
                        "{name} at {width}px, {scheme}: {overflow}px wider than the screen"
                    ));
                }
                if scheme == "light" || width > 600 {
                    let file = match scheme {
                        "light" => format!("{name}-{width}.png"),
                        _ => format!("{name}-{width}-dark.png"),
                    };
                    self.screenshot_at(width, &shots.join(file)).await?;
                }
            }
        }
        self.emulate_color_scheme("light").await?;
        self.emulate_screen(1100, 800, false).await?;
        Ok(blocking)
    }

    /// WebDriver's virtual authenticator (W3C WebAuthn L3 §11.3): a platform
    /// authenticator that keeps discoverable credentials and verifies its user (as a
    /// screen lock would) without asking. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> Result<String> {
        let body = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
        });
        let id = self
            .session_call(Method::POST, "/webauthn/authenticator", Some(body))
            .await?;
        id.as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no authenticator id: {id}"))
    }

    /// The credentials the virtual authenticator `id` holds (private keys included).
    pub async fn virtual_credentials(&self, id: &str) -> Result<Vec<Value>> {
        let path = format!("/webauthn/authenticator/{id}/credentials");
        let v = self.session_call(Method::GET, &path, None).await?;
        serde_json::from_value(v).context("credentials")
    }

    /// Give the virtual authenticator `id` a copy of `credential` (as another device
    /// holding the same synced passkey would).
    pub async fn add_virtual_credential(&self, id: &str, credential: Value) -> Result<()> {
        let path = format!("/webauthn/authenticator/{id}/credential");
        self.session_call(Method::POST, &path, Some(credential))
            .await?;
        Ok(())
    }

    /// End the session (Chromium quits); chromedriver is killed when `self` drops.
    pub async fn quit(mut self) -> Result<()> {
        self.session_call(Method::DELETE, "", None).await?;
        self.session = None;
        Ok(())
    }

    async fn session_call(&self, method: Method, rest: &str, body: Option<Value>) -> Result<Value> {
        let id = self
            .session
            .as_deref()
            .context("no open WebDriver session")?;
        self.call(method, &format!("/session/{id}{rest}"), body)
            .await
    }

    /// One WebDriver command: returns the response's `value`, or its error and message.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let mut answer: Value = response
            .json()
            .await
            .with_context(|| format!("{method} {path}: JSON answer"))?;
        let value = answer["value"].take();
        if !status.is_success() {
            bail!(
                "{method} {path}: {status} {}: {}",
                value["error"].as_str().unwrap_or("unknown error"),
                value["message"].as_str().unwrap_or_default()
            );
        }
        Ok(value)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver, so end a session that `quit` did not
        // (the test failed or panicked) before killing chromedriver.
        if let Some(id) = self.session.take()
            && let Err(e) = delete_session_blocking(self.port, &id)
        {
            eprintln!("could not end the WebDriver session, Chromium may linger: {e}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// DELETE /session/{id} over a plain socket: `Drop` cannot await, and may run while a
/// panic unwinds through the async runtime.
fn delete_session_blocking(port: u16, id: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    write!(
        stream,
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver answers once Chromium has quit, so reading the whole answer waits for
    // that. It keeps the connection open despite `Connection: close`: read up to the
    // end of the body, not to EOF.
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    while !is_complete_response(&answer) {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Whether `answer` holds a whole HTTP response: the headers and Content-Length bytes.
fn is_complete_response(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("content-length") {
            return None;
        }
        value.trim().parse::<usize>().ok()
    });
    answer.len() - (end + 4) >= length.unwrap_or(0)
}

/// axe-core as published (tests/assets/axe-core/README.md).
const AXE: &str = include_str!("../assets/axe-core/axe.min.js");

/// Run axe on the whole document; answer the violations with what a reader of a failed
/// test needs: the rule, its impact, and where on the page.
const AXE_RUN: &str = r#"
const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
return axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
  .then(r => r.violations.map(v => ({
    id: v.id,
    impact: v.impact || 'minor',
    help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' ')),
  })));
"#;

/// One axe-core rule the page breaks.
#[derive(Debug, serde::Deserialize)]
pub struct Violation {
    pub id: String,
    /// minor, moderate, serious or critical.
    pub impact: String,
    pub help: String,
    pub nodes: Vec<String>,
}

impl Violation {
    fn severity(&self) -> u8 {
        match self.impact.as_str() {
            "critical" => 3,
            "serious" => 2,
            "moderate" => 1,
            _ => 0,
        }
    }

    /// Serious or critical: what the account pages must never have.
    pub fn is_blocking(&self) -> bool {
        self.severity() >= 2
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.impact, self.id, self.help)?;
        for node in &self.nodes {
            write!(f, "\n    {node}")?;
        }
        Ok(())
    }
}

/// Whether Chromium and chromedriver are installed. Without them a browser test is
/// skipped with a message, unless PORTCULLIS_REQUIRE_BROWSER=1 (CI) makes that a failure.
pub fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "the browser test needs {} (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var("PORTCULLIS_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{message}; PORTCULLIS_REQUIRE_BROWSER=1 forbids skipping it");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// target/screenshots, where CI keeps the pictures of the pages for people to look at.
pub fn screenshots_dir() -> Result<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}
