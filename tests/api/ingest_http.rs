//! The whole fetch path against a local HTTP server serving the real captures, with the
//! failures a source can have: 429 and 5xx (retried, Retry-After honoured), 304, an error
//! page, an oversized or truncated body, a dropped connection, a timeout, a 404. The Daily
//! Papers page for 2026-09-28 is the real page capture; for other days it is built from the
//! real API capture.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use paperboy::config::Config;
use paperboy::ingest::{IngestError, Ingestor};
use paperboy::store::Store;

use crate::helpers::{Backend, fresh_database, hf_page};
use crate::hf_page::{DEEP, PAGE, PAGE_DAY, PAPERS, TITLES, ids, replace_once, without_cards};
use crate::on_both_databases;

const HF_DAY: &[u8] = include_bytes!("../fixtures/hf_json/daily_papers_2026-05-08.json");
const RSS: &[u8] = include_bytes!("../fixtures/arxiv_rss/distill_rss_cs.LG_2026-04-27.xml");
const ATOM: &[u8] = include_bytes!("../fixtures/arxiv_atom/query_transformer_cs.LG_2026-06-14.xml");
static HF_PAGE: LazyLock<String> =
    LazyLock::new(|| hf_page(Some(std::str::from_utf8(HF_DAY).unwrap()), &[]));

/// What the server does with the next request to a path, before serving the capture.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Status(u16, Option<&'static str>),
    ErrorPage,
    /// This body, with status 200.
    Body(&'static str),
    DropMidBody,
    Slow(Duration),
}

#[derive(Clone, Debug)]
struct Hit {
    path_and_query: String,
    at: Instant,
    headers: HeaderMap,
}

#[derive(Clone, Default)]
struct Source {
    faults: Arc<Mutex<HashMap<&'static str, VecDeque<Fault>>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Source {
    fn fail_next(&self, path: &'static str, faults: &[Fault]) {
        self.faults
            .lock()
            .unwrap()
            .entry(path)
            .or_default()
            .extend(faults.iter().cloned());
    }
    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path_and_query.starts_with(path))
            .cloned()
            .collect()
    }
}

async fn serve(State(source): State<Source>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    source.hits.lock().unwrap().push(Hit {
        path_and_query: pq,
        at: Instant::now(),
        headers: req.headers().clone(),
    });
    let (key, body, etag): (&'static str, &'static [u8], &str) = if path == "/api/daily_papers" {
        ("/api/daily_papers", HF_DAY, "\"hf-v1\"")
    } else if path == "/papers/date/2026-09-28" {
        ("/papers/date/", PAGE.as_bytes(), "\"page-real\"")
    } else if path.starts_with("/papers/date/") {
        ("/papers/date/", HF_PAGE.as_bytes(), "\"page-v1\"")
    } else if path.starts_with("/rss/") {
        ("/rss/", RSS, "\"rss-v1\"")
    } else if path == "/api/query" {
        ("/api/query", ATOM, "\"atom-v1\"")
    } else {
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    };
    let fault = source
        .faults
        .lock()
        .unwrap()
        .get_mut(key)
        .and_then(VecDeque::pop_front);
    match fault {
        Some(Fault::Status(code, retry_after)) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                "<html>unavailable</html>",
            )
                .into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, s.parse().unwrap());
            }
            return r;
        }
        Some(Fault::ErrorPage) => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<!DOCTYPE html><html><body><h1>We are down for maintenance</h1></body></html>",
            )
                .into_response();
        }
        Some(Fault::Body(body)) => return body.into_response(),
        Some(Fault::DropMidBody) => {
            let half = body[..body.len() / 2].to_vec();
            let stream = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped",
                )),
            ]);
            return Response::builder()
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, etag)], body).into_response()
}

struct Harness {
    source: Source,
    store: Store,
    ingestor: Ingestor,
    _db: crate::helpers::TestDatabase,
    _dir: tempfile::TempDir,
}

