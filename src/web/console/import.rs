//! The console's import: a CSV file uploaded is run as a dry run and its report shown; a
//! button then imports that same kept upload for real. Both runs are the import service's
//! (`paperboy subscribers import` is its other caller): no rule of importing lives here.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::{Operator, check_form, field, page_context};
use crate::domain::ImportMode;
use crate::error::ServiceError;
use crate::import::{ImportError, ImportOptions, ImportReport, StagedError};
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

/// The largest upload taken, in bytes. A row of paperboy's own export is about 100 bytes, one
/// of Mailchimp's (20 columns) about 200: 20 MB holds 100,000 rows of either, more than a
/// list brought in by hand, while a few uploads at once stay small next to the server's
/// memory (the file is read whole, as the command line reads it). Larger lists:
/// `paperboy subscribers import` on the server, which has no limit.
pub(super) const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

/// Refused rows shown on the page; the rest are counted (a broken 100,000-row file would
/// make a page of megabytes).
const ERRORS_SHOWN: usize = 1000;

#[derive(Serialize)]
struct Count {
    label: String,
    rows: u64,
}

#[derive(Serialize)]
struct Refused<'a> {
    line: u64,
    message: &'a str,
}

#[derive(Serialize)]
struct ReportView<'a> {
    dry_run: bool,
    mode: &'static str,
    source: &'a str,
    default_topics: String,
    columns: Vec<String>,
    rows: u64,
    outcomes: Vec<Count>,
    refused: usize,
    errors: Vec<Refused<'a>>,
    more_errors: usize,
    mails: u64,
    raced: u64,
}

impl<'a> ReportView<'a> {
    fn new(r: &'a ImportReport, options: &'a ImportOptions) -> Self {
        Self {
            dry_run: r.dry_run,
            mode: r.mode.as_str(),
            source: &options.source,
            default_topics: options.default_topics.join(", "),
            columns: r.column_notes(),
            rows: r.rows,
            outcomes: r
                .outcomes
                .iter()
                .map(|(o, n)| Count {
                    label: o.label(),
                    rows: *n,
                })
                .collect(),
            refused: r.errors.len(),
            errors: r
                .errors
                .iter()
                .take(ERRORS_SHOWN)
                .map(|e| Refused {
                    line: e.line,
                    message: &e.message,
                })
                .collect(),
            more_errors: r.errors.len().saturating_sub(ERRORS_SHOWN),
            mails: r.mails,
            raced: r.raced,
        }
    }
}

/// The import page: the upload form, with a report above it when there is one, or what went
/// wrong (with `status`).
fn page(
    state: &AppState,
    jar: CookieJar,
    operator: &Operator,
    status: StatusCode,
    error: Option<&str>,
    report: Option<ReportView<'_>>,
    upload: Option<&str>,
) -> Response {
    let (jar, mut ctx) = page_context(state, jar, Some(&operator.name));
    ctx.insert("title", "Import");
    ctx.insert("error", &error);
    ctx.insert("mode", report.as_ref().map_or("", |r| r.mode));
    ctx.insert("report", &report);
    ctx.insert("upload", &upload);
    ctx.insert("modes", &ImportMode::ALL.map(|m| m.as_str()).to_vec());
    ctx.insert("max_mb", &(MAX_UPLOAD_BYTES / (1024 * 1024)));
    let mut page = render("admin_import.html", &ctx);
    *page.status_mut() = status;
    (jar, page).into_response()
}

pub(super) async fn form(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
) -> Response {
    page(&state, jar, &operator, StatusCode::OK, None, None, None)
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    file: Option<(String, Vec<u8>)>,
    mode: Option<String>,
    default_topics: String,
    source: String,
}

/// A part of the upload that could not be read: too large (413), or not a form's upload.
fn unreadable(e: &MultipartError) -> (StatusCode, String) {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The upload is larger than {} MB: nothing was imported. Split the file, or import it on the server with paperboy subscribers import.",
                MAX_UPLOAD_BYTES / (1024 * 1024)
            ),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!(
                "The upload is incomplete or damaged ({}): nothing was imported. Choose the file again and send the form.",
                e.body_text()
            ),
        )
    }
}

