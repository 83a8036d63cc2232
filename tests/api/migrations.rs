//! Upgrades keep what an older schema recorded.

use std::collections::HashMap;

use paperboy::domain::{ArxivId, DigestContent, DigestEntry, DigestKind};
use paperboy::store::{NewDigest, Store};
use sqlx::migrate::Migrator;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_databases;

on_both_databases!(what_was_sent_survives_the_move_to_paper_recipients);

/// The last migration with one `sent_papers` row a (paper, reader).
const BEFORE_RECIPIENTS: i64 = 20261123000005;

/// Two readers and three papers sent in the old table; then the upgrade.
async fn what_was_sent_survives_the_move_to_paper_recipients(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let folder = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut old = Migrator::new(std::path::Path::new(folder)).await.unwrap();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= BEFORE_RECIPIENTS)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let rows = "INSERT INTO subscribers (public_id, email, status, interests, frequency, \
                delivery_hour, timezone, papers_per_digest, send_when_empty, created_at, updated_at, \
                consent_at, confirmed_at) \
                VALUES ('a', 'a@example.org', 'active', '{}', 'daily', 7, 'UTC', 5, TRUE, 1, 1, 1, 1), \
                       ('b', 'b@example.org', 'active', '{}', 'daily', 7, 'UTC', 5, TRUE, 1, 1, 1, 1);
                INSERT INTO sent_papers (paper_id, subscriber_id, version, day) \
                SELECT '2605.00001', id, 2, '2026-05-09' FROM subscribers WHERE public_id = 'a'; \
                INSERT INTO sent_papers (paper_id, subscriber_id, version, day) \
                SELECT '2605.00001', id, 1, '2026-05-08' FROM subscribers WHERE public_id = 'b'; \
                INSERT INTO sent_papers (paper_id, subscriber_id, version, day) \
                SELECT '2605.00002', id, NULL, '2026-05-08' FROM subscribers WHERE public_id = 'b';";
    let ids_sql = "SELECT id FROM subscribers ORDER BY public_id";
    // The same steps on either database's pool: the old schema, its rows, the readers' ids.
    macro_rules! old_schema_with_rows {
        ($pool:expr) => {{
            let pool = $pool;
            old.run(&pool).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
                .execute(&pool)
                .await
                .unwrap();
            let ids: Vec<i64> = sqlx::query_scalar(ids_sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            ids
        }};
    }
    let readers: Vec<i64> = match backend {
        Backend::Sqlite => {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            old_schema_with_rows!(
                sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
                    .await
                    .unwrap()
            )
        }
        Backend::Postgres => old_schema_with_rows!(sqlx::PgPool::connect(&url).await.unwrap()),
    };
    let [a, b] = readers[..] else {
        panic!("two readers: {readers:?}")
    };

    let store = Store::connect(&url).await.expect("the upgrade applies");
    assert!(a < b);
    let ids: Vec<ArxivId> = ["2605.00001", "2605.00002", "2605.00003"]
        .iter()
        .map(|s| ArxivId::parse(s).unwrap())
        .collect();
    let mut before: Vec<String> = store
        .papers_sent_before(&ids)
        .await
        .unwrap()
        .iter()
        .map(|p| p.as_str().to_string())
        .collect();
    before.sort();
    assert_eq!(before, ["2605.00001", "2605.00002"]);

    let all = store.sent_papers(1, 100_000, &ids).await.unwrap();
    let want: HashMap<i64, HashMap<String, Option<u32>>> = HashMap::from([
        (a, HashMap::from([("2605.00001".to_string(), Some(2))])),
        (
            b,
            HashMap::from([
                ("2605.00001".to_string(), Some(1)),
                ("2605.00002".to_string(), None),
            ]),
        ),
    ]);
    assert_eq!(all, want);
    // A batch of readers sees only its own.
    let one = store.sent_papers(b, b + 10, &ids).await.unwrap();
    assert_eq!(one.keys().collect::<Vec<_>>(), [&b]);
    assert!(
        store
            .sent_papers(b + 1, b + 10, &ids)
            .await
            .unwrap()
            .is_empty()
    );

    // Written after the upgrade: a paper sent again in a newer version counts as its latest.
    let third = ArxivId::parse("2605.00003").unwrap();
    for (day, version) in [(10, 1), (11, 2)] {
        let digest = NewDigest {
            subscriber_id: b,
            day: chrono::NaiveDate::from_ymd_opt(2026, 5, day).unwrap(),
            content: DigestContent {
                kind: DigestKind::Personal,
                entries: vec![DigestEntry {
                    paper: third.clone(),
                    version: Some(version),
                    new_version: version > 1,
                    reasons: Vec::new(),
                }],
                weekly: false,
            },
            message_id: format!("<{day}@example.org>"),
        };
        let new = store.insert_digests(&[digest], 1).await.unwrap();
        assert_eq!(new, [b]);
    }
    let sent = store
        .sent_papers(b, b, std::slice::from_ref(&third))
        .await
        .unwrap();
    assert_eq!(sent[&b]["2605.00003"], Some(2));
    store.close().await;
}
