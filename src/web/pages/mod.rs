//! The public status pages (HTML), rendered once per snapshot with askama templates.
//!
//! Every page is a `#[derive(Template)]` struct next to its render code; the structs hold
//! display-ready data (formatted times, labels, SVG coordinates) so templates stay simple
//! and never build markup from strings. askama escapes every value, so incident text and
//! model names can never become markup.
//!
//! - [`index`]: `/` and `/index.html`; [`provider`]: `/providers/{id}`;
//!   [`model`]: `/models/{provider}/{model}`;
//! - [`incident`]: `/incidents/{id}` and `/history`; [`subscribe`]: `/subscribe`;
//! - [`svg`], [`chart`] and [`chart_tips`]: SVG geometry as plain data; the stylesheet and the time-zone script are served from here.

pub mod chart;
pub mod chart_tips;
pub mod incident;
pub mod index;
pub mod model;
pub mod official;
pub mod provider;
pub mod subscribe;
pub mod svg;

#[cfg(test)]
mod tests;

use chrono::{DateTime, SecondsFormat, Utc};

use super::site::Rendered;
use super::snapshot::{ModelView, PublicSnapshot};
use crate::vocabulary::evidence::ms;
use crate::vocabulary::ModelState;

/// The one stylesheet, compiled in so the binary is the whole deployment.
pub const STYLE_CSS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/style.css"));
/// The page's icon (browsers ask for one; without it every page load logs a 404).
pub const FAVICON_SVG: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/favicon.svg"));
/// Rewrites `<time>` texts into the reader's zone; pages read fine without it.
pub const LOCALTIME_JS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/localtime.js"));
/// Builds each daily bar's tooltip from its strip's figures; the strips read fine without it.
pub const BARS_JS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/bars.js"));

/// A model's own page; `m` carries the figures of
/// [`snapshot::load_details`](super::snapshot::load_details).
pub fn render_model(snapshot: &PublicSnapshot, m: &ModelView) -> Vec<Rendered> {
    vec![Rendered::html(
        model_href(&m.provider_id, &m.model_id),
        model::render(snapshot, m),
    )]
}

/// Renders every HTML page shared by all models plus the static assets they use (each
/// model's own page is rendered by [`render_model`] when asked for).
pub fn render(snapshot: &PublicSnapshot) -> Vec<Rendered> {
    let mut out = Vec::new();
    let index = index::render(snapshot);
    // Both paths serve the same body; rendering it once keeps them identical.
    out.push(Rendered::html("/index.html", index.clone()));
    out.push(Rendered::html("/", index));
    for p in &snapshot.providers {
        out.push(Rendered::html(
            index::provider_href(&p.id),
            provider::render(snapshot, p),
        ));
    }
    for i in &snapshot.incidents {
        out.push(Rendered::html(
            incident_href(i.id),
            incident::render(snapshot, i),
        ));
    }
    out.push(Rendered::html(
        "/history",
        incident::render_history(snapshot),
    ));
    out.push(Rendered::html("/subscribe", subscribe::render(snapshot)));
    out.push(Rendered::html("/official", official::render(snapshot)));
    out.push(Rendered {
        path: "/static/style.css".into(),
        content_type: "text/css; charset=utf-8",
        body: STYLE_CSS.as_bytes().to_vec(),
    });
    out.push(Rendered {
        path: "/static/favicon.svg".into(),
        content_type: "image/svg+xml",
        body: FAVICON_SVG.as_bytes().to_vec(),
    });
    out.push(Rendered {
        path: "/static/localtime.js".into(),
        content_type: "text/javascript; charset=utf-8",
        body: LOCALTIME_JS.as_bytes().to_vec(),
    });
    out.push(Rendered {
        path: "/static/bars.js".into(),
        content_type: "text/javascript; charset=utf-8",
        body: BARS_JS.as_bytes().to_vec(),
    });
    out
}

/// What `base.html` needs from every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub page_name: String,
    /// The page's own part of `<title>`.
    pub title: String,
    pub description: String,
    /// Which main navigation entry is this page (`status`, `history`, `subscribe` or empty).
    pub nav: &'static str,
    /// When the snapshot behind the page was read; pages built per request (forms, admin)
    /// have none, since "updated now" tells the reader nothing.
    pub generated: Option<TimeView>,
    pub stale: Option<TimeView>,
}

