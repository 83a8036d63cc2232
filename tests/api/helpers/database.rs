//! The test databases: a new SQLite file or a new PostgreSQL database per test.

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL test database, dropped when the test ends (its connections closed by force).
struct DroppedAtEnd {
    server: String,
    name: String,
}

impl Drop for DroppedAtEnd {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime: a thread of its own may block on its own one.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&server).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
                })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping the test database {} panicked", self.name),
        }
    }
}

/// The PostgreSQL server the tests use: `None` (the PostgreSQL runs are skipped) when
/// PAPERBOY_TEST_POSTGRES_URL is not set, unless PAPERBOY_REQUIRE_POSTGRES=1 says a
/// skipped run is a failure (CI sets it).
pub fn postgres_url() -> Option<String> {
    match std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("PAPERBOY_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("PAPERBOY_REQUIRE_POSTGRES=1 but PAPERBOY_TEST_POSTGRES_URL is not set")
        }
        Err(_) => {
            eprintln!("PAPERBOY_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run");
            None
        }
    }
}

/// A test's own database; a PostgreSQL one is dropped when this goes.
pub struct TestDatabase {
    pub url: String,
    _dropped_at_end: Option<DroppedAtEnd>,
}

/// A fresh database for one test: a new SQLite file, or a new PostgreSQL database.
/// `None` when PostgreSQL is asked for and not available (see [`postgres_url`]).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => Some(TestDatabase {
            url: format!("sqlite://{}", dir.join("paperboy.db").display()),
            _dropped_at_end: None,
        }),
        Backend::Postgres => {
            let url = postgres_url()?;
            let name = format!(
                "paperboy_test_{}",
                paperboy::tokens::random_id(9)
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .expect("PostgreSQL at PAPERBOY_TEST_POSTGRES_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
            Some(TestDatabase {
                url: format!("{base}/{name}"),
                _dropped_at_end: Some(DroppedAtEnd { server: url, name }),
            })
        }
    }
}
