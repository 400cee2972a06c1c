//! Email end to end: messages built by `notify::email`, sent by a real `Mailer` over SMTP to
//! the local sink (or into a folder), then parsed back as MIME with `mail-parser`.

use mail_parser::{MessageParser, MimeHeaders};
use modelwatch::config::{EmailTransport, NotifyConfig, Secret, SmtpTls};
use modelwatch::notify::email::{self, Links, Mailer};
use serde_json::json;

use crate::smtp_sink;

const FROM: &str = "modelwatch <status@example.com>";
const TO: &str = "sre@example.org";

fn links() -> Links {
    Links {
        confirm: Some("https://status.example.com/subscriptions/confirm?token=c0nf1rm".into()),
        manage: "https://status.example.com/subscriptions/manage?token=m4n4ge".into(),
        unsubscribe: "https://status.example.com/subscriptions/unsubscribe?token=uns4b".into(),
        page: "https://status.example.com/".into(),
    }
}

fn smtp_config(port: u16, username: Option<&str>, password: Option<&str>) -> NotifyConfig {
    NotifyConfig {
        email: EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: username.map(str::to_string),
            password: password.map(Secret::new),
        },
        ..NotifyConfig::default()
    }
}

/// What a test looks at in one received message.
struct Parsed {
    from: String,
    to: String,
    subject: String,
    list_unsubscribe: Option<String>,
    list_unsubscribe_post: Option<String>,
    text: String,
    html: String,
}

/// Parses raw MIME; requires exactly one text/plain and one text/html part (both really
/// present: mail-parser would otherwise convert one body into the other).
fn parse(raw: &[u8]) -> Parsed {
    let m = MessageParser::default().parse(raw).expect("valid MIME");
    let root = m.root_part().content_type().expect("a content type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    let part = |subtype: &str| -> String {
        let parts: Vec<_> = m
            .parts
            .iter()
            .filter(|p| {
                p.content_type()
                    .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some(subtype))
            })
            .collect();
        assert_eq!(parts.len(), 1, "one text/{subtype} part");
        parts[0].text_contents().expect("text").to_string()
    };
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_string());
    Parsed {
        from: m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_string(),
        to: m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_string(),
        subject: m.subject().unwrap_or("").to_string(),
        list_unsubscribe: header("List-Unsubscribe"),
        list_unsubscribe_post: header("List-Unsubscribe-Post"),
        text: part("plain"),
        html: part("html"),
    }
}

/// Undoes HTML escaping (named or numeric: askama writes `&#60;`), to compare with the
/// original text once the test has checked that the raw markup is absent.
fn unescape(html: &str) -> String {
    [
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
    ]
    .iter()
    .fold(html.to_string(), |s, (from, to)| s.replace(from, to))
    .replace("&#38;", "&")
    .replace("&amp;", "&")
}

/// Sends `message` through a fresh SMTP mailer to a fresh sink and parses what arrived.
async fn through_smtp(message: lettre::Message) -> Parsed {
    let sink = smtp_sink::start().await;
    let mailer = Mailer::from_config(&smtp_config(sink.port(), None, None)).unwrap();
    mailer.send(message).await.unwrap();
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].from, "status@example.com");
    assert_eq!(received[0].to, vec![TO.to_string()]);
    parse(&received[0].data)
}

#[tokio::test]
async fn confirmation_has_confirm_and_manage_links_and_no_unsubscribe_headers() {
    let l = links();
    let p = through_smtp(email::confirmation(FROM, TO, &l).unwrap()).await;
    assert_eq!((p.from.as_str(), p.to.as_str()), ("status@example.com", TO));
    assert_eq!(p.subject, "Confirm your modelwatch subscription");
    assert_eq!(p.list_unsubscribe, None);
    assert_eq!(p.list_unsubscribe_post, None);
    let confirm = l.confirm.as_deref().unwrap();
    for body in [&p.text, &p.html] {
        assert!(body.contains(confirm), "confirm link in:\n{body}");
        assert!(body.contains(&l.manage), "manage link in:\n{body}");
        assert!(
            !body.contains(&l.unsubscribe),
            "no unsubscribe link before confirming"
        );
    }
    assert!(p.html.contains(&format!("href=\"{confirm}\"")));
}

