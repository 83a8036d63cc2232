//! DKIM signatures that verify: every kind of mail paperboy sends (a confirmation, an
//! "already subscribed", a digest with non-ASCII authors and a subject long enough to fold),
//! signed with an RSA and with an Ed25519 key, taken as the SMTP server received them and
//! checked by implementations that are not ours: dkimpy (tests/dkim_verify.py) and, for RSA,
//! Mail::DKIM (tests/dkim_verify.pl), each given the public key as its DNS record. Tampered
//! copies (a changed Subject, a List-Unsubscribe or From added above ours) must fail.
//!
//! The Python is PAPERBOY_TEST_PYTHON (a venv with dkimpy and PyNaCl; `.ci/run` makes one),
//! else python3. A verifier that is missing skips its part with the reason printed; with
//! PAPERBOY_REQUIRE_DKIM_VERIFIER=1 (as `.ci/run` sets) it fails the test instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use crate::cli::paperboy_with;
use crate::helpers::{Backend, TestApp, link_in, spawn_app_with};

const READER: &str = "signed@example.com";
const DOMAIN: &str = "paperboy.test";
const SELECTOR: &str = "mail2026";
/// The digest's one paper: its title leads the subject, which is then long and not ASCII,
/// so lettre writes it as encoded words folded over lines; its authors lead with names in
/// three scripts.
const TITLE: &str =
    "Ångström-Scale Safety Scoring for Naïve Façade Models Without Ground-Truth Labels in Zürich";
const AUTHORS: [&str; 4] = [
    "Sunniva Maria Stordal Bjørklund",
    "Łukasz Żółkiewski",
    "山田 太郎",
    "José Ñúñez",
];

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Rsa,
    Ed25519,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_verifies_with_an_rsa_key() {
    every_mail_verifies(Kind::Rsa).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_verifies_with_an_ed25519_key() {
    every_mail_verifies(Kind::Ed25519).await
}

async fn every_mail_verifies(kind: Kind) {
    let mut verifiers: Vec<Verifier> = python_verifier().into_iter().collect();
    if matches!(kind, Kind::Rsa) && perl_verifier() {
        verifiers.push(Verifier::MailDkim);
    }
    if verifiers.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, record) = key_pair(kind, dir.path());
    let dkim = [
        ("mail.dkim_domain", DOMAIN),
        ("mail.dkim_selector", SELECTOR),
        ("mail.dkim_key_file", key.to_str().unwrap()),
    ];
    let overrides: Vec<(&str, toml::Value)> = dkim.iter().map(|(k, v)| (*k, (*v).into())).collect();
    let app = spawn_app_with(Backend::Sqlite, &overrides).await.unwrap();
    let mails = send_every_kind(&app, dir.path(), &key).await;

    let write = |name: &str, data: &[u8]| {
        let path = dir.path().join(format!("{name}.eml"));
        std::fs::write(&path, data).unwrap();
        path
    };
    let files: Vec<PathBuf> = mails.iter().map(|(name, data)| write(name, data)).collect();
    for verifier in &verifiers {
        let (ok, out) = verifier.run(&record, &files);
        assert!(ok, "{verifier:?} ({kind:?}):\n{out}");
        for (name, _) in &mails {
            let line = out
                .lines()
                .find(|l| l.contains(&format!("/{name}.eml")))
                .unwrap_or_else(|| panic!("{verifier:?} said nothing of {name}:\n{out}"));
            assert!(line.starts_with("pass "), "{verifier:?}: {line}");
            if matches!(verifier, Verifier::Dkimpy(_)) {
                assert_signed_as_meant(kind, name, line);
            }
        }
    }

    // Tampered copies of the digest: every verifier must say no.
    let digest = &mails.iter().find(|(n, _)| *n == "digest").unwrap().1;
    let tampered = [
        (
            "subject-changed",
            replace_once(digest, "\r\nSubject: ", "\r\nSubject: Re: "),
        ),
        (
            "unsubscribe-added",
            [
                b"List-Unsubscribe: <https://evil.example/u>\r\n".as_slice(),
                digest,
            ]
            .concat(),
        ),
        (
            "from-added",
            [
                b"From: Paper Boy <digest@evil.example>\r\n".as_slice(),
                digest,
            ]
            .concat(),
        ),
    ];
    for (name, data) in tampered {
        let path = write(name, &data);
        for verifier in &verifiers {
            let (ok, out) = verifier.run(&record, std::slice::from_ref(&path));
            assert!(
                !ok && out.starts_with("fail "),
                "{verifier:?} took {name}:\n{out}"
            );
        }
    }
}

