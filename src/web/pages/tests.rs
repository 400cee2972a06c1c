//! Renders hand-built snapshots: cases the seeded service never reaches (a model disabled
//! right now, hostile incident text, a stale database).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::render;
use crate::store::incidents::{Incident, IncidentUpdate};
use crate::vocabulary::{Evidence, ModelState};
use crate::web::site::Rendered;
use crate::web::snapshot::{ModelView, ProviderView, PublicSnapshot};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 14, 5, 0).unwrap()
}

fn model(provider: &str, id: &str, name: &str, state: ModelState, enabled: bool) -> ModelView {
    ModelView {
        id: format!("{provider}/{id}"),
        provider_id: provider.into(),
        model_id: id.into(),
        name: name.into(),
        state,
        enabled,
        fallback: None,
        fallback_name: None,
        since: now() - Duration::minutes(5),
        reason: String::new(),
        reasons: vec!["error rate 60% (lower bound 45%) ≥ 20%".into()],
        evidence: Some(Evidence {
            probes: 30,
            samples: 30,
            failures: 18,
            error_rate: 0.6,
            error_rate_lower: 0.45,
            error_rate_upper: 0.73,
            ..Evidence::default()
        }),
        ttft_now_ms: Some(720),
        last_probe_at: Some(now()),
        sparkline: vec![Some(700), None, Some(900)],
        days: Vec::new(),
        uptime_90d: Some(0.999),
        chart_24h: Vec::new(),
        chart_7d: Vec::new(),
        chart_30d: Vec::new(),
        outcomes_24h: BTreeMap::from([("ok".to_string(), 90), ("overloaded".to_string(), 10)]),
        history: Vec::new(),
        official: None,
    }
}

/// Anthropic's Opus is disabled (partial outage) with Sonnet as its fallback.
fn snapshot(incidents: Vec<Incident>) -> PublicSnapshot {
    let mut opus = model(
        "anthropic",
        "claude-opus-4-8",
        "Claude Opus 4.8",
        ModelState::PartialOutage,
        false,
    );
    opus.fallback = Some("anthropic/claude-sonnet-4-5".into());
    opus.fallback_name = Some("Claude Sonnet 4.5".into());
    let sonnet = model(
        "anthropic",
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        ModelState::Operational,
        true,
    );
    PublicSnapshot {
        version: 1,
        generated_at: now(),
        page_name: "modelwatch".into(),
        base_url: "http://127.0.0.1:8080".into(),
        providers: vec![ProviderView {
            id: "anthropic".into(),
            name: "Anthropic".into(),
            state: ModelState::PartialOutage,
            models: vec![opus, sonnet],
        }],
        incidents,
        maintenances: Vec::new(),
        official: Default::default(),
        stale_since: None,
    }
}

fn incident(title: &str, body: &str) -> Incident {
    Incident {
        id: 7,
        provider_id: "anthropic".into(),
        title: title.into(),
        status: "investigating".into(),
        impact: "major".into(),
        affected: vec!["anthropic/claude-opus-4-8".into()],
        automatic: true,
        created_at: now() - Duration::minutes(5),
        updated_at: now() - Duration::minutes(1),
        resolved_at: None,
        acknowledged_at: None,
        acknowledged_by: None,
        postmortem_url: None,
        updates: vec![
            IncidentUpdate {
                id: 1,
                at: now() - Duration::minutes(5),
                status: "investigating".into(),
                impact: "major".into(),
                body: "First update.".into(),
                affected: vec!["anthropic/claude-opus-4-8".into()],
                notified: true,
            },
            IncidentUpdate {
                id: 2,
                at: now() - Duration::minutes(1),
                status: "identified".into(),
                impact: "major".into(),
                body: body.into(),
                affected: vec!["anthropic/claude-opus-4-8".into()],
                notified: true,
            },
        ],
    }
}

fn page<'a>(out: &'a [Rendered], path: &str) -> &'a str {
    let r = out
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no body at {path}"));
    std::str::from_utf8(&r.body).unwrap()
}

