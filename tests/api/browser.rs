//! A real browser: headless Chromium, driven through ChromeDriver, fills in the form.
//! Runs when /usr/bin/chromedriver exists (`.ci/run` installs it); with
//! PAPERBOY_REQUIRE_BROWSER=1 a missing browser fails the test instead of skipping it.

use fantoccini::Locator;
use paperboy::domain::SubscriberStatus;

use crate::helpers::{Backend, browser, link_in, spawn_app, start_driver, wait_for_heading};

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
