//! Rating a paper from a mail's "More like this" / "Fewer like this" link: the page that
//! posts the rating, and what it shows once recorded (an undo, papers like it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{manage_context, paper_of, with_cookie};
use crate::domain::{ArxivId, Rating};
use crate::ratings::RatingEffect;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::forms::{self, Submission};
use crate::web::views::render;

/// What a rating link's last segment asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RateAction {
    Rate(Rating),
    /// The rated page's "Undo" (a POST only).
    Undo,
}

fn rate_action(text: &str) -> Result<RateAction, PageError> {
    match text {
        "undo" => Ok(RateAction::Undo),
        other => other.parse().map(RateAction::Rate).map_err(|_| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "A rating link ends in /more or /fewer. Copy the whole link from the mail. Nothing has been changed.",
            )
        }),
    }
}

fn rating_label(r: Rating) -> &'static str {
    match r {
        Rating::More => "More like this",
        Rating::Fewer => "Fewer like this",
    }
}

/// A mail's "More like this" / "Fewer like this" link. It records nothing: mail scanners
/// fetch every link of a mail. The page posts the rating at once with script, or by its
/// button without, as the confirmation page does.
pub(super) async fn rate_page(
    State(state): State<AppState>,
    Path((token, paper, action)): Path<(String, String, String)>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let paper = paper_of(&paper)?;
    let RateAction::Rate(rating) = rate_action(&action)? else {
        return Err(PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Nothing to see here",
            "Undoing a rating takes the button on the page that recorded it.",
        ));
    };
    state.ratings.reader_for_link(&token, &paper).await?;
    let stored = state.ratings.paper(&paper).await?;
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = state.ctx.common_context();
    ctx.insert("action", &rate_path(&token, &paper, &rating.to_string()));
    ctx.insert("rating", rating.as_str());
    ctx.insert("label", rating_label(rating));
    ctx.insert("title", &stored.paper.title);
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    Ok(with_cookie(jar, render("rate.html", &ctx)))
}

fn rate_path(token: &str, paper: &ArxivId, action: &str) -> String {
    format!(
        "/rate/{token}/{}/{action}",
        crate::links::path_segment(paper)
    )
}

/// Record (or undo) a rating posted from its page; show what was noted, an undo, the
/// preferences and, for "more like this", similar papers of the last week.
pub(super) async fn rate(
    State(state): State<AppState>,
    Path((token, paper, action)): Path<(String, String, String)>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let paper = paper_of(&paper)?;
    let action = rate_action(&action)?;
    forms::check(
        state.ctx.links.signer(),
        &jar,
        &Submission::from_pairs(pairs).form_token,
    )?;
    let reader = state.ratings.reader_for_link(&token, &paper).await?;
    let mut ctx = manage_context(&state, &reader);
    match action {
        RateAction::Undo => {
            let removed = state.ratings.remove(&reader, &paper).await?;
            let title = match state.ratings.paper(&paper).await {
                Ok(p) => p.paper.title,
                Err(_) => format!("arXiv:{paper}"),
            };
            ctx.insert("undone", &true);
            ctx.insert("removed", &removed);
            ctx.insert("title", &title);
        }
        RateAction::Rate(rating) => match state
            .ratings
            .rate_from_link(&reader, &paper, rating)
            .await?
        {
            RatingEffect::Cancelled { paper: p } => {
                ctx.insert("cancelled", &true);
                ctx.insert("title", &p.paper.title);
            }
            RatingEffect::Recorded { paper: p, previous } => {
                let similar = match rating {
                    Rating::More => state.ratings.similar(&reader, &p).await?,
                    Rating::Fewer => Vec::new(),
                };
                // The form cookie came with this POST (it was checked): the undo uses it.
                let (_, nonce) = forms::csrf_nonce(jar.clone(), state.ctx.config.https());
                ctx.insert("rating", rating.as_str());
                ctx.insert("previous", &previous.map(Rating::as_str));
                ctx.insert("title", &p.paper.title);
                ctx.insert("similar", &similar);
                ctx.insert("undo_action", &rate_path(&token, &paper, "undo"));
                ctx.insert(
                    "form_token",
                    &forms::form_token(state.ctx.links.signer(), &nonce),
                );
            }
        },
    }
    Ok(render("rated.html", &ctx))
}
