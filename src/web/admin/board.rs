//! The operations board: `GET /admin` (the page) and `GET /api/v1/admin/board` (the same
//! rows as JSON, scope `read`). Per model: its state and why, any override, the probes of
//! the latest window that failed on our own configuration or were throttled, and the last
//! few probes. Read per request from the evaluator's routing table and the store.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde_json::json;

use super::auth::{AdminState, AdminUser, ApiCaller};
use super::internal;
use super::page::{layout, page, PageError};
use crate::admin::Scope;
use crate::web::http::ApiError;
use crate::web::pages::incident::impact_class;
use crate::web::pages::{impact_label, status_label, time, Layout};

/// The board page, with the new-token form.
#[derive(Template)]
#[template(path = "admin/board.html")]
struct Board {
    layout: Layout,
    email: String,
    csrf: String,
    /// Unresolved incidents, newest first: what an SRE looks at first.
    open_incidents: Vec<BoardIncident>,
    models: Vec<BoardRow>,
}

/// An unresolved incident on the board.
struct BoardIncident {
    id: i64,
    title: String,
    status: String,
    impact: String,
    impact_class: &'static str,
    since_text: String,
    acknowledged: bool,
}

/// One model on the live board (also the body of `GET /api/v1/admin/board`).
#[derive(serde::Serialize)]
struct BoardRow {
    id: String,
    name: String,
    state: &'static str,
    enabled: bool,
    fallback: Option<String>,
    since: chrono::DateTime<Utc>,
    #[serde(skip)]
    since_text: String,
    reason: String,
    /// Every reason of the current decision (from the latest evaluation).
    reasons: Vec<String>,
    /// The active override, if an SRE forced the decision.
    #[serde(rename = "override")]
    forced: Option<BoardOverride>,
    /// Probes of the latest evaluation window that failed on our own configuration
    /// (auth, bad_request, not_found): the probe, not the provider, needs fixing.
    misconfigured: u32,
    /// Probes of the latest window throttled on our key (429).
    throttled: u32,
    evaluated_at: Option<chrono::DateTime<Utc>>,
    /// The last five probes, newest first.
    probes: Vec<BoardProbe>,
    /// The summary table's figures, from the current decision's evidence (the JSON body has
    /// the evidence in full elsewhere: `/api/v1/models/{id}`).
    #[serde(skip)]
    error_rate_text: String,
    #[serde(skip)]
    ttft_text: String,
    /// The application's traffic of the last minute, from the decision's evidence.
    traffic: Option<crate::vocabulary::TrafficEvidence>,
    /// Its traffic over the last 24 hours, all sources and each.
    traffic_24h: Option<BoardTraffic>,
    /// The summary table's traffic column and the details' lines, in words.
    #[serde(skip)]
    traffic_text: String,
    #[serde(skip)]
    traffic_lines: Vec<String>,
    /// What the provider's own page says of the model (with `reports_no_problem`).
    official: Option<crate::web::api_v1::wire::OfficialStatus>,
    /// The summary table's official column, in words.
    #[serde(skip)]
    official_text: String,
}

/// The board's official column: "operational since 14:02 (Claude API)", or why it is
/// unavailable; "≠" marks a provider reporting no problem while ours is impaired.
fn official_text(o: Option<&crate::web::api_v1::wire::OfficialStatus>) -> String {
    let Some(o) = o else { return "-".into() };
    if !o.available {
        return format!(
            "unavailable: {}",
            o.reason.as_deref().unwrap_or("not read yet")
        );
    }
    let state = o.state.map_or("-", |s| s.as_str());
    let since = o
        .since
        .map(|t| format!(" since {}", time(t).text))
        .unwrap_or_default();
    let component = o.component.as_deref().unwrap_or("-");
    let mark = if o.reports_no_problem { "≠ " } else { "" };
    let open = if o.incidents.is_empty() {
        String::new()
    } else {
        format!(", {} open incident(s)", o.incidents.len())
    };
    format!("{mark}{state}{since} ({component}){open}")
}

/// Traffic totals over the last 24 hours.
#[derive(serde::Serialize)]
struct BoardTraffic {
    requests: u64,
    failures: u64,
    client_errors: u64,
    throttled: u64,
    error_rate: f64,
    ttft_p50_ms: Option<u32>,
    sources: std::collections::BTreeMap<String, BoardTrafficSource>,
}

