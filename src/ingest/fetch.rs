//! Polite HTTP: a User-Agent with a contact, connect and read timeouts, a response size cap,
//! retries with backoff on 429 / 5xx / network errors honouring Retry-After, conditional
//! requests, and a minimum spacing between requests to one host.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode, header};
use tokio::sync::Mutex;

use crate::config::IngestConfig;

/// Never wait longer than this for one Retry-After.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
#[error("fetching {url}: {reason}")]
pub struct FetchError {
    pub url: String,
    pub reason: String,
}

/// ETag / Last-Modified of the last good response, sent back as If-None-Match /
/// If-Modified-Since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

pub(crate) enum Fetched {
    Fresh {
        body: Vec<u8>,
        validators: Validators,
    },
    NotModified,
}

pub(crate) struct Fetcher {
    client: Client,
    retries: u32,
    backoff: Duration,
    max_bytes: usize,
    last_request: Mutex<HashMap<String, Instant>>,
}

enum Attempt {
    Done(Result<Fetched, String>),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
}

impl Fetcher {
    pub fn new(c: &IngestConfig) -> Result<Self, FetchError> {
        let client = Client::builder()
            .user_agent(c.user_agent.clone())
            .connect_timeout(Duration::from_secs(c.connect_timeout_seconds))
            .read_timeout(Duration::from_secs(c.read_timeout_seconds))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError {
                url: String::new(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            retries: c.retries,
            backoff: Duration::from_millis(c.backoff_ms),
            max_bytes: c.max_response_bytes,
            last_request: Mutex::new(HashMap::new()),
        })
    }

    /// GET `url`. `spacing`: requests to the same host are at least this far apart.
    pub async fn get(
        &self,
        url: &str,
        cached: &Validators,
        spacing: Option<Duration>,
    ) -> Result<Fetched, FetchError> {
        let fail = |reason: String| FetchError {
            url: url.to_string(),
            reason,
        };
        let host = reqwest::Url::parse(url)
            .map_err(|e| fail(format!("not a URL: {e}")))?
            .host_str()
            .unwrap_or_default()
            .to_string();
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if let Some(gap) = spacing {
                self.wait_turn(&host, gap).await;
            }
            match self.attempt(url, cached).await {
                Attempt::Done(result) => return result.map_err(fail),
                Attempt::Retry { reason, wait } => {
                    tracing::warn!(url, attempt, %reason, "fetch failed, will retry");
                    last = reason;
                    if attempt < self.retries {
                        let backoff = self.backoff * 2u32.saturating_pow(attempt);
                        tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_RETRY_AFTER)).await;
                    }
                }
            }
        }
        Err(fail(format!(
            "gave up after {} attempts: {last}",
            self.retries + 1
        )))
    }

    async fn wait_turn(&self, host: &str, gap: Duration) {
        let mut last = self.last_request.lock().await;
        if let Some(t) = last.get(host) {
            let since = t.elapsed();
            if since < gap {
                tokio::time::sleep(gap - since).await;
            }
        }
        last.insert(host.to_string(), Instant::now());
    }

    async fn attempt(&self, url: &str, cached: &Validators) -> Attempt {
        let mut req = self.client.get(url);
        if let Some(etag) = &cached.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &cached.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: network_reason(&e),
                    wait: None,
                };
            }
        };
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Attempt::Done(Ok(Fetched::NotModified));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry {
                reason: format!("HTTP {status}"),
                wait: retry_after(resp.headers()),
            };
        }
        if !status.is_success() {
            let body = read_capped(&mut resp, 4096).await.unwrap_or_default();
            let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Attempt::Done(Err(format!("HTTP {status}: {}", snippet.trim())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Attempt::Done(Err(format!(
                "the response is larger than the {} byte limit",
                self.max_bytes
            )));
        }
        let header_text = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header_text(header::ETAG),
            last_modified: header_text(header::LAST_MODIFIED),
        };
        match read_capped(&mut resp, self.max_bytes).await {
            Ok(body) => Attempt::Done(Ok(Fetched::Fresh { body, validators })),
            Err(ReadError::TooLarge) => Attempt::Done(Err(format!(
                "the response is larger than the {} byte limit",
                self.max_bytes
            ))),
            Err(ReadError::Network(reason)) => Attempt::Retry { reason, wait: None },
        }
    }
}

enum ReadError {
    TooLarge,
    Network(String),
}

async fn read_capped(resp: &mut reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(ReadError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(ReadError::Network(network_reason(&e))),
        }
    }
}

fn network_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // The innermost cause says the most ("connection closed before message completed").
        let mut source: &dyn std::error::Error = e;
        while let Some(s) = source.source() {
            source = s;
        }
        format!("network error: {source}")
    }
}

/// Retry-After as seconds or as an HTTP date.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (when.timestamp() - crate::clock::timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
