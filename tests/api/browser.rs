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
        // Keywords are under "More options", the topics in folded groups.
        c.find(Locator::Css("details.more-options > summary"))
            .await?
            .click()
            .await?;
        c.find(Locator::XPath(
            "//input[@value='llm']/ancestor::details[1]/summary",
        ))
        .await?
        .click()
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

/// "Papers you liked" with script: words of a title find stored papers, a pick adds the
/// paper's id to the field, and the subscription holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_finds_a_liked_paper_by_its_title() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.ingest_hf_day("2026-05-08");
    let c = browser(&driver).await;
    let result = async {
        c.goto(&app.url("/")).await?;
        c.find(Locator::Css("#email"))
            .await?
            .send_keys("reader@example.com")
            .await?;
        c.find(Locator::Css("#liked-search"))
            .await?
            .send_keys("rethinking retrieval agentic")
            .await?;
        let pick = c
            .wait()
            .for_element(Locator::Css(".paper-pick[data-id='2605.05242']"))
            .await?;
        assert!(pick.text().await?.starts_with("Beyond Semantic Similarity"));
        pick.click().await?;
        let liked = c.find(Locator::Css("#liked")).await?.prop("value").await?;
        assert_eq!(liked.as_deref(), Some("2605.05242"));
        // The live preview below the form follows: papers like the one picked, with why.
        let first = c
            .wait()
            .for_element(Locator::Css("#live-preview ol.preview li"))
            .await?;
        assert!(first.text().await?.contains("Why:"));
        let heading = c
            .find(Locator::Css("#live-preview h1"))
            .await?
            .text()
            .await?;
        assert!(heading.contains("8 May 2026"), "{heading}");
        // A title with markup in the search box is searched as words, shown as text.
        c.find(Locator::Css("#liked-search"))
            .await?
            .send_keys("<img src=x onerror=alert(1)>")
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(
            c.find_all(Locator::Css("#liked-results img"))
                .await?
                .is_empty()
        );
        c.find(Locator::Css("form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "Check your inbox").await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.expect("browser steps");
    let s = app.subscriber("reader@example.com").await.unwrap();
    assert_eq!(
        s.interests
            .liked
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
        ["2605.05242"]
    );
}

/// What a page's structure offers assistive technology, as axe-core's landmark and heading
/// rules read it: the number of main landmarks, of level-one headings (and the first one's
/// text), and the visible text that lies in no landmark.
const LANDMARKS_AND_HEADINGS: &str = r#"
const landmark = "main, [role=main], header, [role=banner], footer, [role=contentinfo], nav, "
  + "[role=navigation], aside, [role=complementary], [role=search], [role=region][aria-label], "
  + "section[aria-label], section[aria-labelledby], form[aria-label], form[aria-labelledby]";
const outside = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const text = walker.currentNode;
  const element = text.parentElement;
  if (!text.textContent.trim() || element.getClientRects().length === 0) continue;
  if (getComputedStyle(element).visibility !== "visible") continue;
  if (!element.closest(landmark)) outside.push(text.textContent.trim().slice(0, 60));
}
const h1s = document.querySelectorAll("h1, [role=heading][aria-level='1']");
return {
  mains: document.querySelectorAll("main, [role=main]").length,
  h1s: h1s.length,
  heading: h1s.length ? h1s[0].textContent.trim() : null,
  outside: outside,
};
"#;

/// The digest's "view in browser" page has one main landmark, one level-one heading (the
/// digest's title), and no visible text outside a landmark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_reads_the_digest_page_by_its_landmarks() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let emails = crate::digest::readers_with_a_digest(&app, dir.path(), 1).await;
    let reader = app.subscriber(&emails[0]).await.unwrap();
    let token = app
        .ctx
        .links
        .manage_token(&reader, chrono::Utc::now().timestamp());
    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let page = app.ctx.links.browser_url(&token, day);
    let c = browser(&driver).await;
    let result = async {
        c.goto(&page).await?;
        c.execute(LANDMARKS_AND_HEADINGS, vec![]).await
    }
    .await;
    let _ = c.close().await;
    let found = result.expect("browser steps");
    assert_eq!(found["mains"], 1, "{found}");
    assert_eq!(found["h1s"], 1, "{found}");
    assert_eq!(found["outside"], serde_json::json!([]), "{found}");
    let heading = found["heading"].as_str().unwrap_or_default();
    assert!(heading.contains("8 May 2026"), "{found}");
}

