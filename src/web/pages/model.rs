//! A model's page `/models/{provider}/{model}`: latency charts over four ranges (tabs), errors
//! by class, state history, and the reasons and evidence behind the current decision.

use askama::Template;
use chrono::Duration;

use super::chart::{self, LineChart, Metric};
use super::incident::render_failed;
use super::index::fallback_link;
use super::svg::{self, DayBars};
use super::{
    impact_label, incident_href, ms_text, pct, state_view, status_label, time, Layout, ModelLink,
    StateView, TimeView,
};
use crate::vocabulary::evidence::ms;
use crate::vocabulary::Evidence;
use crate::vocabulary::Outcome;
use crate::web::snapshot::{LatencyPoint, ModelView, PublicSnapshot, HISTORY_DAYS};

/// The two charts of one period.
#[derive(Debug, Clone)]
pub struct ChartGroup {
    /// Used in element ids (`chart-24h`), the tabs' link targets.
    pub id: &'static str,
    /// The tab's text ("24 h").
    pub tab: &'static str,
    /// Shown while the address targets no range.
    pub default: bool,
    pub heading: &'static str,
    pub ttft: LineChart,
    pub total: LineChart,
}

/// One outcome class of the last 24 hours.
#[derive(Debug, Clone)]
pub struct OutcomeRow {
    pub class: String,
    pub count: u32,
    pub share: String,
    /// How the evaluator treats the class, so a reader knows which errors count.
    pub counts_as: &'static str,
}

/// One state change.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub at: TimeView,
    pub from: StateView,
    pub to: StateView,
    pub enabled: bool,
    pub reasons: Vec<String>,
}

/// An incident that names the model: open ones, then those of the last 30 days.
#[derive(Debug, Clone)]
pub struct IncidentLink {
    pub href: String,
    pub title: String,
    pub status: String,
    pub impact: String,
    pub open: bool,
}

/// A term and its value in the evidence list.
#[derive(Debug, Clone)]
pub struct Fact {
    pub term: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "public/model.html")]
pub struct ModelPage {
    pub layout: Layout,
    pub name: String,
    pub id: String,
    pub provider: String,
    pub state: StateView,
    pub enabled: bool,
    pub fallback: Option<ModelLink>,
    /// Disabled without any enabled fallback.
    pub no_fallback: bool,
    pub since: TimeView,
    pub reason: String,
    pub reasons: Vec<String>,
    pub incidents: Vec<IncidentLink>,
    pub ttft_now: String,
    pub last_probe: Option<TimeView>,
    pub uptime: String,
    pub days: i64,
    pub bars: DayBars,
    pub charts: Vec<ChartGroup>,
    pub outcomes: Vec<OutcomeRow>,
    pub outcomes_total: u32,
    pub history: Vec<ChangeRow>,
    pub evidence: Vec<Fact>,
    /// The provider's own page beside our state.
    pub official: Option<super::official::OfficialLine>,
    /// Each place the model is probed from, when agents probe it too (from the same
    /// decision as `reasons`).
    pub vantages: Vec<VantageRow>,
}

/// One vantage's row in "Seen from".
pub struct VantageRow {
    pub name: String,
    pub region: String,
    pub state: StateView,
    pub counted: bool,
    pub last_probe: Option<TimeView>,
    pub errors: String,
    pub ttft: String,
}

fn vantage_rows(e: &Evidence) -> Vec<VantageRow> {
    e.vantages
        .iter()
        .map(|v| VantageRow {
            name: v.name.clone(),
            region: v.region.clone(),
            state: state_view(v.state),
            counted: v.active,
            last_probe: v.last_probe_at.map(time),
            errors: if v.samples == 0 {
                "no probes".into()
            } else {
                format!("{} ({} of {})", pct(v.error_rate), v.failures, v.samples)
            },
            ttft: ms_text(v.ttft_p50_ms),
        })
        .collect()
}