/// Every body of a snapshot: the shared ones and each model's own.
fn render_all(s: &PublicSnapshot) -> Vec<Rendered> {
    let mut out = render(s);
    for m in s.models() {
        out.extend(super::render_model(s, m));
    }
    out
}

#[test]
fn disabled_model_names_its_fallback_with_state_in_words() {
    let out = render_all(&snapshot(Vec::new()));
    let index = page(&out, "/");
    assert!(index.contains("Partial outage"), "banner and state label");
    assert!(index.contains("Disabled") && index.contains("Enabled"));
    assert!(
        index.contains(
            r#"Use <a href="/models/anthropic/claude-sonnet-4-5">Claude Sonnet 4.5</a> instead."#
        ),
        "{index}"
    );
    // Only the disabled model gets a fallback note.
    assert_eq!(index.matches("instead.").count(), 1);
    assert_eq!(page(&out, "/index.html"), index);
    let opus = page(&out, "/models/anthropic/claude-opus-4-8");
    assert!(opus.contains("Use <a href=\"/models/anthropic/claude-sonnet-4-5\">"));
    assert!(
        opus.contains("60.00% (99% interval 45.00% to 73.00%)"),
        "{opus}"
    );
    assert!(opus.contains("<code>overloaded</code></th><td class=\"num\">10</td>"));
}

#[test]
fn incident_text_is_escaped_everywhere() {
    let evil = "<script>alert(1)</script>";
    let out = render(&snapshot(vec![incident(evil, evil)]));
    for path in ["/", "/history", "/incidents/7"] {
        let html = page(&out, path);
        // askama writes numeric references (`&#60;`); named ones (`&lt;`) would do as well.
        let escaped = [
            "&#60;script&#62;alert(1)&#60;/script&#62;",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        ];
        assert!(escaped.iter().any(|e| html.contains(e)), "{path}: {html}");
        assert!(!html.contains("<script>alert"), "{path}: {html}");
    }
}

#[test]
fn active_incident_shows_latest_update_first() {
    let out = render(&snapshot(vec![incident("Opus impaired", "Second update.")]));
    let index = page(&out, "/");
    assert!(index.contains("Active incidents") && index.contains("Second update."));
    assert!(
        !index.contains("First update."),
        "only the latest update on the front page"
    );
    let timeline = page(&out, "/incidents/7");
    let (second, first) = (
        timeline.find("Second update.").unwrap(),
        timeline.find("First update.").unwrap(),
    );
    assert!(second < first, "newest first");
    assert!(timeline.contains(
        r#"<time datetime="2025-06-01T14:04:00Z" data-style="full">2025-06-01 14:04 UTC</time>"#
    ));
}

#[test]
fn front_page_renders_the_latest_update_as_the_incident_page_does() {
    let body = "**Identified**: overload upstream.\n\n- retrying\n\n<img src=x onerror=alert(1)>";
    let out = render(&snapshot(vec![incident("Opus impaired", body)]));
    for path in ["/", "/incidents/7"] {
        let html = page(&out, path);
        assert!(
            html.contains("<strong>Identified</strong>: overload upstream.")
                && html.contains("<li>retrying</li>"),
            "{path}: {html}"
        );
        assert!(!html.contains("**Identified**"), "{path}");
        assert!(!html.contains("onerror"), "{path}: {html}");
    }
}

#[test]
fn quiet_pages_say_so() {
    let out = render(&snapshot(Vec::new()));
    assert!(page(&out, "/").contains("No maintenance scheduled"));
    assert!(!page(&out, "/").contains("Active incidents"));
    assert!(page(&out, "/history").contains("No incidents in the last 90 days"));
    let subscribe = page(&out, "/subscribe");
    assert!(
        subscribe.contains("href=\"/history.atom\"") && subscribe.contains("href=\"/history.rss\"")
    );
}

#[test]
fn stale_snapshot_says_how_old_its_figures_are() {
    let mut s = snapshot(Vec::new());
    assert!(!page(&render(&s), "/").contains("database is unavailable"));
    s.stale_since = Some(now() - Duration::minutes(3));
    let out = render(&s);
    assert!(page(&out, "/").contains(
        r#"Figures as of <time datetime="2025-06-01T14:02:00Z" data-style="time">14:02 UTC</time>; the database is unavailable"#
    ));
}

