//! A real browser: headless Chromium, driven through ChromeDriver, fills in the form.
//! Runs when /usr/bin/chromedriver exists (`.ci/run` installs it); with
//! PAPERBOY_REQUIRE_BROWSER=1 a missing browser fails the test instead of skipping it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use paperboy::domain::SubscriberStatus;

use crate::helpers::{Backend, link_in, spawn_app};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Option<Driver> {
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

async fn browser(driver: &Driver) -> Client {
    let profile = tempfile::tempdir().unwrap().keep();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=390,844",
                     format!("--user-data-dir={}", profile.display())]
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
async fn wait_for_heading(c: &Client, text: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_fills_the_form() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let c = browser(&driver).await;
    let result = async {
        // A bad address: the page again, the message next to the field, the values kept.
        c.goto(&app.url("/")).await?;
        c.find(Locator::Css("#email"))
            .await?
            .send_keys("not-an-address")
            .await?;
        c.find(Locator::Css("#keywords"))
            .await?
            .send_keys("diffusion \"world model\"")
            .await?;
        c.find(Locator::Css("input[name=topics][value=llm]"))
            .await?
            .click()
            .await?;
        c.find(Locator::Css("form button[type=submit]"))
            .await?
            .click()
            .await?;
        let error = c.wait().for_element(Locator::Css("#email-error")).await?;
        assert!(
            error
                .text()
                .await?
                .contains("does not look like an email address")
        );
        let kept = c
            .find(Locator::Css("#keywords"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(kept.as_deref(), Some("diffusion \"world model\""));
        let checked = c
            .find(Locator::Css("input[name=topics][value=llm]"))
            .await?
            .prop("checked")
            .await?;
        assert_eq!(checked.as_deref(), Some("true"));

        // Correct it and submit.
        let email = c.find(Locator::Css("#email")).await?;
        email.clear().await?;
        email.send_keys("browser@example.com").await?;
        c.find(Locator::Css("form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "Check your inbox").await;

        // The confirmation link: the page's script confirms at once.
        let mails = app.smtp.wait_for("browser@example.com", 1).await;
        let link = link_in(&mails[0].text(), "/confirm/");
        c.goto(&link).await?;
        wait_for_heading(&c, "You are subscribed").await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.expect("browser steps");
    let s = app.subscriber("browser@example.com").await.unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert_eq!(s.interests.keywords, ["diffusion", "\"world model\""]);
}
