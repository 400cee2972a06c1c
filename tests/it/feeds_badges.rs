//! The incident feeds (`/history.atom`, `/history.rss`) and the per-model badges (SVG and
//! shields.io endpoint JSON): served by the real service on the seeded database, parsed as
//! XML, and rendered from a hand-built snapshot whose text is hostile.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration};
use modelwatch::store::evaluations::StateChange;
use modelwatch::store::incidents::{Incident, IncidentUpdate};
use modelwatch::vocabulary::{Evidence, ModelState};
use modelwatch::web::snapshot::{ModelView, ProviderView, PublicSnapshot};
use modelwatch::web::{badges, feeds};
use quick_xml::events::Event;

use crate::helpers::spawn_seeded_app;

/// Text that would run, break out of CDATA, or start an entity if it were not escaped.
pub const HOSTILE: &str = "<script>alert(1)</script> & ]]> \"q\" 'a'";

/// One XML element, as far as these tests need it.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Element>,
    /// Concatenated text content, entities resolved.
    pub text: String,
}

impl Element {
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> &Element {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}>", self.name))
    }
}

/// Parses `xml` strictly: panics unless it is well-formed with exactly one root element.
pub fn parse_xml(xml: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut roots: Vec<Element> = Vec::new();
    let element = |e: &quick_xml::events::BytesStart| Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().expect("attribute entities").into_owned(),
                )
            })
            .collect(),
        ..Element::default()
    };
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!("ill-formed XML at {}: {e}\n{xml}", reader.error_position())
        });
        let mut push = |el: Element, stack: &mut Vec<Element>| match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None => roots.push(el),
        };
        match event {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => push(element(&e), &mut stack),
            Event::End(_) => {
                let el = stack.pop().expect("end tag without start");
                push(el, &mut stack);
            }
            Event::Text(t) => {
                let text = t.decode().unwrap();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None => assert!(text.trim().is_empty(), "text outside the root: {text}"),
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().unwrap();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .unwrap_or_else(|| panic!("undefined entity &{name};"))
                            .to_string()
                    }
                };
                stack
                    .last_mut()
                    .expect("reference outside the root")
                    .text
                    .push_str(&resolved);
            }
            Event::CData(c) => stack
                .last_mut()
                .expect("CDATA outside the root")
                .text
                .push_str(&c.decode().unwrap()),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    assert_eq!(roots.len(), 1, "exactly one root element");
    roots.pop().unwrap()
}

/// A snapshot with one model and one incident whose every piece of free text is `text`.
pub fn snapshot_with(text: &str) -> PublicSnapshot {
    let now = DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let model = ModelView {
        id: "acme/m-1".into(),
        provider_id: "acme".into(),
        model_id: "m-1".into(),
        name: text.into(),
        state: ModelState::PartialOutage,
        enabled: false,
        fallback: None,
        fallback_name: None,
        since: now,
        reason: text.into(),
        reasons: vec![text.into()],
        evidence: Some(Evidence::default()),
        ttft_now_ms: Some(700),
        last_probe_at: Some(now),
        sparkline: Vec::new(),
        days: Vec::new(),
        uptime_90d: Some(0.9),
        chart_24h: Vec::new(),
        chart_7d: Vec::new(),
        chart_30d: Vec::new(),
        outcomes_24h: BTreeMap::from([("ok".to_string(), 9)]),
        history: vec![StateChange {
            model_key: "acme/m-1".into(),
            at: now,
            from: ModelState::Operational,
            to: ModelState::PartialOutage,
            enabled: false,
            reasons: vec![text.into()],
            evidence: Evidence::default(),
        }],
        official: None,
    };
    let incident = Incident {
        id: 3,
        provider_id: "acme".into(),
        title: text.into(),
        status: "investigating".into(),
        impact: "major".into(),
        affected: vec!["acme/m-1".into()],
        automatic: false,
        created_at: now - Duration::minutes(5),
        updated_at: now,
        resolved_at: None,
        acknowledged_at: None,
        acknowledged_by: None,
        postmortem_url: None,
        updates: vec![IncidentUpdate {
            id: 1,
            at: now,
            status: "investigating".into(),
            impact: "major".into(),
            body: text.into(),
            affected: vec!["acme/m-1".into()],
            notified: true,
        }],
    };
    PublicSnapshot {
        version: 1,
        generated_at: now,
        page_name: text.into(),
        base_url: "http://status.example".into(),
        providers: vec![ProviderView {
            id: "acme".into(),
            name: text.into(),
            state: ModelState::PartialOutage,
            models: vec![model],
        }],
        incidents: vec![incident],
        maintenances: Vec::new(),
        official: Default::default(),
        stale_since: None,
    }
}

