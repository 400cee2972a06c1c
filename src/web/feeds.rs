//! Incident history feeds: `/history.atom` (Atom 1.0) and `/history.rss` (RSS 2.0).
//!
//! One entry per incident of the snapshot, newest first; its content is the update timeline
//! (newest update first, as on the status page) as an HTML fragment, its link the incident's
//! page `{base_url}/incidents/{id}`, its id `tag:modelwatch,2026:incident/{id}` so readers
//! never see an incident twice. All markup is built by [`xml::Writer`]; incident text is
//! HTML-escaped into the fragment, which is then XML-escaped as text (never CDATA).

pub mod xml;

use chrono::{DateTime, SecondsFormat, Utc};

use super::api_v1::incidents_newest_first;
use super::site::Rendered;
use super::snapshot::PublicSnapshot;
use crate::store::incidents::Incident;
use xml::{escape, Writer};

pub const ATOM_PATH: &str = "/history.atom";
pub const RSS_PATH: &str = "/history.rss";
const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";

/// The stable id of an incident's entry (RFC 4151 tag URI).
pub fn entry_id(incident: i64) -> String {
    format!("tag:modelwatch,2026:incident/{incident}")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn base(snapshot: &PublicSnapshot) -> &str {
    snapshot.base_url.trim_end_matches('/')
}

fn incident_url(snapshot: &PublicSnapshot, incident: &Incident) -> String {
    format!("{}/incidents/{}", base(snapshot), incident.id)
}

/// When the feed last changed: its newest incident update, else the snapshot's time.
/// Using the incidents (not the rebuild time) keeps the body, and so its ETag, stable.
fn feed_updated(snapshot: &PublicSnapshot) -> DateTime<Utc> {
    snapshot
        .incidents
        .iter()
        .map(|i| i.updated_at)
        .max()
        .unwrap_or(snapshot.generated_at)
}

/// `investigating` → `Investigating`.
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The timeline as an HTML fragment; every piece of incident text is escaped.
pub fn timeline_html(incident: &Incident) -> String {
    let mut html = String::new();
    for u in incident.updates.iter().rev() {
        html.push_str("<p><strong>");
        html.push_str(&escape(&capitalised(&u.status)));
        html.push_str("</strong> <small>");
        html.push_str(&escape(&u.at.format("%Y-%m-%d %H:%M UTC").to_string()));
        html.push_str("</small><br>");
        html.push_str(&escape(&u.body).replace('\n', "<br>"));
        if !u.affected.is_empty() {
            html.push_str("<br><small>Affected: ");
            html.push_str(&escape(&u.affected.join(", ")));
            html.push_str("</small>");
        }
        html.push_str("</p>");
    }
    if html.is_empty() {
        html.push_str("<p>");
        html.push_str(&escape(&capitalised(&incident.status)));
        html.push_str("</p>");
    }
    html
}

/// `/history.atom`.
pub fn atom(snapshot: &PublicSnapshot) -> String {
    let base = base(snapshot);
    let title = format!("{} incident history", snapshot.page_name);
    let mut w = Writer::new();
    w.open("feed", &[("xmlns", "http://www.w3.org/2005/Atom")])
        .text("id", &[], "tag:modelwatch,2026:history")
        .text("title", &[], &title)
        .text("updated", &[], &rfc3339(feed_updated(snapshot)))
        .empty(
            "link",
            &[
                ("rel", "self"),
                ("type", "application/atom+xml"),
                ("href", &format!("{base}{ATOM_PATH}")),
            ],
        )
        .empty(
            "link",
            &[
                ("rel", "alternate"),
                ("type", "text/html"),
                ("href", &format!("{base}/")),
            ],
        )
        .open("author", &[])
        .text("name", &[], &snapshot.page_name)
        .close("author")
        .text("generator", &[], "modelwatch");
    for i in incidents_newest_first(snapshot) {
        w.open("entry", &[])
            .text("id", &[], &entry_id(i.id))
            .text("title", &[], &i.title)
            .text("updated", &[], &rfc3339(i.updated_at))
            .text("published", &[], &rfc3339(i.created_at))
            .empty(
                "link",
                &[
                    ("rel", "alternate"),
                    ("type", "text/html"),
                    ("href", &incident_url(snapshot, i)),
                ],
            )
            .empty("category", &[("term", &i.provider_id)])
            .text(
                "summary",
                &[],
                &format!("{} ({} impact)", capitalised(&i.status), i.impact),
            )
            .text("content", &[("type", "html")], &timeline_html(i))
            .close("entry");
    }
    w.close("feed");
    w.finish()
}

/// `/history.rss`.
pub fn rss(snapshot: &PublicSnapshot) -> String {
    let base = base(snapshot);
    let mut w = Writer::new();
    w.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
        ],
    )
    .open("channel", &[])
    .text(
        "title",
        &[],
        &format!("{} incident history", snapshot.page_name),
    )
    .text("link", &[], &format!("{base}/"))
    .text(
        "description",
        &[],
        &format!("Incidents detected by {}", snapshot.page_name),
    )
    .empty(
        "atom:link",
        &[
            ("href", &format!("{base}{RSS_PATH}")),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    )
    .text("lastBuildDate", &[], &feed_updated(snapshot).to_rfc2822())
    .text("generator", &[], "modelwatch");
    for i in incidents_newest_first(snapshot) {
        w.open("item", &[])
            .text("title", &[], &i.title)
            .text("link", &[], &incident_url(snapshot, i))
            .text("guid", &[("isPermaLink", "false")], &entry_id(i.id))
            // RSS has no "updated": the item's date is its last change, as in the Atom feed.
            .text("pubDate", &[], &i.updated_at.to_rfc2822())
            .text("category", &[], &i.provider_id)
            .text("description", &[], &timeline_html(i))
            .close("item");
    }
    w.close("channel").close("rss");
    w.finish()
}

