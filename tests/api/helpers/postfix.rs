//! A private Postfix instance as the relay: its own configuration, queue and log under a
//! temporary folder, its master process run in the foreground (`master -d`) and stopped
//! when the test ends. `postfix start` is not used: run as root, it takes a configuration
//! folder only if the system's own main.cf lists it, and a test must not touch that.
//!
//! Needs Debian's `postfix` (installed by `.ci/run`) and root (to hand the queue to the
//! `postfix` user). Without them the tests that use it pass vacuously, unless
//! PAPERBOY_REQUIRE_POSTFIX is set (as CI sets it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::daemon::{Daemon, run};
use std::time::Duration;

const MASTER: &str = "/usr/lib/postfix/sbin/master";

pub struct Postfix {
    /// Where Postfix's smtpd takes mail.
    pub addr: SocketAddr,
    // Fields drop in order: the daemon stops before its folder goes.
    master: Daemon,
    dir: tempfile::TempDir,
}

/// Where a private Postfix sends mail.
pub struct Routes<'a> {
    /// Every domain but `bounce_domain`: the next hop (as a relayhost).
    pub next_hop: SocketAddr,
    /// Mail for this domain (the DSNs Postfix writes to VERP addresses) goes to `inbound`.
    pub bounce_domain: &'a str,
    pub inbound: SocketAddr,
}

impl Postfix {
    /// Start Postfix on a free loopback port with `routes`, and `extra` main.cf settings;
    /// `None` when Postfix or root is missing and not required.
    pub fn start(routes: &Routes<'_>, extra: &[(&str, &str)]) -> Option<Self> {
        let required = std::env::var_os("PAPERBOY_REQUIRE_POSTFIX").is_some();
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !Path::new(MASTER).exists() || !is_root {
            assert!(
                !required,
                "PAPERBOY_REQUIRE_POSTFIX is set but {MASTER} is missing or this is not root \
                 (apt-get install postfix; run as root)"
            );
            eprintln!("skipped: Postfix ({MASTER}) or root missing");
            return None;
        }
        // A port free when chosen may be taken by another test's listener before master binds
        // it (CI once saw a digest "deferred" by whatever answered there): each try checks
        // that our own Postfix greets, and a taken port is tried again with another.
        let mut failures = Vec::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), routes, extra) {
                Ok(postfix) => return Some(postfix),
                Err(why) => failures.push(why),
            }
        }
        panic!("Postfix did not start:\n{}", failures.join("\n"));
    }

    /// Start Postfix on `port`; why not, with its log, when it does not greet us there.
    fn try_start(port: u16, routes: &Routes<'_>, extra: &[(&str, &str)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (etc, queue, data) = (root.join("etc"), root.join("queue"), root.join("data"));
        for d in [&etc, &queue, &data] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Postfix's daemons run as `postfix` and must reach the queue.
        run("chmod", &["755", &root.display().to_string()]);
        // The queue's folders and owners, as `postfix set-permissions` makes them.
        for d in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            let p = queue.join(d);
            std::fs::create_dir(&p).unwrap();
            run("chown", &["postfix:root", &p.display().to_string()]);
            run("chmod", &["700", &p.display().to_string()]);
        }
        for (d, mode) in [("maildrop", "730"), ("public", "710")] {
            let p = queue.join(d);
            std::fs::create_dir(&p).unwrap();
            run("chown", &["postfix:postdrop", &p.display().to_string()]);
            run("chmod", &[mode, &p.display().to_string()]);
        }
        std::fs::create_dir(queue.join("pid")).unwrap();
        run("chown", &["postfix", &data.display().to_string()]);
        // Debian's master.cf, smtpd on our port only, nothing chrooted.
        let master_cf = std::fs::read_to_string("/etc/postfix/master.cf").unwrap();
        let mut lines = vec![format!("127.0.0.1:{port} inet n - n - - smtpd")];
        for line in master_cf.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with(['#', ' ', '\t']) || fields.len() < 8 {
                lines.push(line.to_string());
            } else if fields[1] == "inet" {
                continue;
            } else {
                let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f[4] = "n".into();
                lines.push(f.join(" "));
            }
        }
        std::fs::write(etc.join("master.cf"), lines.join("\n") + "\n").unwrap();
        let log = root.join("maillog");
        let mut main_cf = vec![
            ("compatibility_level", "3.6".to_string()),
            ("queue_directory", queue.display().to_string()),
            ("data_directory", data.display().to_string()),
            ("myhostname", "relay.paperboy.test".into()),
            ("mydomain", "paperboy.test".into()),
            ("myorigin", "paperboy.test".into()),
            ("mydestination", String::new()),
            ("inet_interfaces", "127.0.0.1".into()),
            ("inet_protocols", "ipv4".into()),
            ("mynetworks", "127.0.0.0/8".into()),
            (
                "relayhost",
                format!("[127.0.0.1]:{}", routes.next_hop.port()),
            ),
            (
                "transport_maps",
                format!(
                    "inline:{{ {}=smtp:[127.0.0.1]:{} }}",
                    routes.bounce_domain,
                    routes.inbound.port()
                ),
            ),
            ("smtp_dns_support_level", "disabled".into()),
            ("maillog_file", log.display().to_string()),
            ("maillog_file_prefixes", root.display().to_string()),
            ("smtp_tls_security_level", "none".into()),
            ("smtpd_tls_security_level", "none".into()),
            ("alias_maps", String::new()),
            ("alias_database", String::new()),
            ("local_recipient_maps", String::new()),
            ("biff", "no".into()),
            // Retry deferred mail (a DSN our listener could not take yet) within seconds.
            ("queue_run_delay", "1s".into()),
            ("minimal_backoff_time", "1s".into()),
            ("maximal_backoff_time", "2s".into()),
        ];
        for (k, v) in extra {
            main_cf.retain(|(key, _)| key != k);
            main_cf.push((k, v.to_string()));
        }
        let text: String = main_cf
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        std::fs::write(etc.join("main.cf"), text).unwrap();
        let master = Command::new(MASTER)
            .args(["-c", &etc.display().to_string(), "-d"])
            .spawn()
            .expect("Postfix's master starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut postfix = Self {
            addr,
            dir,
            master: Daemon(master),
        };
        for _ in 0..100 {
            if let Ok(Some(status)) = postfix.master.0.try_wait() {
                return Err(format!("master on {addr} {status}: {}", postfix.log()));
            }
            if let Some(greeting) = greeting(addr) {
                return if greeting.starts_with("220 relay.paperboy.test ") {
                    Ok(postfix)
                } else {
                    Err(format!("{addr} is not our Postfix: {greeting:?}"))
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "Postfix did not greet on {addr}: {}",
            postfix.log()
        ))
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("maillog")
    }
}

/// The first line `addr` answers with, if it takes a connection and answers within 10 s.
fn greeting(addr: SocketAddr) -> Option<String> {
    use std::io::BufRead;
    let stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream).read_line(&mut line).ok()?;
    Some(line)
}

/// A loopback port free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