/// Unfold every topic group and measure each topic's label: the text's boxes that start left
/// of the right edge of the label's checkbox (a line wrapped under it), and how many labels.
const TOPIC_LABELS: &str = r#"
document.querySelectorAll("fieldset.topics details").forEach(function (d) { d.open = true; });
const misplaced = [];
const labels = document.querySelectorAll("fieldset.topics label.check");
labels.forEach(function (label) {
  const box = label.querySelector("input[type=checkbox]").getBoundingClientRect();
  const range = document.createRange();
  label.childNodes.forEach(function (node) {
    if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) return;
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && r.left < box.right) {
        misplaced.push(label.textContent.trim() + ": a line at x=" + Math.round(r.left)
          + ", the checkbox ends at x=" + Math.round(box.right));
      }
    }
  });
});
return { width: window.innerWidth, labels: labels.length, misplaced: misplaced };
"#;

/// Make the page's viewport `width` CSS pixels wide (the window's frame, if any, added).
pub(crate) async fn set_viewport_width(
    c: &fantoccini::Client,
    width: u32,
) -> Result<(), fantoccini::error::CmdError> {
    c.set_window_size(width, 900).await?;
    let inner = c.execute("return window.innerWidth", vec![]).await?;
    let inner = inner.as_u64().unwrap_or(u64::from(width)) as u32;
    if inner != width {
        c.set_window_size(width + width.saturating_sub(inner), 900)
            .await?;
    }
    Ok(())
}

/// A topic's name wraps as a block beside its checkbox, never under it, on the sign-up form
/// and the preferences page, at a phone's, a tablet's and desktops' widths (at 1,000 px two
/// names once left their last word alone under the checkbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_keeps_topic_names_beside_their_checkboxes() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let confirmed = app
        .subscribe_and_confirm("widths@example.com", &[("topics", "llm")])
        .await;
    let pages = [app.url("/"), link_in(&confirmed, "/preferences/")];
    let topics = app.ctx.catalogue.topics().len();
    let c = browser(&driver).await;
    let result = async {
        let mut seen = Vec::new();
        for page in &pages {
            c.goto(page).await?;
            for width in [360, 768, 1000, 1280] {
                set_viewport_width(&c, width).await?;
                seen.push((page.clone(), width, c.execute(TOPIC_LABELS, vec![]).await?));
            }
        }
        Ok::<_, fantoccini::error::CmdError>(seen)
    }
    .await;
    let _ = c.close().await;
    for (page, width, found) in result.expect("browser steps") {
        assert_eq!(found["width"], width, "{page}: the viewport");
        assert_eq!(found["labels"], topics, "{page} at {width} px: {found}");
        assert_eq!(
            found["misplaced"],
            serde_json::json!([]),
            "{page} at {width} px"
        );
    }
}

/// Whether the page is wider than the window (a table or a word that does not wrap), and
/// by how much.
const OVERFLOW: &str = r#"
return { width: window.innerWidth, scroll: document.documentElement.scrollWidth };
"#;

