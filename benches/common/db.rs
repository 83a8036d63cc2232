//! The database a benchmark writes its setup into: the embedded default, or a database of its
//! own on the PostgreSQL server named by BENCH_POSTGRES_URL. Shared by the benches that set
//! up rows with plain SQL (`#[path = "common/db.rs"] mod db;`).

use std::future::Future;

pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// `$body` with `$p` the pool, whichever database it is (the statements are the same).
#[macro_export]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($p) => $body,
            $crate::db::Db::Postgres($p) => $body,
        }
    };
}

pub async fn pool_of(url: &str) -> Db {
    let bench = "the bench database";
    match url.starts_with("postgres") {
        false => Db::Sqlite(sqlx::SqlitePool::connect(url).await.expect(bench)),
        true => Db::Postgres(sqlx::PgPool::connect(url).await.expect(bench)),
    }
}

/// Run `bench` on the URL of a database: a SQLite file in `dir`, or, with BENCH_POSTGRES_URL
/// set, a database of its own on that server, dropped afterwards. Also returns which.
pub async fn on_bench_database<T, F, Fut>(dir: &std::path::Path, bench: F) -> (&'static str, T)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = T>,
{
    let Ok(admin) = std::env::var("BENCH_POSTGRES_URL") else {
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        return ("SQLite", bench(url).await);
    };
    ("PostgreSQL", on_postgres(&admin, bench).await)
}

/// Run `bench` on the URL of a database of its own on the PostgreSQL server at `admin` (any
/// database there the user may create databases from), dropped afterwards.
pub async fn on_postgres<T, F, Fut>(admin: &str, bench: F) -> T
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = T>,
{
    let name = format!("paperboy_bench_{}", std::process::id());
    let server: sqlx::PgPool = sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .connect(admin)
        .await
        .expect("the PostgreSQL server reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&server)
        .await
        .unwrap();
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').expect("a URL with a database").0
    );
    let out = bench(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&server)
    .await
    .unwrap();
    out
}
