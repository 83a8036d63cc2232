//! A self-signed certificate for a test relay on 127.0.0.1, made with the openssl command.
//! Also used by benches/deliver.rs (through `#[path]`), for stunnel.

use std::process::Command;

/// A certificate for 127.0.0.1, self-signed, and its key (PEM files in `dir`).
pub fn self_signed_certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("relay.pem"), dir.join("relay.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=relay.test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes a certificate");
    assert!(made.status.success(), "{made:?}");
    (cert, key)
}