async fn harness(backend: Backend, overrides: &[(&str, toml::Value)]) -> Option<Harness> {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(backend, dir.path()).await?;
    let source = Source::default();
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(source.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut pairs: Vec<(&str, toml::Value)> = vec![
        ("ingest.huggingface_url", base.clone().into()),
        ("ingest.arxiv_rss_url", base.clone().into()),
        ("ingest.arxiv_api_url", base.clone().into()),
        (
            "ingest.user_agent",
            "paperboy-test (+mailto:ops@paperboy.test)".into(),
        ),
        ("ingest.backoff_ms", 50.into()),
        ("ingest.retries", 3.into()),
        ("ingest.arxiv_api_interval_ms", 300.into()),
        ("ingest.arxiv_api_batch", 20.into()),
        ("ingest.read_timeout_seconds", 2.into()),
    ];
    pairs.extend(overrides.iter().cloned());
    let config = Config::with_overrides(&pairs).unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let ingestor = Ingestor::new(store.clone(), &config.ingest).unwrap();
    Some(Harness {
        source,
        store,
        ingestor,
        _db: db,
        _dir: dir,
    })
}

const DAY: Option<NaiveDate> = NaiveDate::from_ymd_opt(2026, 5, 8);

on_both_databases!(
    fetches_a_day_politely,
    retries_and_gives_up_cleanly,
    refuses_bad_documents,
    reads_the_daily_papers_page,
    reads_the_real_page
);

async fn fetches_a_day_politely(backend: Backend) {
    let Some(h) = harness(backend, &[]).await else {
        return;
    };
    let report = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap();
    assert_eq!((report.ids.len(), report.counts.new), (37, 37));
    let hf = h.source.hits("/api/daily_papers");
    assert_eq!(hf.len(), 1);
    assert_eq!(hf[0].path_and_query, "/api/daily_papers?date=2026-05-08");
    assert_eq!(
        hf[0].headers[header::USER_AGENT],
        "paperboy-test (+mailto:ops@paperboy.test)"
    );

    // The 37 papers lack categories: looked up in batches of 20, 300 ms apart.
    let api = h.source.hits("/api/query");
    assert_eq!(api.len(), 2);
    assert!(
        api[0].path_and_query.contains("id_list=2605.05242,"),
        "{}",
        api[0].path_and_query
    );
    assert_eq!(api[0].path_and_query.matches(',').count(), 19);
    assert_eq!(api[1].path_and_query.matches(',').count(), 16);
    assert!(
        api[1].at - api[0].at >= Duration::from_millis(290),
        "spaced: {:?}",
        api[1].at - api[0].at
    );

    // Conditional request: the second run sends the ETag and learns nothing changed.
    let again = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap();
    assert!(again.not_modified);
    let hf = h.source.hits("/api/daily_papers");
    assert_eq!(hf[1].headers[header::IF_NONE_MATCH], "\"hf-v1\"");
    assert_eq!(h.store.papers(DAY, 100).await.unwrap().len(), 37);

    // The arXiv feed.
    let rss = h.ingestor.arxiv_feed().await.unwrap();
    assert_eq!(rss.ids.len(), 3);
    assert_eq!(
        h.source.hits("/rss/")[0].path_and_query,
        "/rss/cs.LG+cs.CV+cs.CL+cs.AI+stat.ML"
    );
}

async fn retries_and_gives_up_cleanly(backend: Backend) {
    let Some(h) = harness(backend, &[]).await else {
        return;
    };
    // 429 with Retry-After, a 503, a dropped connection: retried, then served.
    h.source.fail_next(
        "/api/daily_papers",
        &[
            Fault::Status(429, Some("1")),
            Fault::Status(503, None),
            Fault::DropMidBody,
        ],
    );
    let start = Instant::now();
    let report = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap();
    assert_eq!(report.counts.new, 37);
    assert_eq!(h.source.hits("/api/daily_papers").len(), 4);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let before = h.store.papers(DAY, 100).await.unwrap();

    // Always failing: gives up after 1 + 3 attempts, records the run, changes nothing.
    let other = NaiveDate::from_ymd_opt(2026, 5, 9).unwrap();
    h.source
        .fail_next("/api/daily_papers", &[Fault::Status(500, None); 4]);
    let err = h.ingestor.huggingface_day(other).await.unwrap_err();
    assert!(matches!(err, IngestError::Fetch(_)), "{err}");
    assert!(
        err.to_string()
            .contains("gave up after 4 attempts: HTTP 500"),
        "{err}"
    );
    assert_eq!(h.source.hits("/api/daily_papers").len(), 8);

    // A timeout (read timeout 2 s) on every attempt.
    h.source.fail_next(
        "/api/daily_papers",
        &[Fault::Slow(Duration::from_secs(3)); 4],
    );
    let err = h.ingestor.huggingface_day(other).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");

    // A 404 is answered at once, not retried.
    let hits = h.source.hits("/api/daily_papers").len();
    h.source
        .fail_next("/api/daily_papers", &[Fault::Status(404, None)]);
    let err = h.ingestor.huggingface_day(other).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(h.source.hits("/api/daily_papers").len(), hits + 1);

    // Nobody listening.
    let down = harness(
        backend,
        &[("ingest.huggingface_url", "http://127.0.0.1:9".into())],
    )
    .await
    .unwrap();
    let err = down.ingestor.huggingface_day(other).await.unwrap_err();
    assert!(err.to_string().contains("could not connect"), "{err}");

    let runs = h.store.recent_runs(20).await.unwrap();
    let failed: Vec<_> = runs.iter().filter(|r| r.error.is_some()).collect();
    assert_eq!(failed.len(), 3, "{runs:?}");
    assert!(
        failed
            .iter()
            .all(|r| r.day.as_deref() == Some("2026-05-09") && r.finished_at.is_some())
    );
    let after = h.store.papers(DAY, 100).await.unwrap();
    assert_eq!(after.len(), before.len());
}

async fn refuses_bad_documents(backend: Backend) {
    let Some(h) = harness(backend, &[("ingest.max_response_bytes", 100_000.into())]).await else {
        return;
    };
    // Larger than the cap (the capture is 213 kB).
    let err = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than the 100000 byte limit"),
        "{err}"
    );
    assert_eq!(h.source.hits("/api/daily_papers").len(), 1, "not retried");

    let Some(h) = harness(backend, &[]).await else {
        return;
    };
    // An HTML error page with status 200.
    h.source.fail_next("/api/daily_papers", &[Fault::ErrorPage]);
    let err = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap_err();
    assert!(matches!(err, IngestError::Parse(_)), "{err}");
    assert!(err.to_string().contains("not valid JSON"));
    // The RSS endpoint answering with an error page.
    h.source.fail_next("/rss/", &[Fault::ErrorPage]);
    let err = h.ingestor.arxiv_feed().await.unwrap_err();
    assert!(err.to_string().contains("arXiv RSS feed"), "{err}");
    // A client error is answered at once, with what the server said.
    h.source.fail_next("/rss/", &[Fault::Status(403, None)]);
    let err = h.ingestor.arxiv_feed().await.unwrap_err();
    assert!(err.to_string().contains("HTTP 403"), "{err}");
    assert_eq!(h.source.hits("/rss/").len(), 2);
    assert_eq!(h.store.paper_count().await.unwrap(), 0);
    // Nothing was cached from a failed run: the next good fetch is unconditional.
    h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap();
    let last = h.source.hits("/api/daily_papers").pop().unwrap();
    assert!(!last.headers.contains_key(header::IF_NONE_MATCH));
}