pub fn render(snapshot: &PublicSnapshot, m: &ModelView) -> String {
    let provider = snapshot
        .providers
        .iter()
        .find(|p| p.id == m.provider_id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| m.provider_id.clone());
    let fallback = fallback_link(snapshot, m);
    let page = ModelPage {
        layout: Layout::new(
            snapshot,
            format!("{} ({provider})", m.name),
            format!("{} of {provider}: {}", m.name, m.state.label()),
            "",
        ),
        name: m.name.clone(),
        id: m.id.clone(),
        provider,
        state: state_view(m.state),
        enabled: m.enabled,
        no_fallback: !m.enabled && fallback.is_none(),
        fallback,
        since: time(m.since),
        reason: m.reason.clone(),
        reasons: m.reasons.clone(),
        incidents: incident_links(snapshot, m),
        ttft_now: ms_text(m.ttft_now_ms),
        last_probe: m.last_probe_at.map(time),
        uptime: m.uptime_90d.map(pct).unwrap_or_else(|| "no data".into()),
        days: HISTORY_DAYS,
        bars: svg::day_bars(&m.days, m.uptime_90d),
        charts: charts(snapshot, m),
        outcomes_total: m.outcomes_24h.values().sum(),
        outcomes: outcome_rows(m),
        history: m
            .history
            .iter()
            .map(|c| ChangeRow {
                at: time(c.at),
                from: state_view(c.from),
                to: state_view(c.to),
                enabled: c.enabled,
                reasons: c.reasons.clone(),
            })
            .collect(),
        evidence: m.evidence.as_ref().map(facts).unwrap_or_default(),
        official: super::official::OfficialLine::of(m),
        vantages: m.evidence.as_ref().map(vantage_rows).unwrap_or_default(),
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}

/// The incidents that named the model at any update, open ones first, then those resolved in
/// the last 30 days, newest first.
fn incident_links(snapshot: &PublicSnapshot, m: &ModelView) -> Vec<IncidentLink> {
    let month_ago = snapshot.generated_at - Duration::days(30);
    let mut links: Vec<IncidentLink> = snapshot
        .incidents
        .iter()
        .filter(|i| {
            i.affected.contains(&m.id) || i.updates.iter().any(|u| u.affected.contains(&m.id))
        })
        .filter(|i| i.resolved_at.is_none_or(|r| r >= month_ago))
        .map(|i| IncidentLink {
            href: incident_href(i.id),
            title: i.title.clone(),
            status: status_label(&i.status),
            impact: impact_label(&i.impact),
            open: i.resolved_at.is_none(),
        })
        .collect();
    // Stable: within each group the snapshot's order (newest first) is kept.
    links.sort_by_key(|l| !l.open);
    links
}

/// The ranges a reader picks between (tabs by CSS `:target`, see `model.html`): the last
/// hour and day from minute rollups, the week and month from hour rollups. The page opens
/// on [`DEFAULT_RANGE`].
const RANGES: [(&str, &str, &str); 4] = [
    ("1h", "1 h", "Last hour"),
    ("24h", "24 h", "Last 24 hours"),
    ("7d", "7 d", "Last 7 days"),
    ("30d", "30 d", "Last 30 days"),
];

/// The range shown when the page's address names none.
const DEFAULT_RANGE: &str = "24h";

fn charts(snapshot: &PublicSnapshot, m: &ModelView) -> Vec<ChartGroup> {
    let end = snapshot.generated_at;
    RANGES
        .into_iter()
        .map(|(id, tab, heading)| {
            let (points, span, bucket): (&[LatencyPoint], _, _) = match id {
                // The last hour's minutes are the tail of the day's.
                "1h" => (&m.chart_24h, Duration::hours(1), Duration::minutes(1)),
                "24h" => (&m.chart_24h, Duration::hours(24), Duration::minutes(1)),
                "7d" => (&m.chart_7d, Duration::days(7), Duration::hours(1)),
                _ => (&m.chart_30d, Duration::days(30), Duration::hours(1)),
            };
            let period = heading.to_lowercase();
            // `line_chart` fits the time axis to the data that exists within the period.
            let chart =
                |metric| chart::line_chart(points, metric, &period, end - span, end, bucket);
            ChartGroup {
                id,
                tab,
                default: id == DEFAULT_RANGE,
                heading,
                ttft: chart(Metric::Ttft),
                total: chart(Metric::Total),
            }
        })
        .collect()
}

fn outcome_rows(m: &ModelView) -> Vec<OutcomeRow> {
    let total: u32 = m.outcomes_24h.values().sum();
    let mut rows: Vec<OutcomeRow> = m
        .outcomes_24h
        .iter()
        .map(|(class, count)| {
            let outcome = Outcome::ALL.into_iter().find(|o| o.as_str() == class);
            OutcomeRow {
                class: class.clone(),
                count: *count,
                share: pct(f64::from(*count) / f64::from(total.max(1))),
                counts_as: match outcome {
                    Some(Outcome::Ok) => "success",
                    Some(Outcome::RateLimited) => "our probe throttled (not counted)",
                    Some(o) if o.is_misconfiguration() => "probe misconfiguration (not counted)",
                    Some(o) if o.is_provider_fault() => "provider failure",
                    _ => "other",
                },
            }
        })
        .collect();
    // Most frequent first: the class that explains the errors leads the table.
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.class.cmp(&b.class)));
    rows
}

