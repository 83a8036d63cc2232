//! Line charts as server-rendered SVG, for the dashboard: no script and no chart library in
//! the browser. Hand-written rather than `plotters`: its SVG backend needs a font backend
//! (and a bundled font) to lay out text, for charts whose only text is a scale and two
//! dates, which the browser lays out itself here.

use std::fmt::Write;

use chrono::NaiveDate;

/// The drawing's own units; the page scales it to its width.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 170.0;
/// Room for the scale on the left and the dates below.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;

/// One line: its label and a value per day (`None`: not counted that day, a gap).
pub(crate) struct Line<'a> {
    pub label: &'a str,
    pub values: &'a [Option<i64>],
}

/// Colour and dash per line: told apart without colour too.
const STYLES: [(&str, &str); 4] = [
    ("#1f5fa8", ""),
    ("#b3541e", "6 3"),
    ("#2e7d32", "2 3"),
    ("#7b3fa0", "8 3 2 3"),
];

/// A chart of `lines` over `days` (oldest first), titled `title` for screen readers.
pub(crate) fn line_chart(id: &str, title: &str, days: &[NaiveDate], lines: &[Line]) -> String {
    let max = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let n = days.len().max(2);
    let x = |i: usize| LEFT + (WIDTH - LEFT - 4.0) * i as f64 / (n - 1) as f64;
    let y = |v: i64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v as f64 / max as f64);
    let mut svg = String::new();
    let summary = lines
        .iter()
        .map(|l| {
            let last = l.values.iter().rev().find_map(|v| *v);
            format!(
                "{} {}",
                l.label,
                last.map_or("not counted".into(), |v| v.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{} days from {} to {}; the latest day: {}.</desc>"#,
        escape(title),
        days.len(),
        days.first().map(|d| d.to_string()).unwrap_or_default(),
        days.last().map(|d| d.to_string()).unwrap_or_default(),
        escape(&summary),
    );
    // The frame, the scale (0 and the largest value) and the first and last dates.
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        r##"<path d="M{LEFT} {TOP}V{base}H{}" fill="none" stroke="#8a8f98" stroke-width="1"/><text x="{}" y="{}" text-anchor="end" class="scale">{max}</text><text x="{}" y="{base}" text-anchor="end" class="scale">0</text>"##,
        WIDTH - 4.0,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
    );
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="{}" class="scale">{first}</text><text x="{}" y="{}" text-anchor="end" class="scale">{last}</text>"#,
            HEIGHT - 4.0,
            WIDTH - 4.0,
            HEIGHT - 4.0,
        );
    }
    for (line, (colour, dash)) in lines.iter().zip(STYLES.iter().cycle()) {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in line.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if pen_down { "L" } else { "M" },
                        x(i),
                        y(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if d.is_empty() {
            continue;
        }
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = write!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The legend's colour and dash for the `i`th line, for the page's key.
pub(crate) fn style(i: usize) -> (&'static str, &'static str) {
    STYLES[i % STYLES.len()]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u64) -> Vec<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(2026, 9, 9).unwrap();
        (0..n).map(|i| first + chrono::Days::new(i)).collect()
    }

    #[test]
    fn a_line_per_series_scaled_to_the_largest_value_with_gaps_left_open() {
        let a = [Some(0), Some(5), None, Some(10)];
        let b = [None, None, None, None];
        let svg = line_chart(
            "c",
            "Readers <by> state",
            &days(4),
            &[
                Line {
                    label: "active",
                    values: &a,
                },
                Line {
                    label: "pending",
                    values: &b,
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"c-title\">Readers &lt;by&gt; state</title>"));
        assert!(svg.contains("active 10, pending not counted"), "{svg}");
        // One drawn line (the empty series draws nothing), broken at the gap: two moves.
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
        let line = svg.split("<path d=\"").nth(2).unwrap();
        assert_eq!(line.matches('M').count(), 2, "{line}");
        // 10 is the top of the scale and sits at the top of the plot.
        assert!(svg.contains(">10</text>"));
        assert!(line.contains(&format!("{:.1}", TOP)), "{line}");
        assert!(svg.contains("2026-09-09") && svg.contains("2026-09-12"));
    }

    #[test]
    fn nothing_counted_still_draws_a_frame() {
        let svg = line_chart("e", "Empty", &[], &[]);
        assert!(svg.contains(">1</text>") && svg.contains(">0</text>"));
        assert!(!svg.contains("stroke-width=\"2\""));
    }
}