async fn reads_the_daily_papers_page(backend: Backend) {
    let Some(h) = harness(backend, &[("ingest.huggingface_mode", "page".into())]).await else {
        return;
    };
    // A 503 first: retried as in API mode.
    h.source
        .fail_next("/papers/date/", &[Fault::Status(503, None)]);
    let report = h.ingestor.huggingface_day(DAY.unwrap()).await.unwrap();
    assert_eq!((report.ids.len(), report.counts.new), (37, 37));
    let page = h.source.hits("/papers/date/");
    assert_eq!(page.len(), 2);
    assert_eq!(page[1].path_and_query, "/papers/date/2026-05-08");
    assert!(h.source.hits("/api/daily_papers").is_empty());
    assert_eq!(h.source.hits("/api/query").len(), 2, "categories looked up");
    let stored = h.store.papers(DAY, 100).await.unwrap();
    assert_eq!(stored.len(), 37);
    assert_eq!(
        (stored[0].paper.id.as_str(), stored[0].paper.upvotes),
        ("2605.05242", Some(86))
    );
    // Conditional request on the page's URL.
    assert!(
        h.ingestor
            .huggingface_day(DAY.unwrap())
            .await
            .unwrap()
            .not_modified
    );
    assert_eq!(
        h.source.hits("/papers/date/")[2].headers[header::IF_NONE_MATCH],
        "\"page-v1\""
    );

    // Neither the embedded data nor cards: an error page, then data-props that is not JSON.
    let bad = hf_page(Some("[{\"paper\":"), &[]).leak();
    h.source
        .fail_next("/papers/date/", &[Fault::ErrorPage, Fault::Body(bad)]);
    let other = NaiveDate::from_ymd_opt(2026, 5, 9).unwrap();
    for expected in ["no div.SVELTE_HYDRATER", "not the expected JSON"] {
        let err = h.ingestor.huggingface_day(other).await.unwrap_err();
        assert!(matches!(err, IngestError::Parse(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with("Hugging Face Daily Papers page: "), "{msg}");
        assert!(
            msg.contains(expected) && msg.contains("no paper cards"),
            "{msg}"
        );
    }
    let runs = h.store.recent_runs(2).await.unwrap();
    assert!(runs.iter().all(|r| {
        r.source == "hugging_face"
            && r.day.as_deref() == Some("2026-05-09")
            && r.error
                .as_deref()
                .is_some_and(|e| e.contains("no paper cards"))
    }));
    assert_eq!(
        h.store.paper_count().await.unwrap(),
        37 + 5,
        "the page's and arXiv's"
    );
    let papers =
        |s: Vec<paperboy::store::StoredPaper>| s.into_iter().map(|s| s.paper).collect::<Vec<_>>();
    assert_eq!(
        papers(h.store.papers(DAY, 100).await.unwrap()),
        papers(stored)
    );
}

async fn reads_the_real_page(backend: Backend) {
    let Some(h) = harness(backend, &[("ingest.huggingface_mode", "page".into())]).await else {
        return;
    };
    let asked = NaiveDate::from_ymd_opt(2026, 9, 27).unwrap();
    let failed = |e: IngestError| {
        assert!(matches!(e, IngestError::Parse(_)), "{e}");
        e.to_string()
    };
    // Asked for the 27th, answered with the 28th's page: refused, naming both days.
    h.source.fail_next("/papers/date/", &[Fault::Body(PAGE)]);
    let msg = failed(h.ingestor.huggingface_day(asked).await.unwrap_err());
    assert_eq!(
        msg,
        "Hugging Face Daily Papers page: the page is for 2026-09-28 (its dateString), \
         not for 2026-09-27 as asked"
    );
    assert_eq!(
        h.source.hits("/papers/date/")[0].path_and_query,
        "/papers/date/2026-09-27"
    );

    // Hostile variants of the real page, served for the right day.
    let bare = without_cards(PAGE);
    let props = crate::hf_page::data_props(&bare);
    let hostile: [(String, &str); 4] = [
        (
            replace_once(
                &bare,
                "&quot;dailyPapers&quot;:[",
                "&quot;dailyPapers&quot;:[}",
            ),
            "not the expected JSON",
        ),
        (
            replace_once(&bare, "&quot;dailyPapers&quot;:", "&quot;papers&quot;:"),
            "missing field `dailyPapers`",
        ),
        (
            replace_once(
                &bare,
                props,
                &format!(r#"data-props="{DEEP}{}""#, "[".repeat(8_000_000)),
            ),
            "recursion limit exceeded",
        ),
        (PAGE[..PAGE.len() / 2].to_string(), "no div.SVELTE_HYDRATER"),
    ];
    for (page, expected) in hostile {
        h.source
            .fail_next("/papers/date/", &[Fault::Body(page.leak())]);
        let msg = failed(h.ingestor.huggingface_day(PAGE_DAY).await.unwrap_err());
        assert!(
            msg.contains(expected) && msg.contains("no paper cards"),
            "{msg}"
        );
    }
    // Over the size cap (32 MiB by default): refused before it is parsed.
    let over = replace_once(
        PAGE,
        props,
        &format!(r#"data-props="{}""#, " ".repeat(33 * 1024 * 1024)),
    );
    h.source
        .fail_next("/papers/date/", &[Fault::Body(over.leak())]);
    let err = h.ingestor.huggingface_day(PAGE_DAY).await.unwrap_err();
    assert!(matches!(err, IngestError::Fetch(_)), "{err}");
    assert!(err.to_string().contains("byte limit"), "{err}");

    assert_eq!(h.store.paper_count().await.unwrap(), 0, "nothing stored");
    assert!(h.source.hits("/api/query").is_empty());
    let runs = h.store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 6);
    assert!(
        runs.iter()
            .all(|r| r.error.is_some() && r.finished_at.is_some())
    );
    assert_eq!(runs[5].day.as_deref(), Some("2026-09-27"));
    assert!(
        runs[..5]
            .iter()
            .all(|r| r.day.as_deref() == Some("2026-09-28"))
    );

    // The page itself.
    let report = h.ingestor.huggingface_day(PAGE_DAY).await.unwrap();
    assert_eq!(
        report.ids.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
        ids()
    );
    assert_eq!((report.counts.new, report.counts.updated), (28, 0));
    let page = h.source.hits("/papers/date/");
    assert_eq!(
        page.last().unwrap().path_and_query,
        "/papers/date/2026-09-28"
    );
    assert!(
        !page
            .last()
            .unwrap()
            .headers
            .contains_key(header::IF_NONE_MATCH)
    );
    // The 28 lack categories: looked up in two batches (20, 8).
    let api = h.source.hits("/api/query");
    assert_eq!(api.len(), 2);
    assert!(
        api[0]
            .path_and_query
            .contains("id_list=2609.31620,2609.18703,")
    );
    assert_eq!(
        (
            api[0].path_and_query.matches(',').count(),
            api[1].path_and_query.matches(',').count()
        ),
        (19, 7)
    );

    let stored = h.store.papers(Some(PAGE_DAY), 100).await.unwrap();
    assert_eq!(stored.len(), 28);
    for &(id, upvotes, comments, authors) in &PAPERS {
        let p = &stored
            .iter()
            .find(|s| s.paper.id.as_str() == id)
            .unwrap()
            .paper;
        assert_eq!(
            (p.upvotes, p.comments, p.authors.len()),
            (Some(upvotes), Some(comments), authors),
            "{id}"
        );
        assert!(!p.abstract_text.is_empty(), "{id}");
    }
    for (i, title) in TITLES {
        let p = &stored
            .iter()
            .find(|s| s.paper.id.as_str() == PAPERS[i].0)
            .unwrap()
            .paper;
        assert_eq!(p.title, title);
    }
    // Most upvoted first.
    assert_eq!(
        (stored[0].paper.id.as_str(), stored[0].paper.upvotes),
        ("2609.31620", Some(110))
    );
}