/// Read the form's parts. The form token must come first (the form puts it first, and
/// browsers send fields in order): nothing else is read before it is checked.
async fn read_upload(
    state: &AppState,
    jar: &CookieJar,
    multipart: &mut Multipart,
) -> Result<Result<Upload, (StatusCode, String)>, PageError> {
    let token = match multipart.next_field().await {
        Ok(Some(f)) if f.name() == Some("form_token") => f.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    check_form(state, jar, &[("form_token".into(), token)])?;
    let mut upload = Upload::default();
    loop {
        let f = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Ok(Err(unreadable(&e))),
        };
        let name = f.name().unwrap_or_default().to_string();
        let file_name = f.file_name().map(str::to_string);
        let value = match f.bytes().await {
            Ok(v) => v,
            Err(e) => return Ok(Err(unreadable(&e))),
        };
        let text = || String::from_utf8_lossy(&value).trim().to_string();
        match name.as_str() {
            "file" if upload.file.is_some() => {
                return Ok(Err((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Two files were sent: upload one file at a time.".into(),
                )));
            }
            // A browser sends an empty part, without a name, when no file was chosen.
            "file" if file_name.as_deref().unwrap_or("").is_empty() && value.is_empty() => {}
            "file" => upload.file = Some((file_name.unwrap_or_default(), value.to_vec())),
            "mode" => upload.mode = Some(text()),
            "default_topics" => upload.default_topics = text(),
            "source" => upload.source = text().chars().take(200).collect(),
            _ => {}
        }
    }
    Ok(Ok(upload))
}

/// The upload: its dry run, and the button to import it for real.
pub(super) async fn upload(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let refused = |jar, status, message: &str| {
        Ok(page(
            &state,
            jar,
            &operator,
            status,
            Some(message),
            None,
            None,
        ))
    };
    let Ok(mut multipart) = multipart else {
        // Not a multipart body: nothing in it is read.
        return refused(
            jar,
            StatusCode::BAD_REQUEST,
            "This was not the upload form's request: send a file with the form below.",
        );
    };
    let upload = match read_upload(&state, &jar, &mut multipart).await? {
        Ok(u) => u,
        Err((status, message)) => return refused(jar, status, &message),
    };
    let Some((file_name, data)) = upload.file else {
        return refused(
            jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            "No file was sent: choose a CSV file.",
        );
    };
    let mode = match upload.mode.as_deref().map(str::parse::<ImportMode>) {
        Some(Ok(mode)) => mode,
        Some(Err(e)) => return refused(jar, StatusCode::UNPROCESSABLE_ENTITY, &format!("{e}.")),
        None => {
            return refused(
                jar,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose what the file is: confirmed, opt-in, unsubscribed or suppressed.",
            );
        }
    };
    let source = if upload.source.is_empty() {
        // The name the browser gave, without any folder.
        let name = file_name.rsplit(['/', '\\']).next().unwrap_or("").trim();
        if name.is_empty() { "upload" } else { name }
            .chars()
            .take(200)
            .collect()
    } else {
        upload.source
    };
    let options = ImportOptions {
        mode,
        dry_run: true,
        source,
        default_topics: upload
            .default_topics
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    };
    match state
        .import
        .dry_run_and_keep(&operator.actor(), &data, &options)
        .await
    {
        Ok((report, upload)) => Ok(page(
            &state,
            jar,
            &operator,
            StatusCode::OK,
            None,
            Some(ReportView::new(&report, &options)),
            upload.as_deref(),
        )),
        Err(e) => failed(&state, jar, &operator, e),
    }
}

/// The kept upload imported for real.
pub(super) async fn confirm(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    match state
        .import
        .run_kept(&operator.actor(), field(&pairs, "upload"))
        .await
    {
        Ok((report, options)) => Ok(page(
            &state,
            jar,
            &operator,
            StatusCode::OK,
            None,
            Some(ReportView::new(&report, &options)),
            None,
        )),
        Err(e) => failed(&state, jar, &operator, e),
    }
}

/// An import that could not run: the form again, with why.
fn failed(
    state: &AppState,
    jar: CookieJar,
    operator: &Operator,
    e: ImportError,
) -> Result<Response, PageError> {
    let (status, message) = match e {
        ImportError::File(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("This file cannot be imported: {e}. Nothing was changed."),
        ),
        ImportError::Staged(StagedError::Gone) => (StatusCode::GONE, format!("{}.", e)),
        ImportError::Staged(StagedError::NotYours) => (StatusCode::FORBIDDEN, format!("{e}.")),
        ImportError::Staged(e @ StagedError::Io { .. }) => {
            tracing::error!(error = %e, "an upload could not be kept");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The upload could not be kept on the server for its real run (see the service's log): nothing was imported. Try again, or import the file with paperboy subscribers import.".into(),
            )
        }
        ImportError::Store(e) => return Err(ServiceError::from(e).into()),
    };
    Ok(page(
        state,
        jar,
        operator,
        status,
        Some(&message),
        None,
        None,
    ))
}
