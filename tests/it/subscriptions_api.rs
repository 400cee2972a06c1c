//! The subscription API and the dispatcher end to end: a real service, real local receivers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use modelwatch::config::Secret;
use modelwatch::notify::signing::sign;
use modelwatch::store::round::Round;
use serde_json::{json, Value};

use crate::helpers::{model_event, spawn_seeded_app_with, spawn_server, TestApp};

/// What a receiver got: headers and body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let store = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let addr = spawn_server(app).await;
    (format!("http://{addr}/hook"), got)
}

const NOTIFY: &str = "[notify]\nallow_internal_targets = [\"127.0.0.0/8\"]\n";

async fn wait_for(got: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived",
            now.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The subscription's delivery log once no delivery is still pending.
///
/// The receiver has a request in hand before the dispatcher has stored the answer, so
/// reading the log the moment the receiver counts a delivery can race that write.
async fn settled_delivery_log(app: &TestApp, id: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log: Value = app
            .client
            .get(format!("{}/api/v1/subscriptions/{id}/deliveries", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pending = log["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "pending");
        if !pending {
            return log;
        }
        assert!(Instant::now() < deadline, "deliveries still pending: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Commits events as the evaluator would (with their outbox rows).
async fn announce(app: &TestApp, events: &[(&'static str, &str, &str)]) {
    let round = Round {
        at: chrono::Utc::now(),
        events: events
            .iter()
            .map(|(kind, provider, model)| {
                let event = model_event(
                    kind,
                    model,
                    model,
                    "partial_outage",
                    None,
                    &["error rate 60%"],
                );
                assert_eq!(event.provider_id, *provider);
                event
            })
            .collect(),
        ..Round::default()
    };
    app.store.commit_round(&round).await.unwrap();
}

async fn create(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn verify(secret: &str, headers: &HeaderMap, body: &str) -> usize {
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = sign(&Secret::new(secret), id, ts, body.as_bytes()).unwrap();
    headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .filter(|s| *s == expected)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_matching_events_signed_and_survives_rotation() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let (url, got) = receiver().await;
    let r = create(&app, json!({"kind": "webhook", "url": url, "models": ["anthropic/claude-opus-4-8"], "events": ["model.disabled", "model.restored"]})).await;
    assert_eq!(r.status(), 201);
    let sub: Value = r.json().await.unwrap();
    let (id, secret, token) = (
        sub["id"].as_str().unwrap(),
        sub["secret"].as_str().unwrap().to_string(),
        sub["management_token"].as_str().unwrap(),
    );
    assert!(secret.starts_with("whsec_"));

    announce(
        &app,
        &[
            (
                "model.state_changed",
                "anthropic",
                "anthropic/claude-opus-4-8",
            ),
            ("model.disabled", "openai", "openai/gpt-5"),
            ("model.disabled", "anthropic", "anthropic/claude-opus-4-8"),
        ],
    )
    .await;
    let first = wait_for(&got, 1).await;
    let (headers, body) = &first[0];
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["model"].as_str()),
        (Some("model.disabled"), Some("anthropic/claude-opus-4-8"))
    );
    assert_eq!(
        verify(&secret, headers, body),
        1,
        "signed with the subscription's secret"
    );
    assert!(headers["webhook-id"].to_str().unwrap().ends_with(id));

    // Rotation: a new secret, and the old one still signs during the grace period.
    let rotated: Value = app
        .client
        .post(format!(
            "{}/api/v1/subscriptions/{id}/rotate-secret",
            app.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    announce(
        &app,
        &[("model.restored", "anthropic", "anthropic/claude-opus-4-8")],
    )
    .await;
    let both = wait_for(&got, 2).await;
    let (headers, body) = &both[1];
    assert_eq!(verify(&new_secret, headers, body), 1);
    assert_eq!(
        verify(&secret, headers, body),
        1,
        "the old secret still verifies during the grace period"
    );

    // The delivery log, and a redelivery with the same webhook-id.
    let log = settled_delivery_log(&app, id, token).await;
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(
        deliveries.len(),
        2,
        "only the matching events were queued: {log}"
    );
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "succeeded" && d["last_status_code"] == 200),
        "{log}"
    );
    let oldest = deliveries.last().unwrap();
    let r = app
        .client
        .post(format!(
            "{}/api/v1/subscriptions/{id}/deliveries/{}/redeliver",
            app.base, oldest["id"]
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let three = wait_for(&got, 3).await;
    assert_eq!(
        three[2].0["webhook-id"], three[0].0["webhook-id"],
        "a redelivery keeps its webhook-id"
    );

    // Deleted by its owner: nothing more can be rotated or redelivered.
    let sub_url = format!("{}/api/v1/subscriptions/{id}", app.base);
    let r = app
        .client
        .delete(&sub_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for path in [
        "rotate-secret".to_string(),
        format!("deliveries/{}/redeliver", oldest["id"]),
    ] {
        let r = app
            .client
            .post(format!("{sub_url}/{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{path}");
        assert!(r.text().await.unwrap().contains("unsubscribed"), "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_says_which_field_and_why() {
    let app = spawn_seeded_app_with("").await;
    let raw = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let cases = [
        (
            json!({"kind": "pigeon"}),
            422,
            Some("kind"),
            "not a subscription kind",
        ),
        (json!({"kind": "webhook"}), 422, Some("url"), "needs `url`"),
        (
            json!({"kind": "webhook", "url": "http://127.0.0.1:9/x"}),
            422,
            Some("url"),
            "127.0.0.1",
        ),
        (
            json!({"kind": "webhook", "url": "http://169.254.169.254/latest"}),
            422,
            Some("url"),
            "169.254.169.254",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/h", "models": ["x/y"]}),
            422,
            Some("models"),
            "models[0] `x/y`",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/h", "events": ["model.exploded"]}),
            422,
            Some("events"),
            "events[0]",
        ),
        (
            json!({"kind": "email", "email": "not-an-address"}),
            422,
            Some("email"),
            "not an email address",
        ),
        (
            json!({"kind": "email", "email": "\"<script>\"@example.com"}),
            422,
            Some("email"),
            "not an email address",
        ),
        (
            json!({"kind": "email", "email": "üñí@exämple.com"}),
            422,
            Some("email"),
            "in ASCII",
        ),
        (
            json!({"kind": "email", "email": "me@example.com", "url": "https://example.com/h"}),
            422,
            Some("url"),
            "for webhook subscriptions",
        ),
        (
            json!({"kind": "webhook", "url": format!("https://example.com/{}", "a".repeat(3000))}),
            422,
            Some("url"),
            "longer than 2048",
        ),
        (
            json!({"kind": "email", "email": "a@b.c", "colour": "red"}),
            400,
            None,
            "colour",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/h",
                   "events": vec!["model.disabled"; 1001]}),
            422,
            Some("events"),
            "at most 1000 entries (got 1001)",
        ),
    ];
    for (body, status, field, words) in cases {
        let r = create(&app, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"].as_str(), field, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(words),
            "{body}: {err}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_is_rate_limited_and_management_needs_the_token() {
    let app = spawn_seeded_app_with("[notify]\nsubscribe_per_hour = 2\n").await;
    let body = json!({"kind": "webhook", "url": "http://10.0.0.1/"});
    for _ in 0..2 {
        assert_eq!(create(&app, body.clone()).await.status(), 422);
    }
    let r = create(&app, body).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let r = app
        .client
        .get(format!("{}/api/v1/subscriptions/sub_x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(format!("{}/api/v1/subscriptions/sub_x", app.base))
        .bearer_auth("mgt_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_form_subscribes_a_webhook_and_shows_the_secret_once() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let (url, _got) = receiver().await;
    let form = format!("kind=webhook&url={}&format=native&models=anthropic%2Fclaude-opus-4-8&events=model.disabled", url.replace(':', "%3A").replace('/', "%2F"));
    let r = app
        .client
        .post(format!("{}/subscriptions/new", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let page = r.text().await.unwrap();
    assert!(page.contains("whsec_") && page.contains("mgt_"), "{page}");
    assert!(page.contains("shown only once"));
    let bad = app
        .client
        .post(format!("{}/subscriptions/new", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("kind=webhook&url=http%3A%2F%2F10.0.0.1%2F")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("private address"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistently_failing_endpoint_is_disabled_and_its_owner_told() {
    use modelwatch::clock::Clock;
    use modelwatch::config::{EmailTransport, NotifyConfig, SmtpTls};
    use modelwatch::notify::dispatcher::Dispatcher;
    use modelwatch::notify::email::Mailer;
    use modelwatch::notify::secrets::{hash_token, SecretBox};
    use modelwatch::notify::signing::new_secret;
    use modelwatch::store::subscriptions::NewSubscription;
    use modelwatch::vocabulary::{Filter, Format, Kind, Status};

    let sink = crate::smtp_sink::start().await;
    let failing = spawn_server(Router::new().route(
        "/hook",
        post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "d.db").await).await;
    let secrets = SecretBox::from_key(&[3u8; 32]).unwrap();
    store
        .insert_subscription(&NewSubscription {
            id: "sub_failing".into(),
            kind: Kind::Webhook,
            format: Format::Native,
            url: Some(format!("http://{failing}/hook")),
            email: Some("owner@example.org".into()),
            filter: Filter::default(),
            status: Status::Active,
            secret_enc: Some(secrets.seal(&new_secret())),
            manage_token_hash: hash_token("mgt_x"),
            confirm_token_hash: None,
            client_addr: None,
            created_at: chrono::Utc::now() - chrono::Duration::seconds(5),
        })
        .await
        .unwrap();
    let round = Round {
        at: chrono::Utc::now(),
        events: vec![model_event(
            "model.disabled",
            "p/m",
            "M",
            "partial_outage",
            None,
            &[],
        )],
        ..Round::default()
    };
    store.commit_round(&round).await.unwrap();

    // Zero patience: the first failed delivery already counts as persistent failure.
    let config = NotifyConfig {
        allow_internal_targets: vec!["127.0.0.0/8".parse().unwrap()],
        disable_after: Duration::ZERO,
        email_from: "Status <status@example.com>".into(),
        email: EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port: sink.port(),
            tls: SmtpTls::None,
            username: None,
            password: None,
        },
        ..NotifyConfig::default()
    };
    let mailer = Mailer::from_config(&config).unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        &config,
        secrets,
        mailer,
        "http://status.test",
        Clock::system(),
    );
    let pass = dispatcher.run_until_idle().await.unwrap();
    assert_eq!(pass.attempted, 1);

    let sub = store.subscription("sub_failing").await.unwrap().unwrap();
    assert_eq!(sub.status, Status::Disabled);
    assert!(sub
        .disabled_reason
        .unwrap()
        .contains("every delivery failed"));
    let log = store.delivery_log("sub_failing", 10).await.unwrap();
    assert_eq!(
        (log[0].status.as_str(), log[0].last_status_code),
        ("pending", Some(503)),
        "kept for a later redelivery"
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "the owner is told");
    assert_eq!(mails[0].to, vec!["owner@example.org".to_string()]);
    assert!(String::from_utf8_lossy(&mails[0].data).contains(&failing.ip().to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_answers_are_private_and_the_token_comes_first() {
    let app = spawn_seeded_app_with("").await;
    let r = create(&app, json!({"kind": "email", "email": "me@example.com"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store", "it holds a token");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let sub: Value = r.json().await.unwrap();
    let (id, token) = (
        sub["id"].as_str().unwrap(),
        sub["management_token"].as_str().unwrap(),
    );
    // The scheme is case-insensitive (RFC 9110).
    let r = app
        .client
        .get(format!("{}/api/v1/subscriptions/{id}", app.base))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    // A bad delivery id: 401 without the token, then a JSON 400 naming the parameter.
    let redeliver = format!(
        "{}/api/v1/subscriptions/{id}/deliveries/abc/redeliver",
        app.base
    );
    let r = app.client.post(&redeliver).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(&redeliver)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`delivery` must be an integer, not `abc`"),
        "{body}"
    );
    let page = app.get("/subscribe").await;
    assert!(page.headers().get("cache-control").unwrap() != "no-store");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stored_event_is_a_dead_delivery_with_its_reason() {
    use modelwatch::clock::Clock;
    use modelwatch::config::NotifyConfig;
    use modelwatch::notify::dispatcher::Dispatcher;
    use modelwatch::notify::email::Mailer;
    use modelwatch::notify::secrets::{hash_token, SecretBox};
    use modelwatch::notify::signing::new_secret;
    use modelwatch::store::subscriptions::NewSubscription;
    use modelwatch::vocabulary::{Filter, Format, Kind, Status};

    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "d.db").await).await;
    let secrets = SecretBox::from_key(&[4u8; 32]).unwrap();
    store
        .insert_subscription(&NewSubscription {
            id: "sub_reader".into(),
            kind: Kind::Webhook,
            format: Format::Native,
            url: Some(url),
            email: None,
            filter: Filter::default(),
            status: Status::Active,
            secret_enc: Some(secrets.seal(&new_secret())),
            manage_token_hash: hash_token("mgt_y"),
            confirm_token_hash: None,
            client_addr: None,
            created_at: chrono::Utc::now() - chrono::Duration::seconds(5),
        })
        .await
        .unwrap();
    let event =
        |model: &str| model_event("model.disabled", model, model, "partial_outage", None, &[]);
    let round = Round {
        at: chrono::Utc::now(),
        events: vec![event("p/broken"), event("p/fine")],
        ..Round::default()
    };
    store.commit_round(&round).await.unwrap();
    // One stored payload damaged (by hand, a bad migration, a disk): it cannot be read.
    modelwatch::on_db!(store.pool(), |db| sqlx::query(
        "UPDATE events SET payload_json = '{\"model\": ' WHERE model_key = 'p/broken'"
    )
    .execute(db)
    .await
    .map(modelwatch::store::Done::from))
    .unwrap();

    let config = NotifyConfig {
        allow_internal_targets: vec!["127.0.0.0/8".parse().unwrap()],
        ..NotifyConfig::default()
    };
    let dispatcher = Dispatcher::new(
        store.clone(),
        &config,
        secrets,
        Mailer::from_config(&config).unwrap(),
        "http://status.test",
        Clock::system(),
    );
    dispatcher.run_until_idle().await.unwrap();

    // The readable event is delivered after the dead one: the endpoint's queue went on.
    let bodies = wait_for(&got, 1).await;
    assert!(bodies[0].1.contains("p/fine"), "{}", bodies[0].1);
    let log = store.delivery_log("sub_reader", 10).await.unwrap();
    let broken = log
        .iter()
        .find(|d| d.event_type == "model.disabled" && d.status == "dead");
    let broken = broken.unwrap_or_else(|| panic!("no dead delivery: {log:?}"));
    let reason = broken.last_error.as_deref().unwrap_or("");
    assert!(reason.contains("cannot be read"), "{reason}");
    assert_eq!(broken.attempts, 1, "given up at once, not retried");
    // Nothing was sent for it (no `null` body), and the endpoint is not counted as failing.
    assert_eq!(got.lock().unwrap().len(), 1);
    let sub = store.subscription("sub_reader").await.unwrap().unwrap();
    assert_eq!(sub.status, Status::Active);
}

/// The handler that records a subscription and the evaluator that stamps events read the same
/// clock: on a service whose clock runs a day behind the wall, a subscriber still hears an
/// event that happened (by that clock) a minute after it subscribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_stamped_by_the_service_clock() {
    let day_behind = chrono::Utc::now() - chrono::Duration::days(1);
    let app = crate::helpers::spawn_seeded_app_on(
        NOTIFY,
        modelwatch::clock::Clock::starting_at(day_behind),
    )
    .await;
    let (url, got) = receiver().await;
    let r = create(&app, json!({"kind": "webhook", "url": url, "models": ["anthropic/claude-opus-4-8"], "events": ["model.disabled"]})).await;
    assert_eq!(r.status(), 201);
    let round = Round {
        at: day_behind + chrono::Duration::minutes(1),
        events: vec![model_event(
            "model.disabled",
            "anthropic/claude-opus-4-8",
            "Claude Opus 4.8",
            "major_outage",
            None,
            &["hard down"],
        )],
        ..Round::default()
    };
    app.store.commit_round(&round).await.unwrap();
    let got = wait_for(&got, 1).await;
    assert!(got[0].1.contains("model.disabled"), "{}", got[0].1);
    app.stop().await;
}

/// Repeated filter entries are kept once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_filter_entries_are_stored_once() {
    let app = spawn_seeded_app_with(NOTIFY).await;
    let (url, _) = receiver().await;
    // Repeats are kept once.
    let r = create(
        &app,
        json!({"kind": "webhook", "url": url,
               "events": vec!["model.disabled"; 500], "models": ["openai/gpt-5", "openai/gpt-5"]}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let sub: Value = r.json().await.unwrap();
    let shown: Value = app
        .client
        .get(format!(
            "{}/api/v1/subscriptions/{}",
            app.base,
            sub["id"].as_str().unwrap()
        ))
        .bearer_auth(sub["management_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["events"], json!(["model.disabled"]), "{shown}");
    assert_eq!(shown["models"], json!(["openai/gpt-5"]), "{shown}");
    app.stop().await;
}
