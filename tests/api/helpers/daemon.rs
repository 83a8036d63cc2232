//! A real server run from a test in the foreground (Postfix's master, Dovecot), stopped with
//! SIGTERM when the test ends, so that it stops its own processes before itself.

use std::process::{Child, Command};

pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// Run a setup command (chown, chmod...); it must succeed.
pub fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?}");
}
