//! The front door (`web/front_door.rs`) answers GET and HEAD of the site's prebuilt bodies
//! before routing. Its answers must be the router's, byte for byte and header for header:
//! a request with a query string always goes through the router (and the site ignores any
//! parameter but `period`), so each path is asked both ways and the answers compared, for
//! every page, feed, badge and API the site links to, in every encoding and conditional form.

use std::collections::BTreeSet;

use reqwest::header::{HeaderMap, ACCEPT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};

use crate::helpers::{spawn_seeded_app_with_providers, TestApp, SEEDED_PROVIDERS};

/// Same-site links (`href` and `src`) in an HTML page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for piece in html.split(attribute).skip(1) {
            let link = piece.split('"').next().unwrap_or("");
            if link.starts_with('/') && !link.starts_with("//") {
                out.push(link.replace("&amp;", "&"));
            }
        }
    }
    out
}

/// Status, headers but the date, and body of one request.
async fn ask(
    app: &TestApp,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let response = app
        .client
        .request(method.clone(), format!("{}{path}", app.base))
        .headers(headers.clone())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let mut seen: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).to_string();
            (name.to_string(), value)
        })
        .collect();
    seen.sort();
    (status, seen, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_door_answers_as_the_router_does() {
    // No probing while the test runs (the seeded history stays), so the site holds still
    // between the two requests of a pair.
    let providers =
        SEEDED_PROVIDERS.replace(r#"schedule = "* * * * * *""#, r#"schedule = "0 0 0 1 1 *""#);
    assert_ne!(providers, SEEDED_PROVIDERS);
    let app = spawn_seeded_app_with_providers("", &providers).await;

    let mut paths: BTreeSet<String> = [
        "/",
        "/index.html",
        "/subscribe",
        "/official",
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v1/models",
        "/api/v1/incidents",
        // Live routes: were a prebuilt body ever to shadow one, the pair would differ.
        "/healthz",
        "/api/v1/routing",
        "/no/such/page",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for page in ["/", "/official", "/subscribe"] {
        let html = app.get(page).await.text().await.unwrap();
        paths.extend(links(&html));
    }
    assert!(paths.len() > 20, "too few paths to compare: {paths:?}");

    let mut answered = 0;
    for path in &paths {
        let etag = app
            .get(path)
            .await
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut variants = vec![HeaderMap::new()];
        for encoding in ["br", "gzip", "gzip, deflate, br"] {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_ENCODING, encoding.parse().unwrap());
            variants.push(h);
        }
        if let Some(tag) = &etag {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, tag.parse().unwrap());
            variants.push(h);
        }
        let routed_path = if path.contains('?') {
            format!("{path}&via=router")
        } else {
            format!("{path}?via=router")
        };
        for method in [Method::GET, Method::HEAD] {
            for headers in &variants {
                // A publish between the two requests of a pair changes the bytes; a real
                // difference stays on a second try.
                let mut front = ask(&app, &method, path, headers).await;
                let mut routed = ask(&app, &method, &routed_path, headers).await;
                if front != routed {
                    front = ask(&app, &method, path, headers).await;
                    routed = ask(&app, &method, &routed_path, headers).await;
                }
                assert_eq!(
                    (front.0, &front.1),
                    (routed.0, &routed.1),
                    "{method} {path} with {headers:?}: status and headers differ"
                );
                assert!(
                    front.2 == routed.2,
                    "{method} {path} with {headers:?}: bodies differ"
                );
                if front.0 == StatusCode::OK && !path.contains('?') {
                    answered += 1;
                }
            }
        }
    }
    // Pairs that served a body for a path without a query: mostly front-door answers.
    assert!(answered > 100, "only {answered} answered pairs");
    app.stop().await;
}
