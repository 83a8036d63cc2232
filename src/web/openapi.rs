//! The OpenAPI document served at `/api/v1/openapi.json`: generated from the handlers'
//! annotations, then refined with what the derive cannot say, so that a request valid by the
//! document is one the service accepts and an invalid one is refused. The rules themselves
//! live in `domain` (subscriber.rs, interests.rs, email.rs, paper.rs) and `tokens`; the
//! patterns here describe them.
//!
//! What no schema can say is left to the 4xx answers each operation documents: whether a
//! token was signed by this service and is unexpired, whether a subscription still exists,
//! and counts and lengths inside free text (at most 50 keywords of 100 characters, 50 authors,
//! 20 liked papers or categories).

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::{AppState, admin_api, api};
use crate::domain::TopicCatalogue;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

/// The OpenAPI document, with the configured topic catalogue's ids.
async fn serve(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state.ctx.catalogue))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "paperboy", description = "Subscribe to a daily digest of research papers; manage the subscription by the token in its mails."),
    paths(api::create, api::read, api::update, api::erase, api::put_rating, api::delete_rating, api::topics, api::find_papers, admin_api::admin_list, admin_api::admin_counts, admin_api::list_suppressions, admin_api::add_suppression, admin_api::lift_suppression, admin_api::list_events),
    modifiers(&AdminToken)
)]
struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document for a service with this topic catalogue (topic ids are the operator's).
pub fn document(catalogue: &TopicCatalogue) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    let topic_ids: Vec<&str> = catalogue.topics().iter().map(|t| t.id.as_str()).collect();
    let input = subscription_schema(&topic_ids, true);
    let update = subscription_schema(&topic_ids, false);
    let schemas = &mut doc["components"]["schemas"];
    schemas["SubscriptionInput"] = input;
    schemas["SubscriptionUpdate"] = update;
    let token = &mut doc["paths"]["/api/v1/subscriptions/{token}"];
    token["put"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/SubscriptionUpdate"});
    let token_schema = json!({"type": "string", "pattern": crate::tokens::TOKEN_PATTERN});
    set_parameters(
        token,
        &["get", "put", "delete"],
        &[("token", &token_schema)],
    );
    set_parameters(
        &mut doc["paths"]["/api/v1/subscriptions/{token}/ratings/{arxiv_id}"],
        &["put", "delete"],
        &[
            ("token", &token_schema),
            ("arxiv_id", &json!({"type": "string", "pattern": ARXIV_ID})),
        ],
    );
    // An address, as `EmailAddress::parse` takes it (as the subscription's `email`).
    set_parameters(
        &mut doc["paths"]["/api/v1/admin/suppressions/{email}"],
        &["put", "delete"],
        &[(
            "email",
            &json!({"type": "string", "format": "email", "maxLength": 254}),
        )],
    );
    // `deny_unknown_fields`, which the derive does not state.
    doc["components"]["schemas"]["RatingInput"]["additionalProperties"] = json!(false);
    doc["components"]["schemas"]["SuppressBody"]["additionalProperties"] = json!(false);
    doc
}

/// Give the named parameters of a path's `methods` these schemas (what the derive cannot
/// state: patterns and formats).
fn set_parameters(path: &mut Value, methods: &[&str], schemas: &[(&str, &Value)]) {
    for method in methods {
        for p in path[*method]["parameters"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some((_, schema)) = schemas.iter().find(|(name, _)| p["name"] == *name) {
                p["schema"] = (*schema).clone();
            }
        }
    }
}

/// A bare new-style arXiv id, as the ratings path takes it. Old-style ids are taken too,
/// with their `/` escaped (`hep-th%2F9901001`); the pattern leaves them out, since a client
/// that fills it in unescaped asks for another path.
const ARXIV_ID: &str = r"^[0-9]{4}\.[0-9]{4,5}$";

// Character classes as Rust reads text. `char::is_whitespace` (what `trim` and
// `split_whitespace` use) is Unicode White_Space; `char::is_control` is the Cc category.
const WS: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters other than tab, CR and LF (keywords turn CR and LF into spaces first).
const CONTROL_BUT_TAB_CR_LF: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";
/// Keywords are split on whitespace and commas; the control characters among the
/// whitespace are refused before that.
const KW_SEP: &str = r"\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000,";

/// Free keywords as `interests::parse_keywords` reads them: words and `"quoted phrases"`,
/// either with a leading `-`; a quote opens a phrase only at the start of a word, and such a
/// phrase must be closed. A bare word runs to the next separator.
fn keywords_pattern() -> String {
    let sep = format!("[{KW_SEP}]");
    let word = format!("[^{KW_SEP}{CONTROL_BUT_TAB_CR_LF}]");
    let word_no_quote = format!("[^{KW_SEP}{CONTROL_BUT_TAB_CR_LF}\"]");
    let word_no_quote_no_minus = format!("[^{KW_SEP}{CONTROL_BUT_TAB_CR_LF}\"-]");
    let phrase = format!("-?\"[^\"{CONTROL_BUT_TAB_CR_LF}]*\"");
    let bare = format!("(?:-(?:{word_no_quote}{word}*)?|{word_no_quote_no_minus}{word}*)");
    format!("^(?:{sep}|{phrase}|{bare}{sep})*(?:{bare})?$")
}

/// Author names: each is collapsed on whitespace, then control characters are refused, so
/// only the control characters that are not whitespace are.
const AUTHORS: &str = r"^[^\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]*$";

/// A list of `item`s separated by whitespace, commas or semicolons (liked papers, categories).
fn list_pattern(item: &str) -> String {
    let sep = format!("[{WS},;]");
    format!("^{sep}*(?:(?:{item})(?:{sep}+(?:{item}))*)?{sep}*$")
}

/// An arXiv id or link as `ArxivId::parse` takes it (new style `2405.01234`, old style
/// `hep-th/9901001`, a version, `.pdf`, an abs/pdf link or an `arXiv:` prefix).
const LIKED_ITEM: &str = r"(?:https?://arxiv\.org/(?:abs|pdf)/|https://huggingface\.co/papers/|oai:arXiv\.org:|arXiv:|arxiv:)?(?:[0-9]{4}\.[0-9]{4,5}|[A-Za-z.-]+/[0-9]{7})(?:v[0-9]{1,9})?(?:\.pdf)?";
/// An arXiv category: an archive of 2–12 letters or `-`, optionally `.` and a class of 1–8.
const CATEGORY_ITEM: &str = r"[A-Za-z][A-Za-z-]{1,11}(?:\.[A-Za-z-]{1,8})?";

/// A whole number in `range` (an alternation), as `str::parse::<u8>` reads it after a trim;
/// blank takes the default.
fn number_pattern(range: &str) -> String {
    format!(r"^[{WS}]*(?:\+?0*(?:{range}))?[{WS}]*$")
}

fn subscription_schema(topic_ids: &[&str], email_required: bool) -> Value {
    let mut topic_items: Vec<Value> = topic_ids.iter().map(|t| json!(t)).collect();
    // A blank entry is skipped, as a form's empty checkbox value is.
    topic_items.push(json!(""));
    let mut timezones: Vec<Value> = vec![Value::Null, json!("")];
    timezones.extend(chrono_tz::TZ_VARIANTS.iter().map(|tz| json!(tz.name())));
    let not_blank = format!("[^{WS},;]");
    let weekday = format!(
        "^[{WS}]*(?:mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)[{WS}]*$"
    );
    let description = if email_required {
        "A subscription request. Every field is text, so that a bad value becomes a message \
         next to its field (422) rather than a refused request. At least one topic, keyword, \
         author, liked paper or category is needed; a weekly digest needs a weekday."
    } else {
        "New interests and delivery preferences. `email`, if given, must be the subscription's \
         own address. At least one topic, keyword, author, liked paper or category is needed; \
         a weekly digest needs a weekday."
    };
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "required": if email_required { json!(["email"]) } else { json!([]) },
        "properties": {
            "email": {
                "type": "string", "format": "email", "maxLength": 254,
                "example": "ada@example.com",
                "description": "A plain address (no quoted or non-ASCII name before the @); the domain may be international."
            },
            "topics": {
                "type": "array", "items": {"type": "string", "enum": topic_items},
                "description": "Topic ids from the catalogue (`GET /api/v1/topics`)."
            },
            "keywords": {
                "type": "string", "pattern": keywords_pattern(),
                "example": "diffusion \"graph neural network\" -medical",
                "description": "Free keywords and \"quoted phrases\" separated by spaces or commas; a leading `-` excludes. At most 50, each at most 100 characters."
            },
            "authors": {
                "type": "string", "pattern": AUTHORS,
                "description": "Pinned author names, one per line or separated by commas or semicolons: their papers come first. At most 50, each at most 100 characters."
            },
            "muted_authors": {
                "type": "string", "pattern": AUTHORS,
                "description": "Muted author or organisation names, as `authors`: their papers are never sent."
            },
            "liked": {
                "type": "string", "pattern": list_pattern(LIKED_ITEM),
                "example": "2405.01234 https://arxiv.org/abs/2310.06825",
                "description": "\"More like these\": at most 20 arXiv ids or links of papers you liked."
            },
            "categories": {
                "type": "string", "pattern": list_pattern(CATEGORY_ITEM),
                "example": "cs.RO stat.ML",
                "description": "At most 20 arXiv categories (`cs.RO hep-th`): their papers match."
            },
            "trending": {
                "type": ["string", "null"], "pattern": number_pattern("100|[1-9]?[0-9]"),
                "description": "0 (only what matches you) … 100 (only what is trending); blank: 20."
            },
            "frequency": {
                "type": ["string", "null"], "pattern": format!("^[{WS}]*(?:daily|weekly)?[{WS}]*$"),
                "description": "`daily` or `weekly`; blank: daily."
            },
            "weekday": {
                "type": ["string", "null"],
                "description": "For a weekly digest: `monday` … `sunday` (or `mon` … `sun`); ignored for a daily one."
            },
            "delivery_hour": {
                "type": ["string", "null"], "pattern": number_pattern("2[0-3]|1?[0-9]"),
                "description": "Local hour 0–23; blank: 7."
            },
            "timezone": {
                "type": ["string", "null"], "enum": timezones,
                "description": "IANA time zone name; blank: UTC."
            },
            "papers_per_digest": {
                "type": ["string", "null"], "pattern": number_pattern("50|[1-4][0-9]|[1-9]"),
                "description": "1–50; blank: 10."
            },
            "send_when_empty": {
                "type": ["boolean", "null"],
                "description": "Send the day's trending papers when nothing matched (default false)."
            }
        },
        "allOf": [
            {"anyOf": [
                {"required": ["topics"], "properties": {"topics": {"contains": {"enum": topic_ids}}}},
                // A first word that is not excluded; other keyword lists may also do.
                {"required": ["keywords"], "properties": {"keywords": {"pattern": format!("^[{KW_SEP}]*[A-Za-z0-9]")}}},
                {"required": ["authors"], "properties": {"authors": {"pattern": not_blank}}},
                {"required": ["liked"], "properties": {"liked": {"pattern": not_blank}}},
                {"required": ["categories"], "properties": {"categories": {"pattern": not_blank}}}
            ]},
            {"anyOf": [
                {"properties": {"frequency": {"anyOf": [
                    {"type": "null"},
                    {"type": "string", "pattern": format!("^[{WS}]*(?:daily)?[{WS}]*$")}
                ]}}},
                {"required": ["weekday"], "properties": {"weekday": {"type": "string", "pattern": weekday}}}
            ]}
        ]
    })
}
