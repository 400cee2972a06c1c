//! Webhook delivery attempts against real local receivers: the SSRF guard in front of every
//! connection, redirects never followed, timeouts that bound one attempt without delaying
//! another, and signatures checked by an independent implementation (the `standardwebhooks`
//! Python package, installed by `scripts/test`). All traffic stays on loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use modelwatch::config::Secret;
use modelwatch::notify::formats;
use modelwatch::notify::signing::{self, signature_header};
use modelwatch::notify::ssrf::AddressGuard;
use modelwatch::notify::webhook::{post, Attempt};
use modelwatch::vocabulary::Format;
use serde_json::{json, Value};

use crate::helpers::spawn_server;

type Hits = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A receiver recording every request and answering `status`.
async fn receiver(status: StatusCode) -> (SocketAddr, Hits) {
    let hits: Hits = Arc::default();
    let record = hits.clone();
    let router = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push((headers, body.to_vec()));
            status
        }
    });
    (spawn_server(router).await, hits)
}

/// A bare TCP listener counting *connections*, not requests: zero proves nothing connected.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (addr, count)
}

fn loopback_allowed() -> AddressGuard {
    AddressGuard::new(vec!["127.0.0.0/8".parse().unwrap()])
}

async fn post_json(guard: &AddressGuard, url: &str, timeout: Duration) -> Attempt {
    let body = br#"{"type":"test"}"#;
    post(guard, url, &[], "application/json", body, timeout).await
}

const LONG: Duration = Duration::from_secs(2);

/// A POST past the guard with loopback allowlisted, as the tests' receivers need.
async fn post_allowed(url: String) -> Attempt {
    post_json(&loopback_allowed(), &url, LONG).await
}

/// The attempt's error; panics if it succeeded.
fn error(a: &Attempt) -> &str {
    a.error
        .as_deref()
        .unwrap_or_else(|| panic!("the attempt succeeded: {a:?}"))
}

#[tokio::test]
async fn ssrf_refusals_never_reach_a_listener() {
    let (addr, connections) = counting_listener().await;
    let port = addr.port();
    let guard = AddressGuard::default();
    let cases = [
        (
            "http://127.0.0.1:PORT/hook",
            "loopback address (127.0.0.0/8)",
        ),
        ("http://localhost:PORT/hook", "localhost resolves to"),
        ("http://[::1]:PORT/hook", "loopback address (::1/128)"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://10.0.0.1/", "private address (10.0.0.0/8)"),
        (
            "http://[::ffff:127.0.0.1]:PORT/hook",
            "IPv4-mapped IPv6 address embedding a loopback",
        ),
        ("http://user:pass@example.com/", "contains credentials"),
        ("ftp://x/", "only http and https are allowed"),
    ];
    for (url, expected) in cases {
        let url = url.replace("PORT", &port.to_string());
        let a = post_json(&guard, &url, LONG).await;
        assert_eq!(a.status_code, None, "{url}: {a:?}");
        assert!(error(&a).contains(expected), "{url}: {a:?}");
        assert!(!error(&a).contains("pass@"), "credentials echoed: {a:?}");
    }
    // Literal addresses are refused by the form check alone, before any lookup or socket.
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]:1/",
    ] {
        assert!(guard.check_url(url).is_err(), "{url}");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused target was connected to"
    );

    // Control: the same listener is reachable once the allowlist admits loopback, so the zero
    // above is the guard's doing, not a listener that cannot be reached.
    let a = post_allowed(format!("http://127.0.0.1:{port}/hook")).await;
    assert_eq!(
        (a.status_code, a.error.as_deref()),
        (Some(204), None),
        "{a:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_are_failures_and_never_followed() {
    let (landing, landed) = receiver(StatusCode::OK).await;
    for location in [
        "http://169.254.169.254/".to_string(),
        format!("http://{landing}/landing"),
    ] {
        let loc = location.clone();
        let router = Router::new().fallback(move || {
            let loc = loc.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, loc)]).into_response() }
        });
        let redirector = spawn_server(router).await;
        let a = post_allowed(format!("http://{redirector}/hook")).await;
        assert_eq!(a.status_code, Some(302), "{location}: {a:?}");
        assert!(error(&a).contains("redirect, not followed"), "{a:?}");
        assert!(!a.succeeded());
    }
    // The loopback location was allowlisted and listening, and still nothing reached it.
    assert!(landed.lock().unwrap().is_empty(), "a redirect was followed");
}

