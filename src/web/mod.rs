//! The web face: HTML pages (subscribe, confirm, preferences, unsubscribe), the JSON API,
//! health and metrics. State is passed explicitly; errors become pages or JSON.

mod admin_api;
mod api;
mod console;
mod error;
mod forms;
mod limit;
mod openapi;
mod pages;
mod views;
mod webhooks;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::admin::Admin;
use crate::bounces::webhooks::Webhooks;
use crate::context::Context;
use crate::digest::Digests;
use crate::health::Health;
use crate::papers::Papers;
use crate::ratings::Ratings;
use crate::services::Services;
use crate::subscriptions::Subscriptions;

/// What handlers are given: the context for settings and links, and the services they
/// call.
#[derive(Clone)]
pub(crate) struct AppState {
    pub ctx: Context,
    pub subs: Subscriptions,
    pub admin: Admin,
    pub ratings: Ratings,
    pub digests: Digests,
    pub papers: Papers,
    pub health: Health,
    pub operators: crate::operators::Operators,
    pub audit: crate::audit::Audit,
    pub stats: crate::stats::Stats,
    /// The console's CSV upload: the CLI's import service.
    pub import: crate::import::Import,
    pub webhooks: Webhooks,
    limiter: Arc<limit::PostLimiter>,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(services: Services, webhooks: Webhooks) -> Self {
        let limiter = limit::PostLimiter::new(&services.ctx.config.limits);
        Self {
            webhooks,
            limiter: Arc::new(limiter),
            metrics: metrics_handle(),
            subs: services.subscriptions,
            admin: services.admin,
            ratings: services.ratings,
            digests: services.digests,
            papers: services.papers,
            health: services.health,
            operators: services.operators,
            audit: services.audit,
            stats: services.stats,
            import: services.import,
            ctx: services.ctx,
        }
    }
}

/// The process-wide Prometheus recorder (installed once; tests start many apps).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

pub(crate) fn router(state: AppState) -> Router {
    let max_body = state.ctx.config.limits.max_body_bytes;
    Router::new()
        .merge(pages::routes())
        .merge(console::routes())
        .nest(
            "/api/v1",
            api::routes()
                .merge(admin_api::routes())
                .merge(openapi::routes()),
        )
        // Their own body limit (set inside, so it wins over the one below).
        .nest(
            "/webhooks",
            webhooks::routes(state.ctx.config.webhooks.max_body_bytes),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limit::limit_posts,
        ))
        .layer(middleware::from_fn(track))
        .layer(security_header(
            "content-security-policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        // Links carry tokens: never leak them to another site.
        .layer(security_header("referrer-policy", "no-referrer"))
        .layer(security_header("cross-origin-opener-policy", "same-origin"))
        .with_state(state)
}

fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// Serve until ctrl-c / SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let limiter = state.limiter.clone();
    let operators = state.operators.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.forget_idle();
            operators.forget_idle();
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Count and time every request by route and status.
async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("paperboy_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("paperboy_http_request_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.admin.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable\n",
            )
                .into_response()
        }
    }
}

/// Whether this instance can do its work: every check's state, 503 when one fails (for a
/// load balancer or an orchestrator; `/healthz` only says the process answers).
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.health.readiness().await;
    let status = if readiness.ready() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(readiness),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(counts) = state.admin.counts().await {
        for (status, n) in counts {
            metrics::gauge!("paperboy_subscribers", "status" => status.as_str()).set(n as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The client's address: the peer, or the last X-Forwarded-For hop when configured to
/// trust a proxy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Self {
        if trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Self(forwarded);
            }
        }
        Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        )
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(
            parts,
            state.ctx.config.trust_forwarded_for,
        ))
    }
}
