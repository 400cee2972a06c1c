//! Email subscriptions end to end through the real service and the SMTP sink: nothing is
//! sent before the confirmation click; notifications carry working one-click unsubscribe.

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use modelwatch::store::round::Round;
use serde_json::json;

use crate::helpers::{spawn_seeded_app_with, TestApp};
use crate::smtp_sink::{self, SmtpSink};

pub async fn wait_mail(sink: &SmtpSink, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: Vec<Vec<u8>> = sink.messages().into_iter().map(|m| m.data).collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} emails arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the dispatcher has fanned out every outbox row committed so far.
///
/// Fan-out turns an event into deliveries for the subscriptions that are active at that
/// moment; once the row is done, a subscription it skipped can never get that event. That
/// proves "nothing is sent" without a fixed sleep, and keeps the event from being fanned
/// out later, after the subscription has become active, on a slow machine.
async fn fanned_out(app: &TestApp) {
    let upto: Option<i64> = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_scalar(
        "SELECT max(id) FROM outbox"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    let upto = upto.expect("the event has an outbox row");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE id <= $1 AND done_at IS NULL"
        )
        .bind(upto)
        .fetch_one(db)
        .await)
        .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} outbox rows never fanned out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many deliveries were ever queued for subscription `id` (sent or not).
async fn deliveries(app: &TestApp, id: &str) -> usize {
    app.store.delivery_log(id, 100).await.unwrap().len()
}

/// The first link in the text body that contains `needle`, as a path on the test server.
pub fn link(raw: &[u8], needle: &str) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    let text = message.body_text(0).unwrap().to_string();
    let url = text
        .split_whitespace()
        .find(|w| w.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} link in:\n{text}"));
    let url = url.trim_matches(|c| c == '<' || c == '>' || c == '(' || c == ')');
    let path_start = url.find("/subscriptions").unwrap();
    url[path_start..].to_string()
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let message = MessageParser::default().parse(raw).unwrap();
    message.header_raw(name).map(|v| v.trim().to_string())
}

async fn announce(app: &TestApp) {
    let event = crate::helpers::model_event(
        "model.disabled",
        "anthropic/claude-opus-4-8",
        "Claude Opus 4.8",
        "partial_outage",
        Some("anthropic/claude-sonnet-4-5"),
        &["error rate 60%"],
    );
    app.store
        .commit_round(&Round {
            at: chrono::Utc::now(),
            events: vec![event],
            ..Round::default()
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_opt_in_then_notifications_then_one_click_unsubscribe() {
    let sink = smtp_sink::start().await;
    let notify = format!(
        "[notify]\nemail_transport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nemail_from = \"Status <status@example.com>\"\n",
        sink.port()
    );
    let app = spawn_seeded_app_with(&notify).await;
    let r = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .json(&json!({"kind": "email", "email": "reader@example.org", "models": ["anthropic/claude-opus-4-8"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let confirmation = wait_mail(&sink, 1).await.remove(0);
    assert_eq!(header(&confirmation, "List-Unsubscribe-Post"), None);

    // Before the click nothing else is sent, even when an event happens.
    announce(&app).await;
    fanned_out(&app).await;
    assert_eq!(
        deliveries(&app, &id).await,
        0,
        "nothing queued before confirmation"
    );
    assert_eq!(sink.messages().len(), 1, "no email before confirmation");

    let confirm = link(&confirmation, "/subscriptions/confirm");
    // A mail scanner that follows the link confirms nothing: the page asks for the click.
    for _ in 0..2 {
        let page = app.get(&confirm).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Confirm your subscription"), "{html}");
        assert!(!html.contains("Subscription confirmed"), "{html}");
    }
    announce(&app).await;
    fanned_out(&app).await;
    assert_eq!(
        deliveries(&app, &id).await,
        0,
        "a GET confirmed the address"
    );
    let press = || app.client.post(format!("{}{confirm}", app.base)).send();
    let page = press().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Subscription confirmed"));
    assert_eq!(
        press().await.unwrap().status(),
        404,
        "a confirmation link works once"
    );

    announce(&app).await;
    let mails = wait_mail(&sink, 2).await;
    let notification = &mails[1];
    let list_unsubscribe = header(notification, "List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        header(notification, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe_url = list_unsubscribe.trim_matches(|c| c == '<' || c == '>');
    let unsubscribe = &unsubscribe_url[unsubscribe_url.find("/subscriptions").unwrap()..];

    // The manage link works; a forged token does not.
    let manage = link(notification, "/manage");
    assert_eq!(app.get(&manage).await.status(), 200);
    assert_eq!(
        app.get(&manage.replace("token=", "token=x")).await.status(),
        404
    );

    // RFC 8058 one-click: a POST with `List-Unsubscribe=One-Click`.
    let r = app
        .client
        .post(format!("{}{unsubscribe}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    announce(&app).await;
    fanned_out(&app).await;
    assert_eq!(
        deliveries(&app, &id).await,
        1,
        "nothing queued after unsubscribing"
    );
    assert_eq!(sink.messages().len(), 2, "nothing after unsubscribing");
    app.stop().await;
}