#[test]
fn every_page_has_the_shared_head_and_landmarks() {
    let out = render(&snapshot(vec![incident("t", "b")]));
    for r in out
        .iter()
        .filter(|r| r.content_type.starts_with("text/html"))
    {
        let html = std::str::from_utf8(&r.body).unwrap();
        for needle in [
            "<html lang=\"en\">",
            "name=\"viewport\"",
            "name=\"description\"",
            r#"<link rel="alternate" type="application/atom+xml""#,
            r#"<script src="/static/localtime.js" defer></script>"#,
            "<header",
            "<nav",
            "<main id=\"main\"",
            "<footer",
            "href=\"#main\"",
        ] {
            assert!(html.contains(needle), "{}: {needle}", r.path);
        }
        assert_eq!(html.matches("<h1").count(), 1, "{}", r.path);
    }
    let css = out.iter().find(|r| r.path == "/static/style.css").unwrap();
    assert_eq!(css.content_type, "text/css; charset=utf-8");
    assert!(std::str::from_utf8(&css.body)
        .unwrap()
        .contains("prefers-color-scheme: dark"));
}

#[test]
fn paths_are_encoded_like_browsers_request_them() {
    assert_eq!(super::path_segment("gpt-4.1"), "gpt-4.1");
    assert_eq!(
        super::model_href("bedrock", "anthropic.claude v1:0/x"),
        "/models/bedrock/anthropic.claude%20v1:0%2Fx"
    );
}

#[test]
fn the_banner_agrees_with_the_statuspage_indicator() {
    use crate::web::pages::index::banner_state;
    // Every model recovered but the incident is still monitored (major impact): the page
    // must not say "all operational" while status.json says "major".
    let mut s = snapshot(vec![incident("Opus impaired", "Monitoring.")]);
    s.incidents[0].status = "monitoring".into();
    for p in &mut s.providers {
        p.state = ModelState::Operational;
        for m in &mut p.models {
            m.state = ModelState::Operational;
        }
    }
    let index = render(&s);
    let index = page(&index, "/");
    assert!(!index.contains("All systems operational"), "{index}");
    assert!(index.contains("Partial outage"));
    assert_eq!(
        banner_state(ModelState::MajorOutage, "minor"),
        ModelState::MajorOutage,
        "never better than the models"
    );
    assert_eq!(
        banner_state(ModelState::Unknown, "none"),
        ModelState::Unknown
    );
    assert_eq!(
        banner_state(ModelState::Operational, "critical"),
        ModelState::MajorOutage
    );
}

/// The front page's row of `name`.
fn row<'a>(index: &'a str, name: &str) -> &'a str {
    index
        .split("<li class=\"model\">")
        .find(|r| r.contains(&format!(">{name}</a></h3>")))
        .unwrap_or_else(|| panic!("no row of {name}: {index}"))
}

#[test]
fn a_sparkline_draws_what_there_is_and_says_so_below_two_points() {
    let mut s = snapshot(Vec::new());
    let mut few = vec![None; crate::web::snapshot::SPARKLINE_POINTS];
    // A model probed for the last half hour: two 15-minute medians, drawn across the row.
    let n = few.len();
    few[n - 2] = Some(700);
    few[n - 1] = Some(900);
    s.providers[0].models[0].sparkline = few.clone();
    let mut day: Vec<Option<u32>> = (0..crate::web::snapshot::SPARKLINE_POINTS)
        .map(|i| Some(600 + i as u32))
        .collect();
    day[10] = None;
    s.providers[0].models[1].sparkline = day;
    let out = render(&s);
    let index = page(&out, "/");

    let opus = row(index, "Claude Opus 4.8");
    assert!(opus.contains("viewBox=\"0 0 1 100\""), "{opus}");
    assert!(opus.contains("<polyline points=\"0,99 1,1\">"), "{opus}");
    assert!(
        opus.contains("Time to first token over the last 30 minutes: between 700 ms and 900 ms"),
        "{opus}"
    );
    // A day of figures is drawn as before: lines, broken where a slot has no median.
    let sonnet = row(index, "Claude Sonnet 4.5");
    assert_eq!(sonnet.matches("<polyline").count(), 2, "{sonnet}");
    assert!(!sonnet.contains("Not enough data yet"));

    // A single median is no line: the row says so in words.
    few[n - 2] = None;
    s.providers[0].models[0].sparkline = few;
    let out = render(&s);
    let opus = row(page(&out, "/"), "Claude Opus 4.8");
    assert!(!opus.contains("<polyline"), "no dot for one point: {opus}");
    assert!(opus.contains("Not enough data yet"), "{opus}");
}