/// dkimpy's `pass` line for mail `name` shows the algorithm of `kind`, relaxed/relaxed, and
/// the headers signed: those the mail has, From and Subject over-signed, and List-Unsubscribe
/// and List-Unsubscribe-Post over-signed whether the mail has them or not.
fn assert_signed_as_meant(kind: Kind, name: &str, line: &str) {
    let algorithm = match kind {
        Kind::Rsa => "rsa-sha256",
        Kind::Ed25519 => "ed25519-sha256",
    };
    assert!(line.contains(&format!(" a={algorithm} ")), "{line}");
    assert!(line.contains(" c=relaxed/relaxed "), "{line}");
    let h = line.split(" h=").nth(1).unwrap().to_ascii_lowercase();
    let named = |header: &str| h.split(':').filter(|n| *n == header).count();
    // Every mail names its Message-ID (the same across retries); list mails (all but the
    // confirmation) carry List-Id and List-Unsubscribe.
    let (list, list_id) = match name {
        "confirmation" => (1, 0),
        _ => (2, 1),
    };
    let expected = [
        ("from", 2),
        ("subject", 2),
        ("to", 1),
        ("date", 1),
        ("mime-version", 1),
        ("content-type", 1),
        ("list-unsubscribe", list),
        ("list-unsubscribe-post", list),
        ("message-id", 1),
        ("list-id", list_id),
    ];
    for (header, times) in expected {
        assert_eq!(named(header), times, "{header} in {line}");
    }
    assert_eq!(
        h.split(':').count(),
        expected.iter().map(|(_, n)| n).sum::<usize>(),
        "{line}"
    );
}

