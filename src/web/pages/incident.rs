//! Incident pages: `/incidents/{id}` with the full timeline, and `/history` listing the
//! incidents of the last 90 days. [`IncidentView`] is shared with the front page.

use askama::Template;

use super::{
    impact_label, incident_href, model_link, status_label, time, Layout, ModelLink, TimeView,
};
use crate::store::incidents::Incident;
use crate::web::snapshot::{PublicSnapshot, HISTORY_DAYS};

/// One update of an incident's timeline.
#[derive(Debug, Clone)]
pub struct UpdateView {
    pub status: String,
    /// The raw status word, used only as a CSS class hook.
    pub status_class: String,
    pub at: TimeView,
    pub body: String,
    /// `body` as Markdown rendered to HTML and sanitised (safe to embed as is).
    pub body_html: String,
    pub affected: Vec<ModelLink>,
}

/// An incident as the pages show it, updates newest first.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub id: i64,
    pub href: String,
    pub title: String,
    pub status: String,
    pub status_class: String,
    pub impact: String,
    /// The state class whose colour the impact takes (see [`impact_class`]).
    pub impact_class: &'static str,
    pub provider: String,
    pub created: TimeView,
    pub resolved: Option<TimeView>,
    /// "ongoing" or how long it lasted, e.g. "10 min".
    pub duration: String,
    pub automatic: bool,
    pub affected: Vec<ModelLink>,
    pub updates: Vec<UpdateView>,
    /// When the on-call team acknowledged it (who is never shown publicly).
    pub acknowledged: Option<TimeView>,
    /// The postmortem link (http(s) only, checked when set).
    pub postmortem_url: Option<String>,
}

impl IncidentView {
    pub fn new(snapshot: &PublicSnapshot, i: &Incident) -> IncidentView {
        let provider = snapshot
            .providers
            .iter()
            .find(|p| p.id == i.provider_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| i.provider_id.clone());
        let links = |ids: &[String]| ids.iter().map(|a| model_link(snapshot, a)).collect();
        IncidentView {
            id: i.id,
            href: incident_href(i.id),
            title: i.title.clone(),
            status: status_label(&i.status),
            status_class: class_word(&i.status),
            impact: impact_label(&i.impact),
            impact_class: impact_class(&i.impact),
            provider,
            created: time(i.created_at),
            resolved: i.resolved_at.map(time),
            duration: match i.resolved_at {
                Some(r) => duration_text(r - i.created_at),
                None => "ongoing".into(),
            },
            automatic: i.automatic,
            affected: links(&i.affected),
            // The store keeps timelines oldest first; people read the latest first.
            updates: i
                .updates
                .iter()
                .rev()
                .map(|u| UpdateView {
                    status: status_label(&u.status),
                    status_class: class_word(&u.status),
                    at: time(u.at),
                    body: u.body.clone(),
                    body_html: update_body_html(&u.body),
                    affected: links(&u.affected),
                })
                .collect(),
            acknowledged: i.acknowledged_at.map(time),
            postmortem_url: i
                .postmortem_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        }
    }
}

/// Renders an update's Markdown to HTML and sanitises it: whatever HTML the text holds,
/// only harmless markup survives (no scripts, event handlers, styles or `javascript:` links).
pub fn markdown_html(text: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(text.len() * 2);
    html::push_html(&mut raw, parser);
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&raw)
        .to_string()
}

/// An update's text as the page shows it: one paragraph as `<p class="update-body">`,
/// anything longer (lists, several paragraphs) in a `<div class="update-body">`.
fn update_body_html(text: &str) -> String {
    let html = markdown_html(text);
    let trimmed = html.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|rest| rest.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") && !inner.contains("</p>") => {
            format!("<p class=\"update-body\">{inner}</p>")
        }
        _ => format!("<div class=\"update-body\">{trimmed}</div>"),
    }
}

/// Keeps a CSS class to lowercase letters and underscores whatever the stored word is.
fn class_word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .collect()
}

/// "45 s", "10 min", "3 h 5 min", "2 d 4 h".
pub fn duration_text(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => match (s / 3600, s % 3600 / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        _ => match (s / 86400, s % 86400 / 3600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

#[derive(Template)]
#[template(path = "public/incident.html")]
pub struct IncidentPage {
    pub layout: Layout,
    pub incident: IncidentView,
    /// When the provider's own page acknowledged it, for providers with one configured.
    pub official: Option<super::official::AcknowledgementLine>,
}

pub fn render(snapshot: &PublicSnapshot, i: &Incident) -> String {
    let incident = IncidentView::new(snapshot, i);
    let page = IncidentPage {
        layout: Layout::new(
            snapshot,
            format!("Incident #{}: {}", i.id, i.title),
            format!("Timeline of incident #{}: {}", i.id, i.title),
            "history",
        ),
        incident,
        official: super::official::AcknowledgementLine::of(snapshot, i.id),
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}

#[derive(Template)]
#[template(path = "public/history.html")]
pub struct HistoryPage {
    pub layout: Layout,
    pub days: i64,
    pub incidents: Vec<IncidentView>,
}

pub fn render_history(snapshot: &PublicSnapshot) -> String {
    let page = HistoryPage {
        layout: Layout::new(
            snapshot,
            "Incident history",
            format!("Incidents of the last {HISTORY_DAYS} days"),
            "history",
        ),
        days: HISTORY_DAYS,
        incidents: snapshot
            .incidents
            .iter()
            .map(|i| IncidentView::new(snapshot, i))
            .collect(),
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}

/// A template can only fail on a formatting error; log it and serve a plain line rather
/// than nothing, so the path still answers.
pub(super) fn render_failed(e: &askama::Error) -> String {
    tracing::warn!(error = %e, "rendering a status page failed");
    "The status page could not be rendered.".to_string()
}

/// The state whose colour an impact takes, so the banner (coloured by the worst state) and
/// an incident card (coloured by its impact) never disagree: Statuspage's impacts follow
/// its component states (`minor` is degraded performance, `major` a partial outage,
/// `critical` a major outage).
pub fn impact_class(impact: &str) -> &'static str {
    match impact {
        "minor" => "degraded_performance",
        "major" => "partial_outage",
        "critical" => "major_outage",
        _ => "operational",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let s = chrono::Duration::seconds;
        assert_eq!(duration_text(s(45)), "45 s");
        assert_eq!(duration_text(s(600)), "10 min");
        assert_eq!(duration_text(s(3600 + 300)), "1 h 5 min");
        assert_eq!(duration_text(s(2 * 86400 + 4 * 3600)), "2 d 4 h");
        assert_eq!(class_word("monitoring\"><x"), "monitoringx");
    }

    #[test]
    fn markdown_is_rendered_and_made_inert() {
        let html = markdown_html(
            "**Slow** answers, see [notes](https://example.com).\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1))",
        );
        assert!(html.contains("<strong>Slow</strong>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert_eq!(
            update_body_html("All *good*."),
            "<p class=\"update-body\">All <em>good</em>.</p>"
        );
        assert!(update_body_html("a\n\nb").starts_with("<div class=\"update-body\"><p>a</p>"));
        for bad in ["<script", "onerror", "javascript:"] {
            assert!(!html.to_lowercase().contains(bad), "{bad} in {html}");
        }
    }
}