impl Layout {
    /// For pages rendered per request (subscription flows), outside any snapshot.
    pub fn plain(title: impl Into<String>, nav: &'static str) -> Layout {
        Layout {
            page_name: "modelwatch".into(),
            title: title.into(),
            description: "Manage your modelwatch subscription".into(),
            nav,
            generated: None,
            stale: None,
        }
    }

    pub fn new(
        snapshot: &PublicSnapshot,
        title: impl Into<String>,
        description: impl Into<String>,
        nav: &'static str,
    ) -> Layout {
        Layout {
            page_name: snapshot.page_name.clone(),
            title: title.into(),
            description: description.into(),
            nav,
            generated: Some(time(snapshot.generated_at)),
            // Only the clock time, as the notice reads "Figures as of 14:05 UTC".
            stale: snapshot.stale_since.map(|t| TimeView {
                iso: iso(t),
                text: t.format("%H:%M UTC").to_string(),
                style: "time",
            }),
        }
    }
}

/// A time as `<time datetime="…">` shows it: RFC 3339 for machines (and the script), UTC
/// text for readers without the script.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeView {
    pub iso: String,
    pub text: String,
    /// `full` or `time`: what the script shows in the reader's zone.
    pub style: &'static str,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn time(t: DateTime<Utc>) -> TimeView {
    TimeView {
        iso: iso(t),
        text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
        style: "full",
    }
}

/// A state as shown: CSS class for colour, a distinct glyph for shape, and the words, so
/// the state never depends on colour alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateView {
    pub class: &'static str,
    pub icon: &'static str,
    pub label: &'static str,
}

pub fn state_view(s: ModelState) -> StateView {
    let icon = match s {
        ModelState::Operational => "✓",
        ModelState::DegradedPerformance => "▲",
        ModelState::PartialOutage => "◆",
        ModelState::MajorOutage => "✕",
        ModelState::UnderMaintenance => "⚙",
        ModelState::Unknown => "?",
    };
    StateView {
        class: s.as_str(),
        icon,
        label: s.label(),
    }
}

/// A link to a model page, with the name people know it by.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLink {
    pub name: String,
    pub href: String,
}

/// Links `provider/model` to its page, named from the snapshot when it is still configured.
pub fn model_link(snapshot: &PublicSnapshot, id: &str) -> ModelLink {
    match snapshot.model(id) {
        Some(m) => ModelLink {
            name: m.name.clone(),
            href: model_href(&m.provider_id, &m.model_id),
        },
        None => {
            let (p, m) = id.split_once('/').unwrap_or(("", id));
            ModelLink {
                name: id.to_string(),
                href: model_href(p, m),
            }
        }
    }
}

/// Percent-encodes what a browser would encode in a path segment, so the path the site is
/// keyed by is exactly the one a browser requests after following the link.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn model_href(provider: &str, model: &str) -> String {
    format!("/models/{}/{}", path_segment(provider), path_segment(model))
}

pub fn incident_href(id: i64) -> String {
    format!("/incidents/{id}")
}

/// A share as a percentage with two decimals (uptimes differ in the second decimal).
pub fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// A latency, or a dash when there is none.
pub fn ms_text(v: Option<u32>) -> String {
    v.map(ms).unwrap_or_else(|| "—".into())
}

/// Incident status words as the page shows them.
pub fn status_label(status: &str) -> String {
    match status {
        "investigating" => "Investigating".into(),
        "identified" => "Identified".into(),
        "monitoring" => "Monitoring".into(),
        "resolved" => "Resolved".into(),
        other => capitalise(other),
    }
}

/// Statuspage impact words (`none`, `minor`, `major`, `critical`) as the page shows them.
pub fn impact_label(impact: &str) -> String {
    match impact {
        "none" => "No impact".into(),
        "minor" => "Minor impact".into(),
        "major" => "Major impact".into(),
        "critical" => "Critical impact".into(),
        other => capitalise(other),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c)
            .collect::<String>()
            .replace('_', " "),
        None => String::new(),
    }
}