/// A model with a full history: 90 days of figures (one incident a fortnight) and a day of
/// sparkline, the heaviest a row gets in steady state.
fn busy_model(provider: &str, i: usize, state: ModelState) -> ModelView {
    let mut m = model(
        provider,
        &format!("model-{i:03}-2025-08-07"),
        &format!("Model {i:03}"),
        state,
        true,
    );
    let today = now().date_naive();
    m.days = (0..crate::web::snapshot::HISTORY_DAYS)
        .rev()
        .map(|back| crate::web::snapshot::DayBar {
            date: today - Duration::days(back),
            worst: if back % 14 == 3 {
                ModelState::DegradedPerformance
            } else {
                ModelState::Operational
            },
            uptime: Some(0.9995 - (back % 7) as f64 / 1000.0),
            probes: 2880,
            failures: 3,
            ttft_p50_ms: Some(600 + (back as u32 * 37) % 500),
            ttft_p95_ms: Some(1100 + (back as u32 * 53) % 900),
            so_far: back == 0,
            incidents: if back % 14 == 3 {
                vec![100 + back]
            } else {
                vec![]
            },
        })
        .collect();
    m.sparkline = (0..96)
        .map(|k| Some(600 + (k * 37 + i as u32 * 11) % 400))
        .collect();
    m
}

/// `providers` providers of `models` models each, all with full histories; the first
/// `impaired` models of the first provider are in a partial outage.
pub(super) fn fleet(providers: usize, models: usize, impaired: usize) -> PublicSnapshot {
    let mut s = snapshot(Vec::new());
    s.providers = (0..providers)
        .map(|p| {
            let id = format!("provider-{p:02}");
            ProviderView {
                name: format!("Provider {p:02}"),
                state: ModelState::Operational,
                models: (0..models)
                    .map(|i| {
                        let state = if p == 0 && i < impaired {
                            ModelState::PartialOutage
                        } else {
                            ModelState::Operational
                        };
                        busy_model(&id, i, state)
                    })
                    .collect(),
                id,
            }
        })
        .collect();
    s
}

/// The demo's eight models, each with 90 days of figures, keep the front page under 30 KB
/// (54 KB with a title on every bar, with the demo's mostly empty history).
#[test]
fn eight_models_with_full_history_weigh_under_30_kb() {
    let out = render(&fleet(2, 4, 1));
    let index = page(&out, "/");
    assert_eq!(index.matches("<li class=\"model\">").count(), 8);
    assert!(index.len() <= 30 * 1024, "{} bytes", index.len());
}

/// A thousand models (10 providers × 100, full histories) keep the front page under 100 KB:
/// providers are collapsed to counts, and every impaired model is still named, the first
/// ones with a full row. The provider page lists all its models.
#[test]
fn a_thousand_models_collapse_to_counts_but_name_every_impaired_one() {
    let impaired = 25;
    let snap = fleet(10, 100, impaired);
    let out = render(&snap);
    let index = page(&out, "/");
    assert!(index.len() <= 100 * 1024, "{} bytes", index.len());
    for m in &snap.providers[0].models[..impaired] {
        let href = format!("href=\"/models/{}\"", m.id);
        assert!(index.contains(&href), "{} is not named", m.id);
    }
    assert_eq!(
        index.matches("<li class=\"model\">").count(),
        super::index::EXPANDED_MAX
    );
    assert!(
        index.contains("100 models: 25 partial outage, 75 operational."),
        "{index}"
    );
    assert!(index.contains("<a href=\"/providers/provider-09\">All 100 Provider 09 models</a>"));
    let provider = page(&out, "/providers/provider-00");
    assert_eq!(provider.matches("<li class=\"model\">").count(), 100);
    assert_eq!(provider.matches("<h1").count(), 1);
}