/// A confirmation, a welcome, an "already subscribed" and a digest to [`READER`], each as
/// the SMTP server received it.
async fn send_every_kind(app: &TestApp, dir: &Path, key: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let r = app
        .subscribe_form(&[("email", READER), ("keywords", "safety scoring")])
        .await;
    assert_eq!(r.status(), 200);
    let confirmation = app.smtp.wait_for(READER, 1).await.remove(0);
    let link = link_in(&confirmation.text(), "/confirm/");
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    let welcome = app.smtp.wait_for(READER, 2).await.remove(1);
    assert!(
        welcome.text().contains("is confirmed"),
        "{}",
        welcome.text()
    );
    let r = app
        .subscribe_form(&[("email", READER), ("keywords", "other")])
        .await;
    assert_eq!(r.status(), 200);
    let already = app.smtp.wait_for(READER, 3).await.remove(2);
    assert!(already.text().contains("already subscribed"));

    // The day's one paper, by `paperboy ingest`, then composed and delivered by the CLI with
    // the same key from the environment.
    let day = one_paper_day(dir);
    let env = vec![
        ("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr)),
        ("PAPERBOY_BASE_URL", app.base.clone()),
        (
            "PAPERBOY_MAIL_FROM",
            "Paper Boy <digest@paperboy.test>".into(),
        ),
        ("PAPERBOY_MAIL__DKIM_DOMAIN", DOMAIN.into()),
        ("PAPERBOY_MAIL__DKIM_SELECTOR", SELECTOR.into()),
        ("PAPERBOY_MAIL__DKIM_KEY_FILE", key.display().to_string()),
    ];
    let url = &app.ctx.config.database_url;
    let run = |args: &[&str]| paperboy_with(url, dir, args, &env);
    let (ok, _, err) = run(&[
        "ingest",
        "--file",
        day.to_str().unwrap(),
        "--date",
        "2026-05-08",
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok && out.contains("1 composed"), "{out}{err}");
    let (ok, out, err) = run(&["digest", "deliver"]);
    assert!(ok && out.contains("1 sent"), "{out}{err}");
    let digest = app.smtp.wait_for(READER, 4).await.remove(3);

    // The cases this test is for: a folded, encoded subject and non-ASCII authors.
    let parsed = digest.parsed();
    let subject = parsed.subject().unwrap();
    assert!(
        subject.starts_with("Your paper for Fri 8 May: Ångström"),
        "{subject}"
    );
    let raw = String::from_utf8_lossy(&digest.data);
    let headers = raw.split("\r\n\r\n").next().unwrap();
    let subject_lines = headers
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .skip(1)
        .take_while(|l| l.starts_with([' ', '\t']))
        .count();
    assert!(subject_lines > 0, "the subject is not folded:\n{headers}");
    assert!(headers.contains("=?utf-8?"), "{headers}");
    assert!(
        digest
            .text()
            .contains("Bjørklund, Łukasz Żółkiewski, 山田 太郎"),
        "{}",
        digest.text()
    );

    vec![
        ("confirmation", confirmation.data),
        ("welcome", welcome.data),
        ("already-subscribed", already.data),
        ("digest", digest.data),
    ]
}

/// The captured day's paper by Bjørklund et al., retitled and with more non-ASCII authors,
/// as the only paper of an HF day file.
fn one_paper_day(dir: &Path) -> PathBuf {
    let day =
        std::fs::read_to_string("tests/fixtures/hf_json/daily_papers_2026-05-08.json").unwrap();
    let day: Vec<serde_json::Value> = serde_json::from_str(&day).unwrap();
    let mut entry = day
        .into_iter()
        .find(|e| e["paper"]["authors"].to_string().contains("Bjørklund"))
        .expect("the fixture's paper by Bjørklund");
    let authors: Vec<serde_json::Value> = AUTHORS
        .iter()
        .map(|name| serde_json::json!({ "name": name, "hidden": false }))
        .collect();
    entry["paper"]["authors"] = authors.into();
    entry["paper"]["title"] = TITLE.into();
    entry["title"] = TITLE.into();
    let path = dir.join("one-paper-day.json");
    std::fs::write(&path, serde_json::to_vec(&[entry]).unwrap()).unwrap();
    path
}

/// A new private key file of `kind` (PEM, as `openssl` writes it) and its public key as the
/// DKIM record a domain would publish.
pub(crate) fn key_pair(kind: Kind, dir: &Path) -> (PathBuf, String) {
    let key = dir.join("dkim.pem");
    let args: &[&str] = match kind {
        // PKCS#1, the form lettre's signer needed; PKCS#8 RSA is tested in digest.rs.
        Kind::Rsa => &["genrsa", "-traditional", "-out"],
        Kind::Ed25519 => &["genpkey", "-algorithm", "ed25519", "-out"],
    };
    openssl(
        Command::new("openssl")
            .args(args)
            .arg(&key)
            .args(match kind {
                Kind::Rsa => &["2048"][..],
                Kind::Ed25519 => &[][..],
            }),
    );
    let public = openssl(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&key),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let record = match kind {
        Kind::Rsa => format!("v=DKIM1; k=rsa; p={}", b64.encode(&public)),
        // RFC 8463: the bare 32-byte key, the end of its SubjectPublicKeyInfo.
        Kind::Ed25519 => format!(
            "v=DKIM1; k=ed25519; p={}",
            b64.encode(&public[public.len() - 32..])
        ),
    };
    (key, record)
}

fn openssl(command: &mut Command) -> Vec<u8> {
    let out = command.output().expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A verifier that is not ours, as a script run on mail files.
#[derive(Debug)]
enum Verifier {
    /// tests/dkim_verify.py, by this Python.
    Dkimpy(String),
    /// tests/dkim_verify.pl.
    MailDkim,
}

impl Verifier {
    /// Run on `files`, every key lookup answered with `record`: did all pass, and what it said.
    fn run(&self, record: &str, files: &[PathBuf]) -> (bool, String) {
        let mut command = match self {
            Verifier::Dkimpy(python) => Command::new(python),
            Verifier::MailDkim => Command::new("perl"),
        };
        let script = match self {
            Verifier::Dkimpy(_) => "tests/dkim_verify.py",
            Verifier::MailDkim => "tests/dkim_verify.pl",
        };
        let out = command
            .arg(script)
            .arg(record)
            .args(files)
            .output()
            .expect("the verifier runs");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), printed)
    }
}

fn replace_once(data: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(data.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in the mail");
    text.replacen(from, to, 1).into_bytes()
}

fn required() -> bool {
    std::env::var("PAPERBOY_REQUIRE_DKIM_VERIFIER").is_ok_and(|v| v == "1")
}

/// dkimpy, if a Python that has it (and PyNaCl) can be found.
fn python_verifier() -> Option<Verifier> {
    let python = std::env::var("PAPERBOY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import dkim, nacl.signing"])
        .output();
    if probe.is_ok_and(|o| o.status.success()) {
        return Some(Verifier::Dkimpy(python));
    }
    let why = format!(
        "{python} cannot import dkimpy and PyNaCl (python3 -m venv V && V/bin/pip install dkimpy pynacl, then PAPERBOY_TEST_PYTHON=V/bin/python)"
    );
    assert!(!required(), "PAPERBOY_REQUIRE_DKIM_VERIFIER=1 but {why}");
    eprintln!("{why}: skipping the dkimpy checks");
    None
}

/// Whether Perl has Mail::DKIM for tests/dkim_verify.pl.
fn perl_verifier() -> bool {
    let probe = Command::new("perl")
        .args(["-MMail::DKIM::Verifier", "-MNet::DNS", "-e1"])
        .output();
    if probe.is_ok_and(|o| o.status.success()) {
        return true;
    }
    let why = "perl has no Mail::DKIM (apt-get install libmail-dkim-perl)";
    assert!(!required(), "PAPERBOY_REQUIRE_DKIM_VERIFIER=1 but {why}");
    eprintln!("{why}: skipping the Mail::DKIM checks");
    false
}

/// A key file that cannot sign stops the start, saying which file and what to write there.
#[test]
fn a_key_that_cannot_sign_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let start = |key: &Path| {
        let key = key.display().to_string();
        let pairs = [
            ("mail.dkim_domain", toml::Value::from(DOMAIN)),
            ("mail.dkim_selector", SELECTOR.into()),
            ("mail.dkim_key_file", key.into()),
        ];
        let config = paperboy::config::Config::with_overrides(&pairs).unwrap();
        match paperboy::mail::Mailer::from_config(&config) {
            Ok(_) => panic!("started with {}", pairs[2].1),
            Err(e) => e.to_string(),
        }
    };
    let missing = dir.path().join("missing.pem");
    assert!(
        start(&missing).contains("cannot read mail.dkim_key_file"),
        "{}",
        start(&missing)
    );

    let sec1 = dir.path().join("ec.pem");
    openssl(
        Command::new("openssl")
            .args([
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
            ])
            .arg(&sec1),
    );
    let pkcs8 = dir.path().join("ec8.pem");
    openssl(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&pkcs8),
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "my DKIM key is in the vault\n").unwrap();
    for (file, why) in [
        (&sec1, "an EC key"),
        (&pkcs8, "neither an RSA nor an Ed25519 key"),
        (&text, "neither a PEM key nor a base64 Ed25519 seed"),
    ] {
        let err = start(file);
        assert!(
            err.contains(&file.display().to_string()) && err.contains(why),
            "{err}"
        );
        assert!(err.contains("openssl genpkey -algorithm ed25519"), "{err}");
    }
}