/// Renders both feeds of one snapshot.
pub fn render(snapshot: &PublicSnapshot) -> Vec<Rendered> {
    vec![
        Rendered {
            path: ATOM_PATH.into(),
            content_type: ATOM_TYPE,
            body: atom(snapshot).into_bytes(),
        },
        Rendered {
            path: RSS_PATH.into(),
            content_type: RSS_TYPE,
            body: rss(snapshot).into_bytes(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::incidents::IncidentUpdate;

    fn incident(body: &str) -> Incident {
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        Incident {
            id: 7,
            provider_id: "anthropic".into(),
            title: "Claude Opus 4.8 errors".into(),
            status: "resolved".into(),
            impact: "major".into(),
            affected: vec!["anthropic/claude-opus-4-8".into()],
            automatic: true,
            created_at: at,
            updated_at: at,
            resolved_at: Some(at),
            acknowledged_at: None,
            acknowledged_by: None,
            postmortem_url: None,
            updates: vec![IncidentUpdate {
                id: 1,
                at,
                status: "investigating".into(),
                impact: "major".into(),
                body: body.into(),
                affected: vec!["anthropic/claude-opus-4-8".into()],
                notified: true,
            }],
        }
    }

    #[test]
    fn timeline_escapes_incident_text() {
        let html = timeline_html(&incident("<b>60%</b> & rising"));
        assert!(
            html.contains("&lt;b&gt;60%&lt;/b&gt; &amp; rising"),
            "{html}"
        );
        assert!(
            html.starts_with("<p><strong>Investigating</strong>"),
            "{html}"
        );
        assert!(html.contains("anthropic/claude-opus-4-8"));
    }

    #[test]
    fn ids_and_words_are_stable() {
        assert_eq!(entry_id(42), "tag:modelwatch,2026:incident/42");
        assert_eq!(capitalised("monitoring"), "Monitoring");
        assert_eq!(capitalised(""), "");
    }
}
