//! A real browser for the tests: headless Chromium, driven through ChromeDriver. Present when
//! /usr/bin/chromedriver and /usr/bin/chromium exist (`.ci/run` installs them); with
//! PAPERBOY_REQUIRE_BROWSER=1 a missing browser fails the test instead of skipping it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A running chromedriver, killed when this goes.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start chromedriver on a free port; `None` (the test skips) when the browser is not
/// installed and PAPERBOY_REQUIRE_BROWSER is not set.
pub fn start_driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("PAPERBOY_REQUIRE_BROWSER").is_err(),
            "PAPERBOY_REQUIRE_BROWSER is set but {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("chromium / chromedriver not installed: skipping the browser test");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    Some(Driver { child, port })
}

/// axe-core's script, from the file PAPERBOY_TEST_AXE_JS names (`.ci/run` installs it from the
/// npm registry); `None` (the test skips) when there is none and PAPERBOY_REQUIRE_BROWSER is
/// not set.
pub fn axe_script() -> Option<String> {
    let path = std::env::var("PAPERBOY_TEST_AXE_JS").unwrap_or_default();
    match std::fs::read_to_string(&path) {
        Ok(script) if !path.is_empty() => Some(script),
        _ => {
            assert!(
                std::env::var("PAPERBOY_REQUIRE_BROWSER").is_err(),
                "PAPERBOY_REQUIRE_BROWSER is set but PAPERBOY_TEST_AXE_JS ({path:?}) names no axe-core script (npm install axe-core, then point it at node_modules/axe-core/axe.min.js)"
            );
            eprintln!(
                "PAPERBOY_TEST_AXE_JS names no axe-core script: skipping the accessibility test"
            );
            None
        }
    }
}

/// A new headless Chromium session with a fresh profile, phone-sized, retried while
/// chromedriver is still starting.
pub async fn browser(driver: &Driver) -> Client {
    browser_with(driver, &[]).await
}

/// [`browser`] with more of Chromium's command-line flags, e.g. `--force-dark-mode`.
pub async fn browser_with(driver: &Driver, flags: &[&str]) -> Client {
    let profile = tempfile::tempdir().unwrap().keep();
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=390,844".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": args,
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("could not start a Chromium session through chromedriver");
}

/// Wait until the page's h1 reads `text`, or fail. Pages navigate under us (a form post,
/// the confirmation page's script), so an element found a moment ago may go stale.
pub async fn wait_for_heading(c: &Client, text: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(h1) = c.find(Locator::Css("h1")).await
            && let Ok(found) = h1.text().await
        {
            if found == text {
                return;
            }
            last = found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page's heading stayed {last:?}, expected {text:?}");
}