#[tokio::test]
async fn delivery_carries_headers_and_body_intact() {
    let (addr, hits) = receiver(StatusCode::OK).await;
    let body = "{\"text\":\"ünïcödé & <tags> \\\" quotes\"}".as_bytes();
    let headers = vec![
        ("webhook-id".to_string(), "msg_42".to_string()),
        ("webhook-timestamp".to_string(), "1700000000".to_string()),
        ("x-extra".to_string(), "one two".to_string()),
    ];
    let a = post(
        &loopback_allowed(),
        &format!("http://{addr}/hooks/a?b=c"),
        &headers,
        "application/json",
        body,
        LONG,
    )
    .await;
    assert_eq!(
        (a.status_code, a.error.as_deref()),
        (Some(200), None),
        "{a:?}"
    );
    assert!(a.succeeded());
    let hits = hits.lock().unwrap();
    assert_eq!(hits.len(), 1);
    let (got, got_body) = &hits[0];
    assert_eq!(got_body.as_slice(), body);
    assert_eq!(got["webhook-id"], "msg_42");
    assert_eq!(got["webhook-timestamp"], "1700000000");
    assert_eq!(got["x-extra"], "one two");
    assert_eq!(got["content-type"], "application/json");
}

#[tokio::test]
async fn server_errors_are_failures_with_their_status() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::NOT_FOUND,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (addr, hits) = receiver(status).await;
        let a = post_allowed(format!("http://{addr}/")).await;
        assert_eq!(a.status_code, Some(status.as_u16()));
        assert_eq!(a.error, Some(format!("HTTP {}", status.as_u16())));
        assert_eq!(hits.lock().unwrap().len(), 1);
    }
    // Nothing listening: a connection failure, without a status.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let a = post_allowed(format!("http://{closed}/")).await;
    assert_eq!(a.status_code, None);
    assert!(
        error(&a).starts_with(&format!("could not connect to {closed}")),
        "{a:?}"
    );
}

#[tokio::test]
async fn a_hanging_receiver_times_out_without_delaying_a_healthy_one() {
    let hanging = spawn_server(Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        StatusCode::OK
    }))
    .await;
    let (healthy, hits) = receiver(StatusCode::OK).await;
    let guard = loopback_allowed();
    // Long enough that a healthy attempt on a loaded machine (each attempt builds its own
    // client) still ends well inside it: finishing in under half of it proves it never
    // waited for the hanging one, without a tight bound on how fast the machine is.
    let timeout = Duration::from_secs(2);
    let (hanging, healthy) = (format!("http://{hanging}/"), format!("http://{healthy}/"));
    let (slow, fast) = tokio::join!(
        post_json(&guard, &hanging, timeout),
        post_json(&guard, &healthy, timeout)
    );
    assert_eq!(slow.status_code, None);
    assert_eq!(slow.error.as_deref(), Some("timed out after 2000 ms"));
    assert!((1950..8000).contains(&slow.duration_ms), "{slow:?}");
    assert!(fast.succeeded(), "{fast:?}");
    assert!(
        fast.duration_ms < 1000,
        "the healthy attempt waited for the hanging one: {fast:?}"
    );
    assert_eq!(hits.lock().unwrap().len(), 1);
}

