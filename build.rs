//! Build-time facts:
//! - the git revision the binary was built from (`portcullis_build_info`): the
//!   `PORTCULLIS_GIT_REVISION` environment variable when set (a container build passes
//!   it as a build argument), else `git rev-parse`, else "unknown";
//! - `cfg(browser_tests)` when Chromium and chromedriver are installed (or
//!   `PORTCULLIS_REQUIRE_BROWSER=1` demands them): without it the browser tests are
//!   marked ignored, so `cargo test` shows them as skipped, with the reason, instead of
//!   passing without running.

use std::path::Path;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn main() {
    println!("cargo:rerun-if-env-changed=PORTCULLIS_GIT_REVISION");
    let revision = std::env::var("PORTCULLIS_GIT_REVISION")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PORTCULLIS_GIT_REVISION={revision}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");

    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo:rerun-if-env-changed=PORTCULLIS_REQUIRE_BROWSER");
    // A path that does not exist would rerun this script on every build: watch the
    // directory the two are installed into instead.
    println!("cargo:rerun-if-changed=/usr/bin");
    let required = std::env::var("PORTCULLIS_REQUIRE_BROWSER").as_deref() == Ok("1");
    if required || (Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()) {
        println!("cargo:rustc-cfg=browser_tests");
    }
}
