//! Per-client rate limit on every POST and the paper search: a GCRA bucket per client
//! address (governor).

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{AppState, ClientIp};
use crate::config::LimitsConfig;

pub(crate) struct PostLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl PostLimiter {
    pub fn new(c: &LimitsConfig) -> Self {
        let per_minute = NonZeroU32::new(c.posts_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(c.post_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Ok, or the number of seconds to wait.
    fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs() + 1)
    }

    /// Drop buckets of clients that are back to full, so memory stays bounded.
    pub(crate) fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

pub(crate) async fn limit_posts(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    // One-click unsubscribes arrive from mail providers' servers, many readers behind one
    // address; the signed token is what protects them, and a 429 would lose an unsubscribe.
    // Providers' webhooks likewise: a few provider hosts post every reader's events, in
    // bursts after a send, and their signature or credentials protect them.
    // The paper search reads the database on every keystroke a form sends: limited too.
    let path = req.uri().path();
    let search = req.method() == Method::GET && path == "/api/v1/papers";
    let exempt = path.starts_with("/unsubscribe/") || path.starts_with("/webhooks/");
    if search || (req.method() == Method::POST && !exempt) {
        let (parts, body) = req.into_parts();
        let ip = ClientIp::from_parts(&parts, state.ctx.config.trust_forwarded_for);
        if let Some(ip) = ip.0
            && let Err(wait) = state.limiter.check(ip)
        {
            metrics::counter!("paperboy_rate_limited_total").increment(1);
            let api = parts.uri.path().starts_with("/api/");
            let body = if api {
                format!("{{\"error\":\"too many requests: try again in {wait} s\"}}")
            } else {
                format!("Too many requests from your address. Try again in {wait} seconds.\n")
            };
            let ct = if api {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, wait.to_string()),
                    (header::CONTENT_TYPE, ct.to_string()),
                ],
                body,
            )
                .into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(req).await
}
