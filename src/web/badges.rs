//! Status badges per model: an SVG at `/badges/{provider}/{model}.svg` and a shields.io
//! endpoint body at `/api/v1/badges/{provider}/{model}.json`.
//!
//! The SVG copies shields.io's "flat" style so it sits well next to other README badges:
//! grey label (the model's name), coloured message (the state). Text widths are estimated
//! from a small Verdana 11px table ([`text_width`]): exact metrics would need the font, and
//! a few pixels of slack only show as padding. Names come from configuration, so all text
//! goes through [`super::feeds::xml`].

use serde::Serialize;

use super::feeds::xml::Writer;
use super::site::Rendered;
use super::snapshot::{ModelView, PublicSnapshot};
use crate::vocabulary::ModelState;

const SVG_TYPE: &str = "image/svg+xml; charset=utf-8";
/// Horizontal padding on each side of a text, as in shields' flat style.
const PADDING: f64 = 5.0;
/// Labels longer than this are cut with an ellipsis so a badge stays badge-sized.
const MAX_CHARS: usize = 48;

/// The colour of a state: shields' name (for the endpoint JSON) and its hex (for the SVG).
pub fn colour(state: ModelState) -> (&'static str, &'static str) {
    match state {
        ModelState::Operational => ("brightgreen", "#4c1"),
        ModelState::DegradedPerformance => ("yellow", "#dfb317"),
        ModelState::PartialOutage => ("orange", "#fe7d37"),
        ModelState::MajorOutage => ("red", "#e05d44"),
        ModelState::UnderMaintenance => ("blue", "#007ec6"),
        ModelState::Unknown => ("lightgrey", "#9f9f9f"),
    }
}

/// Approximate advance of one character in Verdana at 11px.
pub fn char_width(c: char) -> f64 {
    match c {
        ' ' => 3.9,
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' => 3.3,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '/' | '-' => 4.6,
        'm' | 'w' | 'M' | 'W' | '%' => 10.0,
        'a'..='z' => 6.6,
        'A'..='Z' | '0'..='9' | '#' | '&' | '+' | '=' | '<' | '>' | '_' | '?' => 7.4,
        // East Asian wide characters are about a full em.
        c if c as u32 >= 0x1100 && unicode_wide(c) => 11.0,
        _ => 7.4,
    }
}

/// The common wide (full-width) blocks: CJK, Hangul, kana, full-width forms.
fn unicode_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Estimated rendered width of `text`.
pub fn text_width(text: &str) -> f64 {
    text.chars().map(char_width).sum()
}

/// Width of a badge segment holding `text`: the text plus padding, in whole pixels.
pub fn segment_width(text: &str) -> u32 {
    (text_width(text) + 2.0 * PADDING).ceil() as u32
}

/// Cuts `text` to [`MAX_CHARS`] characters, marking the cut.
fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let mut short: String = text.chars().take(MAX_CHARS - 1).collect();
    short.push('…');
    short
}

