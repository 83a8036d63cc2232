//! Erasing a reader keeps a do-not-contact record (a keyed hash of the address): the
//! operator cannot add the address back, its owner can sign up again by double opt-in.

use sha2::Digest;

use crate::cli::paperboy;
use crate::helpers::{Backend, link_in, spawn_app};
use crate::on_both_databases;

on_both_databases!(an_erased_address_is_refused_by_the_operator_and_welcome_by_its_owner);

/// The do-not-contact records in the database at `url`, read behind the service's back.
pub(crate) async fn erased_records(url: &str) -> Vec<(String, i64)> {
    use sqlx::Connection;
    let sql = "SELECT hash, erased_at FROM erased_addresses ORDER BY erased_at, hash";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    }
}

async fn an_erased_address_is_refused_by_the_operator_and_welcome_by_its_owner(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);
    app.subscribe_and_confirm("Ada@Example.com", &[("keywords", "agents")])
        .await;
    let started = paperboy::clock::timestamp();

    // The operator erases her: everything goes but a keyed hash of the address.
    let (ok, out, err) = run(&["subscribers", "remove", "ada@example.com"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("erased") && out.contains("keyed hash"),
        "{out}"
    );
    assert!(app.subscriber("ada@example.com").await.is_none());
    let records = erased_records(&url).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let (hash, at) = &records[0];
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    assert!(*at >= started - 1, "{at}");
    // Not the plain SHA-256 of the address, which anyone holding the table could test
    // guesses against; nor anything of the address itself.
    let plain = sha2::Sha256::digest(b"ada@example.com");
    let plain: String = plain.iter().map(|b| format!("{b:02x}")).collect();
    assert_ne!(hash, &plain);
    assert!(!hash.contains("ada"));

    // The operator cannot add her back, however the address is written.
    for written in ["ada@example.com", "ADA@example.COM"] {
        let (ok, _, err) = run(&["subscribers", "add", written, "--keywords", "agents"]);
        assert!(!ok, "{written} was added back");
        assert!(
            err.contains("ada@example.com was erased at its owner's request")
                && err.contains("sign up again through the form"),
            "{err}"
        );
    }
    assert!(app.subscriber("ada@example.com").await.is_none());
    // Another address is not affected.
    let (ok, _, err) = run(&[
        "subscribers",
        "add",
        "bob@example.com",
        "--keywords",
        "rlhf",
    ]);
    assert!(ok, "{err}");

    // A reader who erases themselves through the API leaves the same record.
    let bob = app.subscriber("bob@example.com").await.unwrap();
    let token = app
        .ctx
        .links
        .manage_token(&bob, paperboy::clock::timestamp());
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/subscriptions/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(erased_records(&url).await.len(), 2);
    let (ok, _, err) = run(&[
        "subscribers",
        "add",
        "bob@example.com",
        "--keywords",
        "rlhf",
    ]);
    assert!(!ok && err.contains("bob@example.com was erased"), "{err}");

    // Ada signs up again through the form: double opt-in still works for her.
    let before = app.smtp.to("ada@example.com").len();
    let r = app
        .subscribe_form(&[("email", "ada@example.com"), ("keywords", "diffusion")])
        .await;
    assert_eq!(r.status(), 200);
    let mails = app.wait_for_mails("ada@example.com", before + 1).await;
    // Until she confirms, the operator still cannot vouch for her.
    let (ok, _, err) = run(&[
        "subscribers",
        "add",
        "ada@example.com",
        "--keywords",
        "agents",
    ]);
    assert!(!ok && err.contains("erased"), "{err}");
    let link = link_in(&mails.last().unwrap().text(), "/confirm/");
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    let ada = app.subscriber("ada@example.com").await.unwrap();
    assert_eq!(ada.status, paperboy::domain::SubscriberStatus::Active);
    assert_eq!(ada.interests.keywords, ["diffusion"]);
    // Her consent removed her record; Bob's stays.
    let left = erased_records(&url).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_ne!(left[0].0, *hash);
    // Erased again, she is refused again.
    let (ok, _, _) = run(&["subscribers", "remove", "ada@example.com"]);
    assert!(ok);
    let (ok, _, err) = run(&[
        "subscribers",
        "add",
        "ada@example.com",
        "--keywords",
        "agents",
    ]);
    assert!(!ok && err.contains("erased"), "{err}");
    assert_eq!(erased_records(&url).await.len(), 2);
}
