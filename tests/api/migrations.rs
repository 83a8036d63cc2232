//! Upgrades keep what an older schema recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use paperboy::domain::{ArxivId, DigestContent, DigestEntry, DigestKind};
use paperboy::store::{NewDigest, Store};
use sqlx::migrate::Migrator;

use crate::helpers::{Backend, fresh_database};
use crate::on_both_databases;

on_both_databases!(what_was_sent_survives_the_move_to_paper_recipients);

/// One table as both catalogues can describe it: columns (name → type, nullable) and its
/// keys and indexes, each named by its columns in order.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, (String, bool)>,
    primary_key: Vec<String>,
    unique: BTreeSet<Vec<String>>,
    /// Indexes made by CREATE INDEX: name → (unique, columns).
    indexes: BTreeMap<String, (bool, Vec<String>)>,
}

/// The same column type on either side. SQLite's declared type maps to PostgreSQL's as the
/// migrations write them: INTEGER (64-bit in SQLite) is BIGINT, TEXT is TEXT, BOOLEAN is
/// BOOLEAN, BLOB is BYTEA, REAL (8 bytes in SQLite) is DOUBLE PRECISION. Anything else is named as is, so a new type shows up as a mismatch.
fn sqlite_type_as_postgres(declared: &str) -> String {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" => "bigint".into(),
        "TEXT" => "text".into(),
        "BOOLEAN" => "boolean".into(),
        "BLOB" => "bytea".into(),
        "REAL" => "double precision".into(),
        other => format!("sqlite {other}"),
    }
}

async fn sqlite_schema(url: &str) -> BTreeMap<String, Table> {
    use sqlx::Row;
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for name in names {
        let mut columns = BTreeMap::new();
        let mut primary_key = Vec::new();
        // pragma table_info: cid, name, type, notnull, dflt_value, pk (position in the key).
        let rows = sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY pk, cid",
        )
        .bind(&name)
        .fetch_all(&pool)
        .await
        .unwrap();
        for r in rows {
            let column: String = r.get(0);
            let pk: i64 = r.get(3);
            // A key column cannot be NULL in PostgreSQL; in SQLite only a rowid key is kept
            // from it, but the intent of a key is the same.
            let nullable = r.get::<i64, _>(2) == 0 && pk == 0;
            if pk > 0 {
                primary_key.push(column.clone());
            }
            columns.insert(column, (sqlite_type_as_postgres(r.get(1)), nullable));
        }
        let mut unique = BTreeSet::new();
        let mut indexes = BTreeMap::new();
        // pragma index_list: origin `c` is CREATE INDEX, `u` a UNIQUE constraint, `pk` the key.
        let list = sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
            .bind(&name)
            .fetch_all(&pool)
            .await
            .unwrap();
        for index in list {
            let index_name: String = index.get(0);
            let cols: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index_name)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            match index.get::<String, _>(2).as_str() {
                "c" => {
                    indexes.insert(index_name, (index.get::<i64, _>(1) == 1, cols));
                }
                "u" => {
                    unique.insert(cols);
                }
                _ => assert_eq!(cols, primary_key, "{name}: the key's index is the key"),
            }
        }
        tables.insert(
            name,
            Table {
                columns,
                primary_key,
                unique,
                indexes,
            },
        );
    }
    pool.close().await;
    tables
}

async fn postgres_schema(url: &str) -> BTreeMap<String, Table> {
    use sqlx::Row;
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES' \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for r in rows {
        let table = tables.entry(r.get(0)).or_insert_with(|| Table {
            columns: BTreeMap::new(),
            primary_key: Vec::new(),
            unique: BTreeSet::new(),
            indexes: BTreeMap::new(),
        });
        table.columns.insert(r.get(1), (r.get(2), r.get(3)));
    }
    // Every index with its columns in order, and whether a constraint (key, UNIQUE) owns it.
    let indexes = sqlx::query(
        "SELECT t.relname::text, c.relname::text, i.indisprimary, i.indisunique, \
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid), \
                ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                      ORDER BY k.n) \
         FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for r in indexes {
        let table_name: String = r.get(0);
        let table = tables
            .get_mut(&table_name)
            .unwrap_or_else(|| panic!("an index on {table_name}, which has no columns"));
        let cols: Vec<String> = r.get(5);
        let (primary, unique, constraint): (bool, bool, bool) = (r.get(2), r.get(3), r.get(4));
        if primary {
            table.primary_key = cols;
        } else if constraint {
            table.unique.insert(cols);
        } else {
            table.indexes.insert(r.get(1), (unique, cols));
        }
    }
    pool.close().await;
    tables
}

/// Both databases' migrations make the same schema: the same tables, the same columns with
/// the same types (as mapped above) and nullability, the same keys, UNIQUE constraints and
/// indexes. Read from each database's own catalogue after `Store::connect` migrated it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_schemas_match() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pg) = fresh_database(Backend::Postgres, dir.path()).await else {
        return;
    };
    let sqlite = fresh_database(Backend::Sqlite, dir.path()).await.unwrap();
    let (sqlite_url, pg_url) = (sqlite.url.as_str(), pg.url.as_str());
    for url in [sqlite_url, pg_url] {
        Store::connect(url)
            .await
            .expect("migrations apply")
            .close()
            .await;
    }
    let sqlite = sqlite_schema(sqlite_url).await;
    let postgres = postgres_schema(pg_url).await;
    assert!(
        sqlite.contains_key("subscribers") && sqlite.contains_key("digests"),
        "the catalogue was read: {:?}",
        sqlite.keys()
    );
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (name, table) in &sqlite {
        assert_eq!(
            table, &postgres[name],
            "table {name}: SQLite, then PostgreSQL"
        );
    }
}

/// The last migration with one `sent_papers` row a (paper, reader).
const BEFORE_RECIPIENTS: i64 = 20261123000005;

/// Two readers and three papers sent in the old table; then the upgrade.
async fn what_was_sent_survives_the_move_to_paper_recipients(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let url = db.url.clone();
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