/// The console in a browser: signing in, the dashboard, finding a reader and lifting their
/// suppression, by clicks; every page with one main landmark, one level-one heading, no text
/// outside a landmark, and nothing wider than a phone's 360 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_to_the_console_and_lifts_a_suppression() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    for args in [
        &[
            "subscribers",
            "add",
            "a-rather-long-address-for-a-phone@example.com",
            "--topics",
            "llm",
        ][..],
        &[
            "suppressions",
            "add",
            "a-rather-long-address-for-a-phone@example.com",
            "--reason",
            "mailbox full three times",
        ][..],
    ] {
        let (ok, _, err) = crate::cli::paperboy(&url, dir.path(), args);
        assert!(ok, "{err}");
    }
    let (ok, _, err) = crate::console::set_password(&app, "ada", crate::console::PASSWORD);
    assert!(ok, "{err}");
    let c = browser(&driver).await;
    let result = async {
        set_viewport_width(&c, 360).await?;
        c.goto(&app.url("/admin")).await?;
        wait_for_heading(&c, "Sign in to the console").await;
        let mut pages = vec![c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?];
        let mut widths = vec![c.execute(OVERFLOW, vec![]).await?];
        c.find(Locator::Css("#name"))
            .await?
            .send_keys("ada")
            .await?;
        c.find(Locator::Css("#password"))
            .await?
            .send_keys(crate::console::PASSWORD)
            .await?;
        c.find(Locator::Css("form.stack button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "Dashboard").await;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        c.find(Locator::LinkText("Readers")).await?.click().await?;
        wait_for_heading(&c, "Readers").await;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        c.find(Locator::LinkText(
            "a-rather-long-address-for-a-phone@example.com",
        ))
        .await?
        .click()
        .await?;
        wait_for_heading(&c, "a-rather-long-address-for-a-phone@example.com").await;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        c.find(Locator::XPath("//button[text()='Lift the suppression']"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "a-rather-long-address-for-a-phone@example.com").await;
        let lifted = c.find(Locator::Css("main dl")).await?.text().await?;
        c.find(Locator::LinkText("Audit log"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "Audit log").await;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        let log = c.find(Locator::Css("main table")).await?.text().await?;
        assert!(log.contains("lift") && log.contains("console ada"), "{log}");
        Ok::<_, fantoccini::error::CmdError>((pages, widths, lifted))
    }
    .await;
    let _ = c.close().await;
    let (pages, widths, lifted) = result.expect("browser steps");
    for found in &pages {
        assert_eq!(found["mains"], 1, "{found}");
        assert_eq!(found["h1s"], 1, "{found}");
        assert_eq!(found["outside"], serde_json::json!([]), "{found}");
    }
    for w in &widths {
        assert_eq!(w["width"], 360, "{w}");
        assert!(
            w["scroll"].as_u64() <= w["width"].as_u64(),
            "wider than the phone: {w}"
        );
    }
    assert!(lifted.contains("active"), "{lifted}");
    assert_eq!(
        app.subscriber("a-rather-long-address-for-a-phone@example.com")
            .await
            .unwrap()
            .status,
        SubscriberStatus::Active
    );
}

/// The console's import in a browser, phone-sized: a file chosen and sent as a dry run, its
/// report read, then "Import for real"; every page one main landmark, nothing wider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_imports_a_csv_file_on_the_console() {
    let Some(driver) = start_driver() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (ok, _, err) = crate::console::set_password(&app, "ada", crate::console::PASSWORD);
    assert!(ok, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reading-group.csv");
    std::fs::write(
        &file,
        "email,keywords,consented_at\n\
         a-rather-long-address-for-a-phone@example.com,graph neural networks,2026-01-02\n\
         another-rather-long-address-for-a-phone@example.com,,2026-01-02\n",
    )
    .unwrap();
    let c = browser(&driver).await;
    let result = async {
        set_viewport_width(&c, 360).await?;
        c.goto(&app.url("/admin/sign-in")).await?;
        c.find(Locator::Css("#name"))
            .await?
            .send_keys("ada")
            .await?;
        c.find(Locator::Css("#password"))
            .await?
            .send_keys(crate::console::PASSWORD)
            .await?;
        c.find(Locator::Css("form.stack button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for_heading(&c, "Dashboard").await;
        c.find(Locator::LinkText("Import")).await?.click().await?;
        wait_for_heading(&c, "Import").await;
        let mut pages = vec![c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?];
        let mut widths = vec![c.execute(OVERFLOW, vec![]).await?];
        c.find(Locator::Css("#file"))
            .await?
            .send_keys(&file.display().to_string())
            .await?;
        c.find(Locator::Css("#mode"))
            .await?
            .select_by_value("confirmed")
            .await?;
        c.find(Locator::XPath("//button[text()='Dry run']"))
            .await?
            .click()
            .await?;
        let button = c
            .wait()
            .for_element(Locator::XPath("//button[text()='Import for real']"))
            .await?;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        let dry = c.find(Locator::Css("main")).await?.text().await?;
        button.click().await?;
        c.wait()
            .for_element(Locator::XPath("//h2[text()='Imported']"))
            .await?;
        pages.push(c.execute(LANDMARKS_AND_HEADINGS, vec![]).await?);
        widths.push(c.execute(OVERFLOW, vec![]).await?);
        let done = c.find(Locator::Css("main")).await?.text().await?;
        Ok::<_, fantoccini::error::CmdError>((pages, widths, dry, done))
    }
    .await;
    let _ = c.close().await;
    let (pages, widths, dry, done) = result.expect("browser steps");
    for found in &pages {
        assert_eq!(found["mains"], 1, "{found}");
        assert_eq!(found["h1s"], 1, "{found}");
        assert_eq!(found["outside"], serde_json::json!([]), "{found}");
    }
    for w in &widths {
        assert_eq!(w["width"], 360, "{w}");
        assert!(
            w["scroll"].as_u64() <= w["width"].as_u64(),
            "wider than the phone: {w}"
        );
    }
    assert!(dry.contains("Dry run: nothing changed yet"), "{dry}");
    assert!(dry.contains("reading-group.csv as confirmed"), "{dry}");
    assert!(dry.contains("line 3: no topics"), "{dry}");
    assert!(done.contains("new, active"), "{done}");
    let s = app
        .subscriber("a-rather-long-address-for-a-phone@example.com")
        .await
        .unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert_eq!(
        s.consent_source.as_deref(),
        Some("import of reading-group.csv")
    );
    assert!(
        app.subscriber("another-rather-long-address-for-a-phone@example.com")
            .await
            .is_none()
    );
}
