//! Pages built for the tests.

/// A Hugging Face Daily Papers page built around given data. The real page capture
/// (tests/fixtures/hf_html/, 2026-09-28) is tested as it is in hf_page.rs; this builder puts
/// another day's data, e.g. the real API capture of 2026-05-08 (whose page was not captured),
/// into the page's layout, so the page and the API can be compared paper by paper, and adds
/// what the capture lacks. `daily_papers` goes into the `DailyPapers` component's
/// `data-props`, entity-escaped as Hugging Face does; `None` leaves the component out. Decoy
/// components come first, one with an empty `dailyPapers`, so selecting by position or by a
/// `data-target` prefix reads nothing. `cards` (id, title, upvotes, comments) are
/// server-rendered as on the page, each with a thumbnail link outside the `h3`.
pub fn hf_page(daily_papers: Option<&str>, cards: &[(&str, &str, i64, i64)]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    };
    let component = |target: &str, props: &str| {
        format!(
            r#"<div class="SVELTE_HYDRATER contents" data-target="{target}" data-props="{}"><!--[-->"#,
            escape(props)
        )
    };
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Daily Papers - Hugging Face</title></head><body>",
    );
    page += &component("MainHeader", r#"{"authLight":{"u":"<a & 'b'>"}}"#);
    page += &component("DailyPapersHeader", r#"{"dailyPapers":[]}"#);
    page += "<!--]--></div></div>";
    if let Some(json) = daily_papers {
        let props =
            format!(r#"{{"canSubmit":false,"dateString":"2026-05-08","dailyPapers":{json}}}"#);
        page += &component("DailyPapers", &props);
    } else {
        page += "<div>";
    }
    for (id, title, upvotes, comments) in cards {
        page += &format!(
            r##"<article class="relative flex flex-col"><!--[--><a href="/papers/{id}"><img src="/t.png"></a>
            <div class="flex"><div role="checkbox" aria-checked="false"><svg></svg><div class="leading-none">{upvotes}</div></div>
            <div class="w-full"><h3 class="mb-1"><a href="/papers/{id}" class="line-clamp-3"><!--[-->{}<!--]--></a></h3>
            <a href="/papers/{id}#community" class="flex items-center"><svg></svg> {comments}</a></div></div><!--]--></article>"##,
            escape(title)
        );
    }
    page + "</div></body></html>"
}