fn seconds(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .unwrap_or_else(|e| panic!("`{text}`: {e}"))
        .timestamp()
}

#[tokio::test]
async fn atom_and_rss_list_every_incident_with_its_timeline() {
    let app = spawn_seeded_app().await;
    let incidents = app.get_json("/api/v1/incidents").await["incidents"].clone();
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "the seeded incident");
    let incident = &incidents[0];
    let id = incident["id"].as_i64().unwrap();
    let updated = seconds(incident["updated_at"].as_str().unwrap());

    let r = app.get("/history.atom").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let feed = parse_xml(&r.text().await.unwrap());
    assert_eq!(feed.name, "feed");
    assert_eq!(feed.attrs["xmlns"], "http://www.w3.org/2005/Atom");
    let entries: Vec<&Element> = feed.all("entry").collect();
    assert_eq!(entries.len(), incidents.len());
    let entry = entries[0];
    assert_eq!(
        entry.child("id").text,
        format!("tag:modelwatch,2026:incident/{id}")
    );
    assert_eq!(
        entry.child("title").text,
        incident["title"].as_str().unwrap()
    );
    assert_eq!(seconds(&entry.child("updated").text), updated);
    assert!(entry.child("link").attrs["href"].ends_with(&format!("/incidents/{id}")));
    let content = entry.child("content");
    assert_eq!(content.attrs["type"], "html");
    // Every update of the timeline is in the entry, resolved first (newest first).
    let updates = incident["updates"].as_array().unwrap();
    assert!(updates.len() >= 2, "{incident}");
    for u in updates {
        assert!(
            content.text.contains(u["body"].as_str().unwrap()),
            "{}",
            content.text
        );
    }
    assert!(
        content.text.starts_with("<p><strong>Resolved</strong>"),
        "{}",
        content.text
    );
    assert_eq!(seconds(&feed.child("updated").text), updated);

    let r = app.get("/history.rss").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let rss = parse_xml(&r.text().await.unwrap());
    assert_eq!(rss.attrs["version"], "2.0");
    let channel = rss.child("channel");
    let items: Vec<&Element> = channel.all("item").collect();
    assert_eq!(items.len(), incidents.len());
    assert_eq!(
        items[0].child("guid").text,
        format!("tag:modelwatch,2026:incident/{id}")
    );
    assert_eq!(items[0].child("guid").attrs["isPermaLink"], "false");
    assert!(items[0]
        .child("link")
        .text
        .ends_with(&format!("/incidents/{id}")));
    assert_eq!(seconds(&items[0].child("pubDate").text), updated);
    app.stop().await;
}

#[tokio::test]
async fn every_model_has_an_svg_badge_and_a_shields_endpoint() {
    let app = spawn_seeded_app().await;
    let models = app.get_json("/api/v1/models").await["models"].clone();
    assert_eq!(models.as_array().unwrap().len(), 3);
    for m in models.as_array().unwrap() {
        let (provider, model) = (
            m["provider"].as_str().unwrap(),
            m["model"].as_str().unwrap(),
        );
        let name = m["name"].as_str().unwrap();
        let state: ModelState = serde_json::from_value(m["state"].clone()).unwrap();

        let r = app.get(&format!("/badges/{provider}/{model}.svg")).await;
        assert_eq!(r.status(), 200, "{provider}/{model}");
        assert_eq!(r.headers()["content-type"], "image/svg+xml; charset=utf-8");
        let svg = parse_xml(&r.text().await.unwrap());
        let words = format!("{name}: {}", state.label());
        assert_eq!(svg.name, "svg");
        assert_eq!(svg.attrs["role"], "img");
        assert_eq!(svg.attrs["aria-label"], words);
        assert_eq!(svg.child("title").text, words);
        let width: u32 = svg.attrs["width"].parse().unwrap();
        assert_eq!(
            width,
            badges::segment_width(name) + badges::segment_width(state.label())
        );
        let fill = badges::colour(state).1;
        let rects = &svg.all("g").next().unwrap().children;
        assert!(rects
            .iter()
            .any(|r| r.attrs.get("fill").map(String::as_str) == Some(fill)));

        let r = app
            .get(&format!("/api/v1/badges/{provider}/{model}.json"))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let shield: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            shield,
            serde_json::json!({
                "schemaVersion": 1,
                "label": name,
                "message": state.label(),
                "color": badges::colour(state).0,
            })
        );
    }
    let r = app.get("/api/v1/badges/anthropic/claude-nope.json").await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("claude-nope"));
    assert_eq!(
        app.get("/badges/anthropic/claude-nope.svg").await.status(),
        404
    );
    app.stop().await;
}

