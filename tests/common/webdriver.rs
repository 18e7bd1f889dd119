//! A minimal W3C WebDriver client over `reqwest`: a chromedriver child process driving a
//! headless Chromium, with only the commands the browser test needs.

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
