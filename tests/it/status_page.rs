//! The public status pages, served by the real service on the seeded database: every route
//! answers HTML with the figures the routing table and the store hold. Hand-built cases (a
//! model disabled right now, hostile incident text) are unit tests in `src/web/pages`.

use chrono::Utc;
use modelwatch::vocabulary::ModelState;

use crate::helpers::{spawn_seeded_app, TestApp};

/// Undoes askama's escaping so assertions can use the stored text as it is.
fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// GETs `path`, asserts a 200 HTML answer and returns its text, unescaped.
async fn html(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    assert_eq!(
        r.headers()["content-type"],
        "text/html; charset=utf-8",
        "GET {path}"
    );
    let body = r.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"), "GET {path}: {body}");
    assert_eq!(body.matches("<h1").count(), 1, "GET {path}: one h1");
    unescape(&body)
}

/// `(id, name, state label, enabled)` of every model, from the live routing table.
async fn models(app: &TestApp) -> Vec<(String, String, &'static str, bool)> {
    let routing = app.get_json("/api/v1/routing").await;
    let names = [
        ("anthropic/claude-opus-4-8", "Claude Opus 4.8"),
        ("anthropic/claude-sonnet-4-5", "Claude Sonnet 4.5"),
        ("openai/gpt-5", "GPT-5"),
    ];
    let out: Vec<_> = routing["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let id = m["id"].as_str().unwrap().to_string();
            let name = names.iter().find(|(i, _)| *i == id).unwrap().1.to_string();
            let state: ModelState = m["state"].as_str().unwrap().parse().unwrap();
            (id, name, state.label(), m["enabled"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(out.len(), 3);
    out
}

#[tokio::test]
async fn front_page_shows_every_model_with_state_routing_and_history() {
    let app = spawn_seeded_app().await;
    let page = html(&app, "/").await;
    for (id, name, label, enabled) in models(&app).await {
        let href = format!("<a href=\"/models/{id}\">{name}</a>");
        let row = page
            .split("<li class=\"model\">")
            .find(|row| row.contains(&href))
            .unwrap_or_else(|| panic!("no row links {id}: {page}"));
        assert!(
            row.contains(&format!("</span> {label}</span>")),
            "{id}: {row}"
        );
        let routing = if enabled { "Enabled" } else { "Disabled" };
        assert!(row.contains(&format!("</span> {routing}</span>")), "{id}");
        // A sparkline and 90 daily bars; each bar's tooltip figures travel once per strip
        // (`data-days`, one entry a day) and `static/bars.js` turns them into titles.
        // (over what there is of the last 24 hours: the seeded history is shorter).
        assert!(row.contains("Time to first token over the last "), "{id}");
        let strip = row
            .split("<div class=\"bars\" role=\"img\"")
            .nth(1)
            .and_then(|s| s.split("</div>").next())
            .unwrap_or_else(|| panic!("{id}: no bars in {row}"));
        assert_eq!(strip.matches("<i").count(), 90, "{id}");
        let days = strip
            .split("data-days=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{id}: no data-days in {strip}"));
        assert_eq!(days.split(' ').count(), 90, "{id}: {days}");
        // The seeded half hour is (mostly) today, whose day rollup does not exist until the
        // day ends: today's bar (marked as still in progress) and the 90-day figure count it.
        let today = days.rsplit(' ').next().unwrap();
        let minutes_into_today = (Utc::now()
            - Utc::now()
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc())
        .num_minutes();
        if minutes_into_today > 2 {
            assert!(today.starts_with('~') && today.len() > 3, "{id}: {today}");
        }
        assert!(!row.contains("No uptime data yet"), "{id}: {row}");
        assert!(row.contains("Uptime over the last 90 days"), "{id}");
    }
    for heading in ["Anthropic</h2>", "OpenAI</h2>"] {
        assert!(page.contains(heading), "{heading}");
    }
    // The seeded incident is over: nothing active, every model operational again.
    assert!(page.contains("All systems operational"), "{page}");
    assert!(!page.contains("Active incidents"));
    assert!(page.contains("No maintenance scheduled"));
    assert!(page.contains("href=\"/subscribe\">Subscribe to updates</a>"));
    assert!(page.contains(r#"<link rel="alternate" type="application/atom+xml" "#));
    assert_eq!(html(&app, "/index.html").await, page);
    app.stop().await;
}

#[tokio::test]
async fn model_pages_show_charts_errors_history_and_evidence() {
    let app = spawn_seeded_app().await;
    for (id, name, label, enabled) in models(&app).await {
        let page = html(&app, &format!("/models/{id}")).await;
        assert!(page.contains(&format!("<h1>{name}</h1>")), "{id}");
        assert!(page.contains(&format!("</span> {label}</span>")), "{id}");
        let routing = if enabled { "Enabled" } else { "Disabled" };
        assert!(page.contains(&format!("</span> {routing}</span>")), "{id}");
        for period in ["Last hour", "Last 24 hours", "Last 7 days", "Last 30 days"] {
            assert!(page.contains(&format!("{period}</h3>")), "{id}: {period}");
        }
        // Eight charts (two per range, the ranges as tabs), each with p50 and p95 lines,
        // labelled axes and tooltips.
        assert_eq!(page.matches("<figure class=\"chart\">").count(), 8, "{id}");
        assert!(page.contains("<rect class=\"tip\""), "{id}");
        assert!(page.contains("<polyline class=\"line p50\""), "{id}");
        assert!(page.contains("<polyline class=\"line p95\""), "{id}");
        let label = page
            .split("aria-label=\"Time to first token, last 24 hours")
            .nth(1)
            .unwrap_or_else(|| panic!("{id}: no 24-hour chart"));
        assert!(
            label[..label.find('"').unwrap_or(0)].contains(": p50 up to"),
            "{id}"
        );
        assert!(
            page.contains("<th scope=\"row\"><code>ok</code></th>"),
            "{id}"
        );
        assert!(page.contains("Error rate</dt><dd>"), "{id}: evidence");
        assert!(page.contains("(99% interval "), "{id}");
    }
    // Opus went through the seeded incident: its history shows it disabled and restored,
    // newest first, and its errors are the simulated `overloaded` ones.
    let opus = html(&app, "/models/anthropic/claude-opus-4-8").await;
    let history = opus.split("State changes, last 30 days").nth(1).unwrap();
    assert!(history.contains("</span> Disabled</span>"), "{history}");
    let times: Vec<&str> = history
        .split("<th scope=\"row\"><time datetime=\"")
        .skip(1)
        .map(|row| &row[..20])
        .collect();
    assert!(times.len() >= 3, "{history}");
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    // The newest change is the restore: back to operational and enabled.
    let newest = history.split("<tr>").nth(2).unwrap();
    assert!(newest.contains("data-label=\"To\"><span class=\"state state-operational\">"));
    assert!(newest.contains("</span> Enabled</span>"), "{newest}");
    assert!(opus.contains("<th scope=\"row\"><code>overloaded</code></th>"));
    assert!(opus.contains("provider failure"));
    // GPT-5 only ever left `unknown` for `operational`.
    let gpt = html(&app, "/models/openai/gpt-5").await;
    let history = gpt.split("State changes, last 30 days").nth(1).unwrap();
    assert_eq!(history.matches("<tr>").count() - 1, 1, "{history}");
    assert!(history.contains("</span> Unknown</span>") && !history.contains("Disabled"));
    app.stop().await;
}

#[tokio::test]
async fn incident_pages_and_history_show_the_timeline() {
    let app = spawn_seeded_app().await;
    let incidents = app.store.incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    let history = html(&app, "/history").await;
    for i in &incidents {
        assert!(
            history.contains(&format!("<a href=\"/incidents/{}\">{}</a>", i.id, i.title)),
            "{history}"
        );
        let page = html(&app, &format!("/incidents/{}", i.id)).await;
        assert!(page.contains(&format!("<h1>{}</h1>", i.title)));
        assert!(page.contains("<strong>Resolved</strong>"), "{page}");
        assert!(page.contains("<a href=\"/models/anthropic/claude-opus-4-8\">Claude Opus 4.8</a>"));
        // Every update appears, newest first.
        assert!(i.updates.len() >= 2);
        let positions: Vec<usize> = i
            .updates
            .iter()
            .map(|u| {
                page.find(&format!("<p class=\"update-body\">{}</p>", u.body))
                    .unwrap_or_else(|| panic!("update {} missing: {page}", u.id))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] > w[1]), "{positions:?}");
        let latest = i.updates.last().unwrap();
        assert!(page.contains(&format!(
            "<time datetime=\"{}\" data-style=\"full\">{}</time>",
            latest.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            latest.at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    app.stop().await;
}

#[tokio::test]
async fn subscribe_page_has_the_forms_and_points_at_the_feeds() {
    let app = spawn_seeded_app().await;
    let page = html(&app, "/subscribe").await;
    assert!(page.contains("<h1>Subscribe to updates</h1>"));
    assert_eq!(
        page.matches("action=\"/subscriptions/new\"").count(),
        2,
        "an email and a webhook form"
    );
    assert!(
        page.contains("value=\"anthropic/claude-opus-4-8\""),
        "a checkbox per model"
    );
    assert!(page.contains("href=\"/history.atom\"") && page.contains("href=\"/history.rss\""));
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_html_404s_and_assets_have_their_types() {
    let app = spawn_seeded_app().await;
    for path in [
        "/models/anthropic/nope",
        "/models/anthropic",
        "/incidents/999999",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert!(
            r.text().await.unwrap().contains("<h1>Not Found</h1>"),
            "{path}"
        );
    }
    let css = app.get("/static/style.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let css = css.text().await.unwrap();
    assert!(css.contains("prefers-color-scheme: dark") && css.contains(":focus-visible"));
    let js = app.get("/static/localtime.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(js.text().await.unwrap().contains("Intl.DateTimeFormat"));
    app.stop().await;
}

#[tokio::test]
async fn public_responses_carry_security_headers() {
    let app = spawn_seeded_app().await;
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    for path in ["/", "/api/v2/summary.json", "/history.atom"] {
        let r = app.get(path).await;
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            r.headers()["referrer-policy"],
            "strict-origin-when-cross-origin",
            "{path}"
        );
    }
    let json = app.get("/api/v2/summary.json").await;
    assert!(json.headers().get("content-security-policy").is_none());
    app.stop().await;
}
