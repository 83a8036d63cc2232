//! Test helpers, by concern: the app and its client ([`app`]), the test databases
//! ([`database`]), SMTP servers ([`smtp`], [`postfix`]), an IMAP server ([`dovecot`]), a headless browser ([`browser`]) and built pages
//! ([`pages`]). Everything is re-exported here, so tests name `crate::helpers::X`.

mod app;
mod browser;
mod daemon;
mod database;
mod dovecot;
mod pages;
mod postfix;
mod smtp;

pub use app::*;
pub use browser::*;
pub use database::*;
pub use dovecot::*;
pub use pages::*;
pub use postfix::*;
pub use smtp::*;

/// Run an async test body once per backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// The operator a test acts as, for the audit log.
pub fn operator() -> paperboy::domain::Actor {
    paperboy::domain::Actor::Cli {
        user: "test".into(),
        host: "test host".into(),
    }
}