#[derive(serde::Serialize)]
struct BoardTrafficSource {
    requests: u64,
    failures: u64,
    error_rate: f64,
    ttft_p50_ms: Option<u32>,
}

impl BoardTraffic {
    fn from_summary(s: &crate::store::traffic::TrafficSummary) -> BoardTraffic {
        BoardTraffic {
            requests: s.total.requests,
            failures: s.total.failures,
            client_errors: s.total.client_errors,
            throttled: s.total.throttled,
            error_rate: s.total.error_rate(),
            ttft_p50_ms: s.total.ttft_p50_ms,
            sources: s
                .sources
                .iter()
                .map(|(name, t)| {
                    (
                        name.clone(),
                        BoardTrafficSource {
                            requests: t.requests,
                            failures: t.failures,
                            error_rate: t.error_rate(),
                            ttft_p50_ms: t.ttft_p50_ms,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The board's traffic column: the last minute's volume, provider faults and first token.
fn traffic_text(t: Option<&crate::vocabulary::TrafficEvidence>) -> String {
    match t {
        None => "-".into(),
        Some(t) => format!(
            "{}/min, {:.1}% failed, TTFT {}",
            t.requests,
            t.error_rate * 100.0,
            t.ttft_p50_ms
                .map_or_else(|| "-".into(), crate::vocabulary::evidence::ms)
        ),
    }
}

/// The details' traffic lines: the last minute by source, then the last 24 hours.
fn traffic_lines(
    t: Option<&crate::vocabulary::TrafficEvidence>,
    day: Option<&BoardTraffic>,
) -> Vec<String> {
    let mut lines: Vec<String> = t
        .map(|t| {
            crate::web::pages::model::traffic_facts(t)
                .into_iter()
                .map(|f| format!("{}: {}", f.term, f.value))
                .collect()
        })
        .unwrap_or_default();
    if let Some(d) = day {
        lines.push(format!(
            "Last 24 hours: {} requests, {} failed at the provider ({:.2}%), {} caller-side, {} throttled; time to first token p50 {}",
            d.requests,
            d.failures,
            d.error_rate * 100.0,
            d.client_errors,
            d.throttled,
            d.ttft_p50_ms
                .map_or_else(|| "-".into(), crate::vocabulary::evidence::ms)
        ));
        for (name, s) in &d.sources {
            lines.push(format!(
                "Last 24 hours from {name}: {} requests, {:.2}% failed",
                s.requests,
                s.error_rate * 100.0
            ));
        }
    }
    lines
}

#[derive(serde::Serialize)]
struct BoardOverride {
    enabled: bool,
    reason: String,
    created_by: String,
    expires_at: chrono::DateTime<Utc>,
    #[serde(skip)]
    expires_text: String,
}

#[derive(serde::Serialize)]
struct BoardProbe {
    at: chrono::DateTime<Utc>,
    #[serde(skip)]
    at_text: String,
    outcome: &'static str,
    http_status: Option<u16>,
    ttft_ms: Option<u32>,
    total_ms: u32,
    error: Option<String>,
}

impl BoardProbe {
    fn status_text(&self) -> String {
        self.http_status
            .map_or_else(|| "-".into(), |s| s.to_string())
    }

    fn ttft_text(&self) -> String {
        self.ttft_ms
            .map_or_else(|| "-".into(), |ms| format!("{ms} ms"))
    }
}

/// Probes shown per model on the board.
const BOARD_PROBES: u32 = 5;

/// The board's rows, read per request from the routing table and the store.
async fn board_rows(state: &AdminState) -> Result<Vec<BoardRow>, crate::store::StoreError> {
    let table = state.app.routing.borrow().clone();
    let store = &state.app.store;
    let stored: std::collections::BTreeMap<String, _> = store
        .load_model_states()
        .await?
        .into_iter()
        .map(|s| (s.model_key.clone(), s))
        .collect();
    let overrides = store.active_overrides().await?;
    let traffic = store
        .traffic_since(state.now() - chrono::Duration::hours(24))
        .await?;
    let official = crate::official::views::OfficialSnapshot::build(
        &state.app.config,
        &store
            .official(state.now() - chrono::Duration::days(crate::official::KEEP_DAYS))
            .await?,
        &[],
        state.now(),
    )
    .models;
    let names: std::collections::BTreeMap<String, String> = state
        .app
        .config
        .models()
        .map(|(p, m)| (format!("{}/{}", p.id, m.id), m.name.clone()))
        .collect();
    let mut rows = Vec::with_capacity(table.models.len());
    for m in &table.models {
        let s = stored.get(&m.id);
        let official_status = official.get(&m.id).map(|o| {
            let mut view = crate::web::api_v1::wire::OfficialStatus::from_view(o, m.state);
            view.incidents.truncate(5);
            view
        });
        let probes = store
            .latest_results(&m.id, BOARD_PROBES)
            .await?
            .into_iter()
            .map(|r| BoardProbe {
                at: r.started_at,
                at_text: time(r.started_at).text,
                outcome: r.outcome.as_str(),
                http_status: r.http_status,
                ttft_ms: r.ttft_ms,
                total_ms: r.total_ms,
                error: r.error,
            })
            .collect();
        rows.push(BoardRow {
            id: m.id.clone(),
            name: names.get(&m.id).cloned().unwrap_or_else(|| m.id.clone()),
            state: m.state.as_str(),
            enabled: m.enabled,
            fallback: m.fallback.clone(),
            since: m.since,
            since_text: time(m.since).text,
            reason: m.reason.clone(),
            reasons: s.map(|s| s.reasons.clone()).unwrap_or_default(),
            forced: overrides
                .iter()
                .find(|o| o.model_key == m.id)
                .map(|o| BoardOverride {
                    enabled: o.enabled,
                    reason: o.reason.clone(),
                    created_by: o.created_by.clone(),
                    expires_at: o.expires_at,
                    expires_text: time(o.expires_at).text,
                }),
            error_rate_text: s.map_or_else(
                || "-".into(),
                |s| {
                    format!(
                        "{:.0}% ({} of {})",
                        s.evidence.error_rate * 100.0,
                        s.evidence.failures,
                        s.evidence.samples
                    )
                },
            ),
            ttft_text: s
                .and_then(|s| s.evidence.ttft_p50_ms)
                .map_or_else(|| "-".into(), crate::vocabulary::evidence::ms),
            traffic_text: traffic_text(s.and_then(|s| s.evidence.traffic.as_ref())),
            traffic_lines: traffic_lines(
                s.and_then(|s| s.evidence.traffic.as_ref()),
                traffic.get(&m.id).map(BoardTraffic::from_summary).as_ref(),
            ),
            traffic: s.and_then(|s| s.evidence.traffic.clone()),
            traffic_24h: traffic.get(&m.id).map(BoardTraffic::from_summary),
            official_text: official_text(official_status.as_ref()),
            official: official_status,
            misconfigured: s.map_or(0, |s| s.evidence.misconfigured),
            throttled: s.map_or(0, |s| s.evidence.throttled),
            evaluated_at: s.map(|s| s.evaluated_at),
            probes,
        });
    }
    Ok(rows)
}

/// `GET /api/v1/admin/board` (scope read): the live board as JSON.
pub(super) async fn board_json(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Read)?;
    let models = board_rows(&state).await.map_err(internal)?;
    Ok(axum::Json(
        json!({ "generated_at": state.now(), "models": models }),
    ))
}

/// `GET /admin`: the board; without a session, the sign-in form.
pub(super) async fn board(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
) -> Response {
    let Ok(user) = user else {
        return Redirect::to("/admin/login").into_response();
    };
    let models = match board_rows(&state).await {
        Ok(models) => models,
        Err(e) => return PageError::from(internal(e)).into_response(),
    };
    let open_incidents = match state.app.store.incidents(50).await {
        Ok(all) => all
            .into_iter()
            .filter(|i| i.resolved_at.is_none())
            .map(|i| BoardIncident {
                id: i.id,
                impact: impact_label(&i.impact),
                impact_class: impact_class(&i.impact),
                title: i.title,
                status: status_label(&i.status),
                since_text: time(i.created_at).text,
                acknowledged: i.acknowledged_at.is_some(),
            })
            .collect(),
        Err(e) => return PageError::from(internal(e)).into_response(),
    };
    let t = Board {
        layout: layout("Operations"),
        email: user.session.email.clone(),
        csrf: state.auth.csrf_token(&user.session),
        open_incidents,
        models,
    };
    page(StatusCode::OK, t)
}