#[tokio::test]
async fn model_disabled_notification_has_reasons_fallback_and_one_click_unsubscribe() {
    let l = links();
    let event = json!({
        "type": "model.disabled", "occurred_at": "2025-06-01T12:00:03Z",
        "model": "anthropic/claude-opus-4-8", "model_name": "Claude Opus 4.8", "provider": "anthropic",
        "from": "operational", "to": "partial_outage", "decision": "disabled", "enabled": false,
        "fallback": "anthropic/claude-sonnet-4-5",
        "reasons": ["error rate 62% (99% lower bound 41%) over 30 probes", "median ttft 4.1s, 3.2x baseline"],
        "incident": {"id": 7, "url": "/incidents/7"},
    });
    let p = through_smtp(email::notification(FROM, TO, &typed(&event), &l).unwrap()).await;
    assert_eq!(
        p.subject,
        "[modelwatch] Claude Opus 4.8 disabled (partial outage)"
    );
    assert_eq!(
        p.list_unsubscribe.as_deref(),
        Some(format!("<{}>", l.unsubscribe).as_str())
    );
    assert_eq!(
        p.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    for body in [&p.text, &p.html] {
        for expected in [
            "Claude Opus 4.8",
            "anthropic/claude-sonnet-4-5",
            "error rate 62% (99% lower bound 41%) over 30 probes",
            "median ttft 4.1s, 3.2x baseline",
            "partial outage",
            "2025-06-01 12:00:03 UTC",
            "https://status.example.com/incidents/7",
            &l.manage,
            &l.unsubscribe,
            &l.page,
        ] {
            assert!(body.contains(expected), "{expected:?} missing in:\n{body}");
        }
    }
    assert!(
        p.text.contains("Fallback: anthropic/claude-sonnet-4-5"),
        "{}",
        p.text
    );
    assert!(p.html.contains(&format!("href=\"{}\"", l.unsubscribe)));
}

#[tokio::test]
async fn incident_text_is_inert_in_html_and_plain_in_text() {
    let l = links();
    let event = json!({
        "type": "incident.created", "occurred_at": "2025-06-01T12:00:05Z", "provider": "anthropic",
        "incident": {"id": 3, "title": "Elevated errors", "status": "investigating", "impact": "major",
            "affected_models": ["anthropic/claude-opus-4-8"], "url": "/incidents/3"},
        "body": "<script>alert(1)</script> & co",
    });
    let p = through_smtp(email::notification(FROM, TO, &typed(&event), &l).unwrap()).await;
    assert_eq!(
        p.subject,
        "[modelwatch] Incident: Elevated errors (investigating)"
    );
    assert_eq!(
        p.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(
        p.text.contains("<script>alert(1)</script> & co"),
        "{}",
        p.text
    );
    assert!(!p.html.contains("<script"), "{}", p.html);
    assert!(
        unescape(&p.html).contains("<script>alert(1)</script> & co"),
        "{}",
        p.html
    );
    for body in [&p.text, &p.html] {
        assert!(body.contains("anthropic/claude-opus-4-8"));
        assert!(body.contains("https://status.example.com/incidents/3"));
        assert!(body.contains(&l.manage) && body.contains(&l.unsubscribe));
    }
}

#[tokio::test]
async fn endpoint_disabled_names_the_endpoint_without_its_secret() {
    let l = links();
    let url = "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0kenAbCd";
    let reason = "HTTP 404 for 24h <no_service>";
    let p = through_smtp(email::endpoint_disabled(FROM, TO, url, reason, &l).unwrap()).await;
    assert_eq!(p.subject, "[modelwatch] Webhook endpoint disabled");
    assert_eq!(p.list_unsubscribe_post, None);
    assert!(
        p.text.contains("https://hooks.slack.com/services/…AbCd"),
        "{}",
        p.text
    );
    assert!(p.text.contains(reason));
    assert!(!p.html.contains("<no_service>"), "{}", p.html);
    assert!(unescape(&p.html).contains(reason), "{}", p.html);
    for body in [&p.text, &p.html] {
        assert!(!body.contains("s3cr3t"), "secret path shown:\n{body}");
        assert!(body.contains(&l.manage));
    }
}

#[tokio::test]
async fn smtp_credentials_are_used_and_never_shown() {
    let sink = smtp_sink::start().await;
    let config = smtp_config(sink.port(), Some("mailer"), Some("hunter2-secret"));
    let mailer = Mailer::from_config(&config).unwrap();
    assert!(!format!("{mailer:?}").contains("hunter2"));
    mailer
        .send(email::confirmation(FROM, TO, &links()).unwrap())
        .await
        .unwrap();
    assert_eq!(sink.auth_users(), vec!["mailer".to_string()]);

    // A server that is gone: the error names it and not the password.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mailer =
        Mailer::from_config(&smtp_config(closed, Some("mailer"), Some("hunter2-secret"))).unwrap();
    let err = mailer
        .send(email::confirmation(FROM, TO, &links()).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.0.contains(&format!("127.0.0.1:{closed}")) && err.0.contains(TO),
        "{err}"
    );
    assert!(!err.0.contains("hunter2"), "{err}");

    let half = smtp_config(sink.port(), Some("mailer"), None);
    let err = Mailer::from_config(&half).unwrap_err();
    assert!(err.0.contains("username and a password"), "{err}");
}

#[tokio::test]
async fn file_transport_writes_an_eml_file_into_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mail").join("out");
    let config = NotifyConfig {
        email: EmailTransport::File(folder.clone()),
        ..NotifyConfig::default()
    };
    let mailer = Mailer::from_config(&config).unwrap();
    mailer
        .send(email::confirmation(FROM, TO, &links()).unwrap())
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let p = parse(&std::fs::read(&files[0]).unwrap());
    assert_eq!(p.subject, "Confirm your modelwatch subscription");
    assert_eq!(p.to, TO);
}

#[tokio::test]
async fn log_transport_accepts_messages() {
    let mailer = Mailer::from_config(&NotifyConfig::default()).unwrap();
    mailer
        .send(email::confirmation(FROM, TO, &links()).unwrap())
        .await
        .unwrap();
}

#[test]
fn bad_addresses_give_a_mail_error_naming_them() {
    let event = crate::helpers::model_event("model.restored", "p/x", "X", "operational", None, &[]);
    let event = modelwatch::vocabulary::Event::new(chrono::Utc::now(), true, event.body);
    let err = email::notification(FROM, "sre at example", &event, &links()).unwrap_err();
    assert!(
        err.0.contains("recipient") && err.0.contains("\"sre at example\""),
        "{err}"
    );
    let err = email::confirmation("no-at-sign", TO, &links()).unwrap_err();
    assert!(
        err.0.contains("sender") && err.0.contains("\"no-at-sign\""),
        "{err}"
    );
    let err =
        email::endpoint_disabled(FROM, "a@b\r\nBcc: c@d", "https://x/", "r", &links()).unwrap_err();
    assert!(
        err.0.contains("\\r\\n"),
        "control characters shown escaped: {err}"
    );
}

/// A JSON body as the typed event the store would read it as.
fn typed(body: &serde_json::Value) -> modelwatch::vocabulary::Event {
    modelwatch::vocabulary::Event::parse(&body.to_string())
        .unwrap_or_else(|e| panic!("{e}: {body}"))
}