/// A request is matched to its model by the paths `web::model_paths` lists before anything
/// is rendered: they must be exactly the paths the model renderers produce (queries aside).
#[test]
fn model_paths_list_what_the_model_renderers_produce() {
    let s = snapshot(Vec::new());
    for m in s.models() {
        let mut rendered: Vec<String> = crate::web::model_renderers()
            .iter()
            .flat_map(|r| r(&s, m))
            .map(|r| r.path.split('?').next().unwrap_or_default().to_string())
            .collect();
        rendered.sort();
        rendered.dedup();
        let mut listed = crate::web::model_paths(m);
        listed.sort();
        assert_eq!(rendered, listed, "{}", m.id);
        // And none of them is a shared body, which would shadow it.
        let shared = render(&s);
        assert!(shared.iter().all(|r| !listed.contains(&r.path)));
    }
}

/// The model page offers the last hour, day, week and month as tabs (CSS `:target`, no
/// script), opens on the day, and each range draws its own data with exact figures.
#[test]
fn the_model_page_offers_four_ranges_with_tooltips() {
    use crate::web::snapshot::LatencyPoint;
    let mut s = snapshot(Vec::new());
    let m = &mut s.providers[0].models[1];
    // Three hours of minutes, the incident's 4.2 s first token two hours ago.
    m.chart_24h = (1..=180)
        .map(|k| LatencyPoint {
            at: now() - Duration::minutes(k),
            probes: 2,
            failures: u32::from(k == 120),
            ttft_p50_ms: Some(600),
            ttft_p95_ms: Some(if k == 120 { 4200 } else { 900 }),
            total_p50_ms: Some(1500),
            total_p95_ms: Some(2500),
        })
        .rev()
        .collect();
    let m = s.providers[0].models[1].clone();
    let html = super::model::render(&s, &m);
    for id in ["1h", "24h", "7d", "30d"] {
        assert_eq!(
            html.matches(&format!("href=\"#chart-{id}\"")).count(),
            4,
            "every panel carries the four tabs"
        );
        assert!(html.contains(&format!("id=\"chart-{id}\"")), "{id}");
    }
    assert!(html.contains("<section class=\"range range-default\" id=\"chart-24h\""));
    assert!(html.contains("<a href=\"#chart-1h\" aria-current=\"true\">1 h</a>"));
    let panel = |id: &str| {
        let from = html.find(&format!("id=\"chart-{id}\"")).unwrap();
        let to = html[from..].find("</section>").unwrap();
        &html[from..from + to]
    };
    // The last hour holds none of the incident; the day does, and its axis reaches it.
    assert!(!panel("1h").contains("4.2 s"), "{}", panel("1h"));
    let day = panel("24h");
    assert!(day.contains("p95 up to 4.2 s"), "{day}");
    assert!(day.contains(">5.0 s</text>"), "{day}");
    assert!(day.contains("No figures before 06-01 11:05 UTC"), "{day}");
    assert!(day.contains("<rect class=\"tip\""), "{day}");
    assert!(day.contains("1 failure"), "{day}");
    // Days without any data stay empty and say so.
    assert!(panel("7d").contains("No data for this period"));
}