#[test]
fn hostile_text_is_inert_in_feeds_badges_and_json() {
    let snapshot = snapshot_with(HOSTILE);
    let atom = feeds::atom(&snapshot);
    let rss = feeds::rss(&snapshot);
    let badge = badges::render(&snapshot)
        .into_iter()
        .find(|r| r.path.ends_with(".svg"))
        .unwrap();
    let svg = String::from_utf8(badge.body).unwrap();
    for (what, xml) in [("atom", &atom), ("rss", &rss), ("svg", &svg)] {
        assert!(
            !xml.contains("<script"),
            "{what} carries a live tag:\n{xml}"
        );
        assert!(
            !xml.contains("]]>"),
            "{what} carries a raw CDATA end:\n{xml}"
        );
        assert!(!xml.contains("<![CDATA["), "{what} uses CDATA:\n{xml}");
        assert!(
            xml.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;"),
            "{what}"
        );
    }

    // Parsed back, the text is exactly what was written: escaped, not mangled.
    let feed = parse_xml(&atom);
    assert_eq!(
        feed.child("title").text,
        format!("{HOSTILE} incident history")
    );
    let entry = feed.child("entry");
    assert_eq!(entry.child("title").text, HOSTILE);
    // The HTML content is escaped twice: once as HTML, once as XML text.
    let html = &entry.child("content").text;
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;"),
        "{html}"
    );
    let rss = parse_xml(&rss);
    let item = rss.child("channel").child("item");
    assert_eq!(item.child("title").text, HOSTILE);
    assert!(!item.child("description").text.contains("<script"));
    let svg = parse_xml(&svg);
    assert!(svg.attrs["aria-label"].starts_with(HOSTILE));
    assert!(svg.child("title").text.starts_with(HOSTILE));

    // Every JSON body parses and carries the text verbatim.
    let mut bodies = api_bodies(&snapshot);
    bodies.extend(
        badges::render(&snapshot)
            .into_iter()
            .filter(|r| r.path.ends_with(".json")),
    );
    for r in &bodies {
        let value: serde_json::Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", r.path));
        assert!(value.is_object(), "{}", r.path);
    }
    let find = |path: &str| -> serde_json::Value {
        let r = bodies.iter().find(|r| r.path == path).unwrap();
        serde_json::from_slice(&r.body).unwrap()
    };
    assert_eq!(find("/api/v1/incidents/3")["incident"]["title"], HOSTILE);
    assert_eq!(
        find("/api/v1/incidents/3")["incident"]["updates"][0]["body"],
        HOSTILE
    );
    assert_eq!(find("/api/v1/models/acme/m-1")["model"]["name"], HOSTILE);
    assert_eq!(find("/api/v1/badges/acme/m-1.json")["label"], HOSTILE);
}

/// Every `/api/v1` body of a snapshot: the shared ones and each model's own.
pub fn api_bodies(
    snapshot: &modelwatch::web::snapshot::PublicSnapshot,
) -> Vec<modelwatch::web::site::Rendered> {
    use modelwatch::web::api_v1;
    let mut bodies = api_v1::render(snapshot);
    for m in snapshot.models() {
        bodies.extend(api_v1::render_model(snapshot, m));
    }
    bodies
}
