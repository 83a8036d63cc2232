//! The reader pages' templates (built into the binary, rendered with tera) and static files.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tera::{Context, Tera};

const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../assets/pages/base.html")),
    (
        "fields.html",
        include_str!("../../assets/pages/fields.html"),
    ),
    (
        "message.html",
        include_str!("../../assets/pages/message.html"),
    ),
    (
        "subscribe.html",
        include_str!("../../assets/pages/subscribe.html"),
    ),
    (
        "check_inbox.html",
        include_str!("../../assets/pages/check_inbox.html"),
    ),
    (
        "confirm.html",
        include_str!("../../assets/pages/confirm.html"),
    ),
    (
        "confirmed.html",
        include_str!("../../assets/pages/confirmed.html"),
    ),
    (
        "preferences.html",
        include_str!("../../assets/pages/preferences.html"),
    ),
    (
        "unsubscribe.html",
        include_str!("../../assets/pages/unsubscribe.html"),
    ),
    (
        "unsubscribed.html",
        include_str!("../../assets/pages/unsubscribed.html"),
    ),
    ("rate.html", include_str!("../../assets/pages/rate.html")),
    ("rated.html", include_str!("../../assets/pages/rated.html")),
    (
        "preview.html",
        include_str!("../../assets/pages/preview.html"),
    ),
    (
        "admin_sign_in.html",
        include_str!("../../assets/pages/admin_sign_in.html"),
    ),
    (
        "admin_base.html",
        include_str!("../../assets/pages/admin_base.html"),
    ),
    (
        "admin_dashboard.html",
        include_str!("../../assets/pages/admin_dashboard.html"),
    ),
    (
        "admin_readers.html",
        include_str!("../../assets/pages/admin_readers.html"),
    ),
    (
        "admin_reader.html",
        include_str!("../../assets/pages/admin_reader.html"),
    ),
    (
        "admin_audit.html",
        include_str!("../../assets/pages/admin_audit.html"),
    ),
    (
        "admin_deliverability.html",
        include_str!("../../assets/pages/admin_deliverability.html"),
    ),
    (
        "admin_import.html",
        include_str!("../../assets/pages/admin_import.html"),
    ),
];

static TEMPLATES: LazyLock<Tera> = LazyLock::new(|| {
    let mut t = Tera::default();
    t.set_escape_fn(crate::mail::escape_html);
    t.add_raw_templates(PAGES.iter().copied())
        .expect("built-in page templates are valid");
    t
});

/// The stylesheet and the script every page links to.
pub(crate) fn static_files<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/style.css",
            get(|| async { asset("text/css", include_str!("../../assets/static/style.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                asset(
                    "text/javascript",
                    include_str!("../../assets/static/app.js"),
                )
            }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A digest's HTML as its own page ("view in browser", and the console's view of a reader's
/// digest): the mail carries its CSS inline, and nothing else may load or post.
pub(crate) fn mail_page(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

/// Render a built-in page; pages are never cached (they carry tokens).
pub fn render(name: &str, ctx: &Context) -> Response {
    match TEMPLATES.render(name, ctx) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = ?e, page = name, "page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error rendering the page",
            )
                .into_response()
        }
    }
}
