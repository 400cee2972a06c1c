//! Official status on the public pages: the line beside a model's own state, the mark where
//! the provider's page disagrees, the acknowledgement on an incident's page, and `/official`,
//! each provider's page set beside ours with the lead figures.

use askama::Template;

use super::incident::render_failed;
use super::{incident_href, pct, state_view, time, Layout, StateView, TimeView};
use crate::official::lead::{OurIncidentLead, ProviderLead};
use crate::official::views::ProviderOfficial;
use crate::official::OfficialView;
use crate::web::snapshot::{ModelView, PublicSnapshot};

/// The provider's page beside a model's state.
#[derive(Debug, Clone)]
pub struct OfficialLine {
    pub available: bool,
    /// Why it cannot be read (shown as "official status unavailable: …").
    pub reason: String,
    pub component: String,
    pub state: Option<StateView>,
    pub since: Option<TimeView>,
    pub incidents: Vec<OfficialLink>,
    /// Ours impaired, theirs operational with no incident: "the provider reports no problem".
    pub disagrees: bool,
}

/// A published incident linked from our pages (to the provider's own page).
#[derive(Debug, Clone)]
pub struct OfficialLink {
    pub name: String,
    pub href: Option<String>,
    pub status: String,
    pub maintenance: bool,
}

/// Only http(s) links are followed from our pages: a page's own data decides its links.
fn is_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The link to a published incident the lead figures name.
fn link_to(r: &crate::official::lead::OfficialRef) -> OfficialLink {
    OfficialLink {
        name: r.name.clone(),
        href: r.url.clone().filter(|u| is_http(u)),
        status: String::new(),
        maintenance: false,
    }
}

impl OfficialLine {
    pub fn of(m: &ModelView) -> Option<OfficialLine> {
        let o: &OfficialView = m.official.as_ref()?;
        Some(OfficialLine {
            available: o.available,
            reason: o.reason.clone().unwrap_or_default(),
            component: o.component.clone().unwrap_or_default(),
            state: o.state.map(state_view),
            since: o.since.map(time),
            incidents: o
                .incidents
                .iter()
                .map(|i| OfficialLink {
                    name: i.name.clone(),
                    href: i.url.clone().filter(|u| is_http(u)),
                    status: super::status_label(&i.status),
                    maintenance: i.maintenance,
                })
                .collect(),
            disagrees: o.disagrees_with(m.state),
        })
    }
}

/// An incident's acknowledgement by the provider's page, for the incident page.
#[derive(Debug, Clone)]
pub struct AcknowledgementLine {
    pub acknowledged: Option<TimeView>,
    /// "7.5 minutes after modelwatch", "2 minutes before modelwatch".
    pub lead: String,
    pub official: Option<OfficialLink>,
}

impl AcknowledgementLine {
    pub fn of(snapshot: &PublicSnapshot, incident_id: i64) -> Option<AcknowledgementLine> {
        let l: &OurIncidentLead = snapshot.official.ours.get(&incident_id)?;
        Some(AcknowledgementLine {
            acknowledged: l.acknowledged_at.map(time),
            lead: l.lead_minutes.map(lead_words).unwrap_or_default(),
            official: l.official_incident.as_ref().map(link_to),
        })
    }
}

/// "7.5 minutes after modelwatch" (we were first) or "2 minutes before modelwatch".
pub fn lead_words(minutes: f64) -> String {
    let n = minutes.abs();
    let unit = if (n - 1.0).abs() < f64::EPSILON {
        "minute"
    } else {
        "minutes"
    };
    let n = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    };
    if minutes >= 0.0 {
        format!("{n} {unit} after modelwatch")
    } else {
        format!("{n} {unit} before modelwatch")
    }
}

#[derive(Template)]
#[template(path = "public/official.html")]
pub struct OfficialPage {
    pub layout: Layout,
    pub providers: Vec<ProviderRow>,
    pub ours: Vec<OurRow>,
    pub theirs: Vec<TheirRow>,
    pub before_minutes: i64,
    pub after_minutes: i64,
}

pub struct ProviderRow {
    pub name: String,
    pub url: Option<String>,
    pub available: bool,
    pub reason: String,
    pub read: Option<TimeView>,
    pub components: Vec<(String, StateView, TimeView)>,
    pub periods: Vec<PeriodRow>,
}

pub struct PeriodRow {
    pub days: i64,
    pub our_incidents: usize,
    pub acknowledged: String,
    pub median_lead: String,
    pub official_incidents: usize,
    pub seen: String,
    pub outside: usize,
}

pub struct OurRow {
    pub href: String,
    pub title: String,
    pub opened: TimeView,
    pub acknowledged: Option<TimeView>,
    pub lead: String,
    pub official: Option<OfficialLink>,
}

pub struct TheirRow {
    pub provider: String,
    pub name: String,
    pub href: Option<String>,
    pub published: TimeView,
    pub seen_href: Option<String>,
    pub outside: bool,
}

fn period(f: &ProviderLead) -> PeriodRow {
    let share = |part: usize, s: Option<f64>| match s {
        Some(s) => format!("{part} ({})", pct(s)),
        None => "—".into(),
    };
    PeriodRow {
        days: f.days,
        our_incidents: f.our_incidents,
        acknowledged: share(f.acknowledged, f.acknowledged_share),
        median_lead: f
            .median_lead_minutes
            .map(|m| format!("{m:.1} min"))
            .unwrap_or_else(|| "—".into()),
        official_incidents: f.official_incidents,
        seen: share(f.seen, f.seen_share),
        outside: f.outside,
    }
}

fn provider_row(p: &ProviderOfficial) -> ProviderRow {
    ProviderRow {
        name: p.provider_name.clone(),
        url: p.url.clone(),
        available: p.available,
        reason: p.reason.clone().unwrap_or_default(),
        read: p.read_at.map(time),
        components: p
            .components
            .iter()
            .map(|c| (c.name.clone(), state_view(c.state), time(c.since)))
            .collect(),
        periods: vec![period(&p.last_30_days), period(&p.last_90_days)],
    }
}

/// `/official`.
pub fn render(snapshot: &PublicSnapshot) -> String {
    let o = &snapshot.official;
    let provider_name = |id: &str| {
        snapshot
            .providers
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let mut ours: Vec<OurRow> = o
        .ours
        .values()
        .map(|l| OurRow {
            href: incident_href(l.incident_id),
            title: l.title.clone(),
            opened: time(l.created_at),
            acknowledged: l.acknowledged_at.map(time),
            lead: l.lead_minutes.map(lead_words).unwrap_or_default(),
            official: l.official_incident.as_ref().map(link_to),
        })
        .collect();
    ours.reverse();
    let page = OfficialPage {
        layout: Layout::new(
            snapshot,
            "Official status and lead",
            "What each provider's own status page says, and who knew first",
            "official",
        ),
        providers: o.providers.iter().map(provider_row).collect(),
        ours,
        theirs: o
            .theirs
            .iter()
            .map(|t| TheirRow {
                provider: provider_name(&t.provider_id),
                name: t.incident.name.clone(),
                href: t.incident.url.clone().filter(|u| is_http(u)),
                published: time(t.published_at),
                seen_href: t.seen_by.map(incident_href),
                outside: t.outside,
            })
            .collect(),
        before_minutes: crate::official::lead::BEFORE_MINUTES,
        after_minutes: crate::official::lead::AFTER_MINUTES,
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}