/// Runs `script` with `input` (JSON) on standard input; returns success and the output.
fn python(script: &str, input: &Value) -> (bool, String) {
    use std::io::Write;
    let check = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "python3 with the `standardwebhooks` package is needed: run scripts/test, which installs it"
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const VERIFY: &str = r#"
import json, sys
from standardwebhooks import Webhook
d = json.load(sys.stdin)
print(json.dumps(Webhook(d["secret"]).verify(d["body"], d["headers"])))
"#;

#[tokio::test]
async fn signatures_verify_with_the_standardwebhooks_python_library() {
    let (addr, hits) = receiver(StatusCode::NO_CONTENT).await;
    let (current, previous) = (signing::new_secret(), signing::new_secret());
    let event = json!({
        "type": "model.disabled", "occurred_at": "2025-03-01T10:00:00+00:00",
        "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
        "from": "degraded_performance", "to": "partial_outage", "decision": "disabled", "enabled": false,
        "fallback": "anthropic/claude-sonnet-4-5", "reasons": ["error rate ≥ 41% <over> 20% & \"rising\""],
        "incident": {"id": 7, "url": "/incidents/7"}, "public": true,
    });
    let event = modelwatch::vocabulary::Event::parse(&event.to_string()).unwrap();
    let payload = formats::build(Format::Native, &event, "http://status.test", None).unwrap();
    // Built exactly as the dispatcher does: id, timestamp, then one signature per secret.
    let (msg_id, timestamp) = ("msg_1_sub_abc", chrono::Utc::now().timestamp());
    let signature =
        signature_header(&[&current, &previous], msg_id, timestamp, &payload.body).unwrap();
    let headers = vec![
        ("webhook-id".to_string(), msg_id.to_string()),
        ("webhook-timestamp".to_string(), timestamp.to_string()),
        ("webhook-signature".to_string(), signature),
    ];
    let a = post(
        &loopback_allowed(),
        &format!("http://{addr}/"),
        &headers,
        payload.content_type,
        &payload.body,
        LONG,
    )
    .await;
    assert!(a.succeeded(), "{a:?}");

    let (got_headers, got_body) = hits.lock().unwrap()[0].clone();
    let received: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| (h.to_string(), json!(got_headers[*h].to_str().unwrap())))
            .collect();
    let body = String::from_utf8(got_body).unwrap();
    let input = |secret: &Secret, body: &str| json!({"secret": secret.expose(), "body": body, "headers": received});
    // Either secret verifies during a rotation, and the library hands back our event, its
    // link made absolute.
    let mut sent: Value = serde_json::from_str(&event.to_json()).unwrap();
    sent["incident"]["url"] = json!("http://status.test/incidents/7");
    for secret in [&current, &previous] {
        let (ok, out) = python(VERIFY, &input(secret, &body));
        assert!(ok, "standardwebhooks rejected what the receiver got: {out}");
        assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap(), sent);
    }
    // The check can fail: another secret, or one changed byte, is rejected.
    let (ok, out) = python(VERIFY, &input(&signing::new_secret(), &body));
    assert!(!ok && out.contains("No matching signature"), "{out}");
    let (ok, out) = python(
        VERIFY,
        &input(&current, &body.replacen("disabled", "enabled", 1)),
    );
    assert!(!ok && out.contains("No matching signature"), "{out}");
}

#[test]
fn the_published_test_vector_matches_python() {
    let script = r#"
import json, sys
from datetime import datetime, timezone
from standardwebhooks import Webhook
d = json.load(sys.stdin)
ts = datetime.fromtimestamp(d["timestamp"], tz=timezone.utc)
print(Webhook(d["secret"]).sign(d["id"], ts, d["body"]))
"#;
    let (secret, id, ts, body) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
    );
    let ours = signing::sign(&Secret::new(secret), id, ts, body.as_bytes()).unwrap();
    let (ok, theirs) = python(
        script,
        &json!({"secret": secret, "id": id, "timestamp": ts, "body": body}),
    );
    assert!(ok, "{theirs}");
    assert_eq!(theirs.trim(), ours);
    assert_eq!(ours, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