/// A flat badge reading `label | message`, the message on `fill`.
pub fn svg(label: &str, message: &str, fill: &str) -> String {
    let (label, message) = (shorten(label), shorten(message));
    let (lw, mw) = (segment_width(&label), segment_width(&message));
    let width = lw + mw;
    let (w, lw_s, mw_s) = (width.to_string(), lw.to_string(), mw.to_string());
    let (label_x, message_x) = (
        format!("{:.1}", lw as f64 / 2.0),
        format!("{:.1}", lw as f64 + mw as f64 / 2.0),
    );
    let words = format!("{label}: {message}");
    let mut x = Writer::fragment();
    x.open(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("width", &w),
            ("height", "20"),
            ("role", "img"),
            ("aria-label", &words),
        ],
    )
    .text("title", &[], &words)
    .open(
        "linearGradient",
        &[("id", "s"), ("x2", "0"), ("y2", "100%")],
    )
    .empty(
        "stop",
        &[
            ("offset", "0"),
            ("stop-color", "#bbb"),
            ("stop-opacity", ".1"),
        ],
    )
    .empty("stop", &[("offset", "1"), ("stop-opacity", ".1")])
    .close("linearGradient")
    .open("clipPath", &[("id", "r")])
    .empty(
        "rect",
        &[
            ("width", &w),
            ("height", "20"),
            ("rx", "3"),
            ("fill", "#fff"),
        ],
    )
    .close("clipPath")
    .open("g", &[("clip-path", "url(#r)")])
    .empty(
        "rect",
        &[("width", &lw_s), ("height", "20"), ("fill", "#555")],
    )
    .empty(
        "rect",
        &[
            ("x", &lw_s),
            ("width", &mw_s),
            ("height", "20"),
            ("fill", fill),
        ],
    )
    .empty(
        "rect",
        &[("width", &w), ("height", "20"), ("fill", "url(#s)")],
    )
    .close("g")
    .open(
        "g",
        &[
            ("fill", "#fff"),
            ("text-anchor", "middle"),
            ("font-family", "Verdana,Geneva,DejaVu Sans,sans-serif"),
            ("text-rendering", "geometricPrecision"),
            ("font-size", "11"),
        ],
    );
    // Each text twice: a faint shadow one pixel down, then the text itself.
    for (cx, text) in [(&label_x, &label), (&message_x, &message)] {
        x.text(
            "text",
            &[
                ("x", cx),
                ("y", "15"),
                ("fill", "#010101"),
                ("fill-opacity", ".3"),
                ("aria-hidden", "true"),
            ],
            text,
        )
        .text("text", &[("x", cx), ("y", "14")], text);
    }
    x.close("g").close("svg");
    x.finish()
}

/// <https://shields.io/badges/endpoint-badge>.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShieldsEndpoint {
    pub schema_version: u8,
    pub label: String,
    pub message: String,
    pub color: &'static str,
}

pub fn endpoint(m: &ModelView) -> ShieldsEndpoint {
    ShieldsEndpoint {
        schema_version: 1,
        label: m.name.clone(),
        message: m.state.label().to_string(),
        color: colour(m.state).0,
    }
}

/// Renders both badges of every model.
pub fn render(snapshot: &PublicSnapshot) -> Vec<Rendered> {
    let mut out = Vec::new();
    for m in snapshot.models() {
        let tail = format!("{}/{}", m.provider_id, m.model_id);
        out.push(Rendered {
            path: format!("/badges/{tail}.svg"),
            content_type: SVG_TYPE,
            body: svg(&m.name, m.state.label(), colour(m.state).1).into_bytes(),
        });
        out.push(Rendered::json(
            format!("/api/v1/badges/{tail}.json"),
            &endpoint(m),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_colour() {
        let mut seen: Vec<_> = ModelState::ALL.iter().map(|s| colour(*s)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), ModelState::ALL.len());
        assert_eq!(colour(ModelState::Operational), ("brightgreen", "#4c1"));
        assert_eq!(colour(ModelState::MajorOutage).0, "red");
    }

    #[test]
    fn widths_follow_the_text() {
        assert_eq!(segment_width(""), 10);
        assert!(text_width("iiii") < text_width("mmmm"));
        assert!(text_width("Claude Opus 4.8") > text_width("GPT-5"));
        // Roughly what shields draws for the same words (±10%).
        let w = text_width("Operational");
        assert!((60.0..75.0).contains(&w), "{w}");
        assert_eq!(char_width('漢'), 11.0);
    }

    #[test]
    fn long_labels_are_cut() {
        let long = "x".repeat(200);
        assert_eq!(shorten(&long).chars().count(), MAX_CHARS);
        assert!(shorten(&long).ends_with('…'));
        assert_eq!(shorten("short"), "short");
    }

    #[test]
    fn badge_is_accessible_and_sized() {
        let s = svg("GPT-5", "Operational", "#4c1");
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.contains("role=\"img\" aria-label=\"GPT-5: Operational\""));
        assert!(s.contains("<title>GPT-5: Operational</title>"));
        let total = segment_width("GPT-5") + segment_width("Operational");
        assert!(
            s.contains(&format!("width=\"{total}\" height=\"20\"")),
            "{s}"
        );
        assert!(s.contains("fill=\"#4c1\""));
    }

    #[test]
    fn badge_text_is_escaped() {
        let s = svg("<script>alert(1)</script> & ]]>", "Operational", "#4c1");
        assert!(!s.contains("<script"), "{s}");
        assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;"));
    }
}