/// A model with a month of figures (a day of minutes, a month of hours): the page carries
/// four ranges of two charts, each with at most 30 tooltips, and stays under 200 KB (about
/// 159 KB, most of it the day's minute lines; 46 KB gzipped).
#[test]
fn a_model_page_with_a_month_of_figures_stays_light() {
    use crate::web::snapshot::LatencyPoint;
    let point = |at, k: u32| LatencyPoint {
        at,
        probes: 2,
        failures: u32::from(k % 97 == 0),
        ttft_p50_ms: Some(600 + k * 37 % 400),
        ttft_p95_ms: Some(1100 + k * 53 % 900),
        total_p50_ms: Some(1500 + k * 41 % 600),
        total_p95_ms: Some(2500 + k * 59 % 1200),
    };
    let mut s = snapshot(Vec::new());
    let m = &mut s.providers[0].models[1];
    m.chart_24h = (1..=1440)
        .rev()
        .map(|k| point(now() - Duration::minutes(k), k as u32))
        .collect();
    m.chart_30d = (1..=720)
        .rev()
        .map(|k| point(now() - Duration::hours(k), k as u32))
        .collect();
    m.chart_7d = m.chart_30d[720 - 168..].to_vec();
    let m = s.providers[0].models[1].clone();
    let html = super::model::render(&s, &m);
    assert_eq!(html.matches("<figure class=\"chart\">").count(), 8);
    assert!(html.matches("<rect class=\"tip\"").count() <= 8 * 31);
    assert!(html.len() <= 200 * 1024, "{} bytes", html.len());
}

/// The model page links the incidents that name it, open ones marked as such; a model no
/// incident names has no such list.
#[test]
fn the_model_page_links_the_incident_affecting_it() {
    let mut old = incident("Anthropic: Claude Opus 4.8 (major outage)", "Older.");
    old.id = 3;
    old.status = "resolved".into();
    old.resolved_at = Some(now() - Duration::days(2));
    let out = render_all(&snapshot(vec![
        incident("Anthropic: Claude Opus 4.8 (partial outage)", "Looking."),
        old,
    ]));
    let opus = page(&out, "/models/anthropic/claude-opus-4-8");
    let open = opus
        .find(r#"<strong>Open incident:</strong> <a href="/incidents/7">"#)
        .unwrap_or_else(|| panic!("no link to the open incident: {opus}"));
    let resolved = opus
        .find(r#"<a href="/incidents/3">"#)
        .expect("the recent resolved one is linked too");
    assert!(open < resolved, "open incidents first");
    let sonnet = page(&out, "/models/anthropic/claude-sonnet-4-5");
    assert!(!sonnet.contains("model-incidents"), "{sonnet}");
}

/// The banner and the incident card use one colour scale: a major-impact incident of a
/// partial outage is coloured as a partial outage, like the banner beside it.
#[test]
fn the_incident_card_takes_the_colour_of_the_state_its_impact_matches() {
    let out = render_all(&snapshot(vec![incident("Opus impaired", "Looking.")]));
    let index = page(&out, "/");
    assert!(
        index.contains(r#"class="banner state-partial_outage""#),
        "{index}"
    );
    assert!(
        index
            .contains(r#"<article class="incident incident-investigating impact-partial_outage">"#),
        "{index}"
    );
    let history = page(&out, "/history");
    assert!(history.contains("impact-partial_outage"), "{history}");
    let page_of_it = page(&out, "/incidents/7");
    assert!(
        page_of_it.contains(r#"<span class="impact impact-partial_outage">Major impact</span>"#),
        "{page_of_it}"
    );
}

/// The subscribe forms offer a component tree: each provider by its name, its models by
/// theirs nested under it, the ids as the values sent (they once read "Anthropic
/// (simulated) (anthropic)" in two flat lists).
#[test]
fn the_subscribe_forms_offer_providers_with_their_models_nested() {
    let html = super::subscribe::render(&snapshot(Vec::new()));
    let provider = r#"<input type="checkbox" name="providers" value="anthropic"> Anthropic <span class="all-models">"#;
    let model = r#"<li><label class="choice"><input type="checkbox" name="models" value="anthropic/claude-opus-4-8"> Claude Opus 4.8</label></li>"#;
    assert_eq!(html.matches(provider).count(), 2, "both forms: {html}");
    assert_eq!(html.matches(model).count(), 2, "{html}");
    let first_provider = html.find(provider).unwrap();
    let first_model = html.find(model).unwrap();
    assert!(first_provider < first_model, "models under their provider");
    assert!(!html.contains("(anthropic)"), "{html}");
}
