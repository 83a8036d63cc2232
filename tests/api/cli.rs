//! The operator's CLI, run as a separate process.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_databases;

on_both_databases!(subscribers_commands);

pub fn paperboy(
    database_url: &str,
    data_dir: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    paperboy_with(database_url, data_dir, args, &[])
}

/// [`paperboy`] with more environment variables.
pub fn paperboy_with(
    database_url: &str,
    data_dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PAPERBOY_DATABASE_URL", database_url)
        .env("PAPERBOY_DATA_DIR", data_dir)
        .env("PAPERBOY_SECRET", crate::helpers::SECRET)
        .env("PAPERBOY_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

async fn subscribers_commands(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);

    let (ok, _, err) = run(&["migrate"]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&[
        "subscribers",
        "add",
        "Cli@Example.com",
        "--topics",
        "llm,robotics",
        "--keywords",
        "\"world model\"",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("cli@example.com is subscribed"));
    run(&[
        "subscribers",
        "add",
        "second@example.com",
        "--keywords",
        "rlhf",
    ]);

    let (ok, err_out, err) = run(&["subscribers", "add", "not an address"]);
    assert!(!ok);
    assert!(err.contains("email"), "{err_out}{err}");
    let (ok, _, err) = run(&["subscribers", "add", "x@example.com", "--topics", "nope"]);
    assert!(!ok && err.contains("unknown topic"), "{err}");

    let (ok, out, _) = run(&["subscribers", "list", "--status", "active"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("cli@example.com\tactive\tllm,robotics"));

    let (ok, out, _) = run(&["subscribers", "export", "--email", "cli@example.com"]);
    assert!(ok);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["email"], "cli@example.com");
    assert_eq!(json[0]["keywords"][0], "\"world model\"");
    assert_eq!(json[0]["consent_ip"], "cli");
    assert_eq!(
        json[0]["confirmation_mails"],
        serde_json::json!([]),
        "added by the operator: no mail"
    );

    let (ok, out, _) = run(&["subscribers", "export", "--format", "csv"]);
    assert!(ok);
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "email") && headers.iter().any(|h| h == "consent_at"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        &rows[0][headers.iter().position(|h| h == "topics").unwrap()],
        "llm;robotics"
    );

    let (ok, out, _) = run(&["subscribers", "remove", "cli@example.com"]);
    assert!(ok && out.contains("erased"));
    let (_, out, _) = run(&["subscribers", "list"]);
    assert_eq!(out.lines().count(), 1);
    let (ok, _, err) = run(&["subscribers", "remove", "cli@example.com"]);
    assert!(!ok && err.contains("no subscriber"));
    let (ok, _, err) = run(&["subscribers", "list", "--status", "weird"]);
    assert!(!ok && err.contains("unknown status"));
}

/// A `topics_file` that is named but cannot be read stops the start, with what to do; an
/// empty one means the catalogue built into the binary.
#[test]
fn a_topics_file_that_cannot_be_read_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let missing = dir.path().join("topicz.toml").display().to_string();
    let (ok, _, err) = paperboy_with(
        &url,
        dir.path(),
        &["status"],
        &[("PAPERBOY_TOPICS_FILE", missing.clone())],
    );
    assert!(!ok, "started with a missing topics file");
    assert!(
        err.contains(&format!("cannot read topics_file {missing}")) && err.contains("\"\""),
        "{err}"
    );
    assert!(!dir.path().join("p.db").exists(), "nothing was created");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[topic]\nid = ").unwrap();
    let (ok, _, err) = paperboy_with(
        &url,
        dir.path(),
        &["status"],
        &[("PAPERBOY_TOPICS_FILE", broken.display().to_string())],
    );
    assert!(!ok);
    assert!(err.contains("topic catalogue"), "{err}");

    let (ok, out, err) = paperboy_with(
        &url,
        dir.path(),
        &["status"],
        &[("PAPERBOY_TOPICS_FILE", String::new())],
    );
    assert!(ok, "{err}");
    assert!(out.contains("subscribers:"), "{out}");
}

/// `PAPERBOY_SECRET_FILE` and its kind: the key is read from the file, not generated; a short
/// one is refused as the variable would be; both ways at once, or a file that cannot be read,
/// stop the start with the variable and the path named.
#[test]
fn secrets_load_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let data = dir.path().join("data");
    let run = |env: &[(&str, std::ffi::OsString)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
            .arg("status")
            .env_remove("PAPERBOY_SECRET")
            .env_remove("PAPERBOY_ADMIN_TOKEN")
            .env_remove("PAPERBOY_SMTP_URL")
            .env("PAPERBOY_DATABASE_URL", &url)
            .env("PAPERBOY_DATA_DIR", &data)
            .env("PAPERBOY_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let missing = dir.path().join("relay-url");
    let (ok, _, err) = run(&[("PAPERBOY_SMTP_URL_FILE", missing.clone().into_os_string())]);
    assert!(!ok, "started without its relay URL");
    assert!(
        err.contains(&format!(
            "cannot read PAPERBOY_SMTP_URL_FILE {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(!dir.path().join("p.db").exists(), "nothing was created");

    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, format!("{}\n", "k".repeat(40))).unwrap();
    let token = dir.path().join("token.txt");
    std::fs::write(&token, "an admin token\n").unwrap();
    let with_files = [
        ("PAPERBOY_SECRET_FILE", secret.clone().into_os_string()),
        ("PAPERBOY_ADMIN_TOKEN_FILE", token.into_os_string()),
    ];
    let (ok, out, err) = run(&with_files);
    assert!(ok, "{err}");
    assert!(out.contains("subscribers:"), "{out}");
    assert!(
        !data.join("secret").exists(),
        "a key was generated although PAPERBOY_SECRET_FILE names one"
    );

    std::fs::write(&secret, "too short\n").unwrap();
    let (ok, _, err) = run(&with_files);
    assert!(
        !ok && err.contains("secret must be at least 32 characters"),
        "{err}"
    );

    let mut both = with_files.to_vec();
    both.push(("PAPERBOY_SECRET", "x".repeat(40).into()));
    let (ok, _, err) = run(&both);
    assert!(
        !ok && err.contains("PAPERBOY_SECRET and PAPERBOY_SECRET_FILE are both set"),
        "{err}"
    );
}