/// The application's traffic behind the decision, in words (the second stream).
pub fn traffic_facts(t: &crate::vocabulary::TrafficEvidence) -> Vec<Fact> {
    let mut out = vec![
        Fact {
            term: "Traffic, last minute",
            value: format!(
                "{} requests, {} failed at the provider ({}), {} failed on the caller's side (not counted); time to first token p50 {}",
                t.requests,
                t.failures,
                pct(t.error_rate),
                t.client_side,
                ms_text(t.ttft_p50_ms)
            ),
        },
        Fact {
            term: "Which stream decides",
            value: if t.busy {
                "traffic (busy): probes are shown, not announced".to_string()
            } else {
                "probes and traffic, the worse of the two (traffic is quiet)".to_string()
            },
        },
    ];
    let sources: Vec<String> = t
        .sources
        .iter()
        .map(|s| {
            let counted = s.requests.saturating_sub(s.client_side);
            let mut words = format!(
                "{}: {} requests, {} failed ({}), {}",
                s.source,
                s.requests,
                s.failures,
                pct(if counted == 0 {
                    0.0
                } else {
                    f64::from(s.failures) / f64::from(counted)
                }),
                s.state.replace('_', " ")
            );
            if s.alone {
                words.push_str(", seen only from this source (not announced)");
            }
            if s.stale {
                words.push_str(", silent");
            }
            words
        })
        .collect();
    if !sources.is_empty() {
        out.push(Fact {
            term: "Traffic by source",
            value: sources.join("; "),
        });
    }
    out
}

/// The evidence of the current decision, in words.
pub fn facts(e: &Evidence) -> Vec<Fact> {
    let pair = |a: Option<u32>, b: Option<u32>| format!("p50 {}, p95 {}", ms_text(a), ms_text(b));
    let mut out = vec![
        Fact {
            term: "Probes in the window",
            value: e.probes.to_string(),
        },
        Fact {
            term: "Counted samples (successes and provider failures)",
            value: e.samples.to_string(),
        },
        Fact {
            term: "Failures",
            value: e.failures.to_string(),
        },
        Fact {
            term: "Error rate",
            value: format!(
                "{} (99% interval {} to {})",
                pct(e.error_rate),
                pct(e.error_rate_lower),
                pct(e.error_rate_upper)
            ),
        },
        Fact {
            term: "Time to first token",
            value: pair(e.ttft_p50_ms, e.ttft_p95_ms),
        },
        Fact {
            term: "Total latency",
            value: pair(e.total_p50_ms, e.total_p95_ms),
        },
        Fact {
            term: "Usual latency",
            value: match (e.baseline.ttft_p50_ms, e.baseline.total_p50_ms) {
                (None, None) => {
                    format!("not enough successful probes yet ({})", e.baseline.samples)
                }
                (t, total) => format!(
                    "time to first token {}, total {} (weighted medians of {} successful probes)",
                    t.map(ms).unwrap_or_else(|| "—".into()),
                    total.map(ms).unwrap_or_else(|| "—".into()),
                    e.baseline.samples
                ),
            },
        },
    ];
    if let Some(t) = &e.traffic {
        out.extend(traffic_facts(t));
    }
    if !e.outcomes.is_empty() {
        let list: Vec<String> = e.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push(Fact {
            term: "Outcomes in the window",
            value: list.join(", "),
        });
    }
    if !e.tests.is_empty() {
        out.push(Fact {
            term: "Usual failure rate",
            value: pct(e.healthy_error_rate),
        });
        let tests: Vec<String> = e
            .tests
            .iter()
            .map(|t| {
                let stage = if t.held { "held, leaving" } else { "entering" };
                format!(
                    "{}: {stage} {:.0}% of its bound ({} of {} probes)",
                    t.test,
                    t.progress * 100.0,
                    t.bad,
                    t.probes
                )
            })
            .collect();
        out.push(Fact {
            term: "Sequential tests",
            value: tests.join("; "),
        });
    }
    let extra = e.extra_probes;
    if extra.confirm + extra.recovery > 0 {
        out.push(Fact {
            term: "Extra probes in the last hour",
            value: format!(
                "{} to confirm, {} to see recovery",
                extra.confirm, extra.recovery
            ),
        });
    }
    if e.throttled > 0 {
        out.push(Fact {
            term: "Our probe throttled (429, not counted)",
            value: e.throttled.to_string(),
        });
    }
    if e.misconfigured > 0 {
        out.push(Fact {
            term: "Probe misconfiguration (not counted)",
            value: e.misconfigured.to_string(),
        });
    }
    out
}
