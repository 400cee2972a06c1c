//! Email: the three messages modelwatch sends, and the transports that carry them.
//!
//! - [`confirmation`]: double opt-in; nothing else goes to an address before its click;
//! - [`notification`]: one event for a confirmed subscriber, with RFC 8058 one-click
//!   unsubscribe headers;
//! - [`endpoint_disabled`]: tells a webhook's owner that deliveries stopped.
//!
//! Every message is multipart/alternative (text first, then HTML) rendered from askama
//! templates under `templates/email/`; subjects are single-line (no header injection) and
//! every message has a Date and a Message-ID. [`Mailer`] sends them (see [`transport`]).

pub mod address;
mod headers;
mod templates;
mod transport;
mod view;

use askama::Template;
use lettre::message::{Mailbox, MessageBuilder, MultiPart};
use lettre::Message;

pub use headers::{AutoSubmitted, ListUnsubscribe, ListUnsubscribePost};
pub use transport::Mailer;
pub use view::{sanitize_header_text, subject as notification_subject};

/// What failed while building or sending a message; never holds a credential.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// The confirmation email's subject.
pub const CONFIRMATION_SUBJECT: &str = "Confirm your modelwatch subscription";

/// Links a message needs, absolute.
#[derive(Debug, Clone)]
pub struct Links {
    pub confirm: Option<String>,
    pub manage: String,
    /// The RFC 8058 one-click POST endpoint (also the List-Unsubscribe URL).
    pub unsubscribe: String,
    pub page: String,
}

/// "Confirm your subscription" (double opt-in: nothing else is sent before the click).
///
/// No List-Unsubscribe headers: there is nothing to unsubscribe from until the click, and
/// ignoring the message already means "no".
pub fn confirmation(from: &str, to: &str, links: &Links) -> Result<lettre::Message, MailError> {
    let confirm = links
        .confirm
        .as_deref()
        .ok_or_else(|| MailError("a confirmation email needs a confirm link".into()))?;
    let to_box = mailbox("recipient", to)?;
    let text = render(
        "confirmation",
        templates::ConfirmationText {
            to: to_box.email.as_ref(),
            confirm,
            manage: &links.manage,
            page: &links.page,
        },
    )?;
    let html = render(
        "confirmation",
        templates::ConfirmationHtml {
            subject: CONFIRMATION_SUBJECT,
            to: to_box.email.as_ref(),
            confirm,
            manage: &links.manage,
            page: &links.page,
        },
    )?;
    assemble(from, to_box, CONFIRMATION_SUBJECT, text, html, |b| b)
}

/// One event for a confirmed subscriber.
pub fn notification(
    from: &str,
    to: &str,
    event: &crate::vocabulary::Event,
    links: &Links,
) -> Result<lettre::Message, MailError> {
    let to_box = mailbox("recipient", to)?;
    let unsubscribe = ListUnsubscribe::new(&links.unsubscribe).map_err(MailError)?;
    let view = view::event_view(event, &links.page);
    let subject = view::subject_line(&view.headline);
    let (manage, page) = (links.manage.as_str(), links.page.as_str());
    let text = render(
        "notification",
        templates::NotificationText {
            view: &view,
            manage,
            unsubscribe: &links.unsubscribe,
            page,
        },
    )?;
    let html = render(
        "notification",
        templates::NotificationHtml {
            subject: &subject,
            view: &view,
            manage,
            unsubscribe: &links.unsubscribe,
            page,
        },
    )?;
    assemble(from, to_box, &subject, text, html, |b| {
        b.header(unsubscribe).header(ListUnsubscribePost)
    })
}

/// Tells a webhook's owner that the endpoint was disabled after failing persistently.
///
/// The URL is shown shortened ([`display_url`]): webhook URLs often carry their secret in
/// the path or query (Slack, Discord), and email is not the place to repeat it.
pub fn endpoint_disabled(
    from: &str,
    to: &str,
    url: &str,
    reason: &str,
    links: &Links,
) -> Result<lettre::Message, MailError> {
    let to_box = mailbox("recipient", to)?;
    let shown = display_url(url);
    let subject = view::subject_line("Webhook endpoint disabled");
    let (manage, page) = (links.manage.as_str(), links.page.as_str());
    let text = render(
        "endpoint_disabled",
        templates::EndpointDisabledText {
            url: &shown,
            reason,
            manage,
            page,
        },
    )?;
    let html = render(
        "endpoint_disabled",
        templates::EndpointDisabledHtml {
            subject: &subject,
            url: &shown,
            reason,
            manage,
            page,
        },
    )?;
    assemble(from, to_box, &subject, text, html, |b| b)
}

/// The parts of `url` safe to show: scheme, host, port and the first path segment; the rest
/// of the path is reduced to its last four characters, the query and any user info dropped.
pub fn display_url(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return "(an invalid URL)".into();
    };
    let mut shown = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    let path = parsed.path().trim_start_matches('/');
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    if !first.is_empty() {
        shown.push('/');
        shown.push_str(first);
    }
    if !rest.is_empty() {
        let tail: String = rest
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        shown.push_str(if rest.chars().count() > 4 {
            "/…"
        } else {
            "/"
        });
        shown.push_str(&tail);
    }
    if parsed.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// Parses an address; the error names the address (debug-quoted, so control characters
/// show as escapes rather than breaking the log line).
fn mailbox(role: &str, address: &str) -> Result<Mailbox, MailError> {
    address
        .parse::<Mailbox>()
        .map_err(|e| MailError(format!("{role} address {address:?} is not valid: {e}")))
}

fn render(name: &str, template: impl Template) -> Result<String, MailError> {
    template
        .render()
        .map_err(|e| MailError(format!("rendering the {name} email failed: {e}")))
}

/// The common envelope: From, To, Subject, Date, Message-ID, Auto-Submitted, and the two
/// bodies as multipart/alternative (text first: clients show the last part they support).
fn assemble(
    from: &str,
    to: Mailbox,
    subject: &str,
    mut text: String,
    html: String,
    extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
) -> Result<Message, MailError> {
    // askama drops the template's final newline; a text body reads better ending in one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let from = mailbox("sender", from)?;
    let message_id = format!("<{}@{}>", random_id(), from.email.domain());
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(sanitize_header_text(subject))
        .date_now()
        .message_id(Some(message_id))
        .header(AutoSubmitted);
    extra(builder)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| MailError(format!("building the email failed: {e}")))
}

/// 24 random alphanumerics plus the time: unique without coordination.
fn random_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    let millis = chrono::Utc::now().timestamp_millis();
    format!(
        "{millis}.{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> Links {
        Links {
            confirm: Some("https://status.example.com/subscriptions/confirm?token=c0nf".into()),
            manage: "https://status.example.com/subscriptions/manage?token=m4n".into(),
            unsubscribe: "https://status.example.com/subscriptions/unsubscribe?token=uns".into(),
            page: "https://status.example.com/".into(),
        }
    }

    #[test]
    fn webhook_urls_are_shown_without_their_secrets() {
        assert_eq!(
            display_url("https://hooks.slack.com/services/T000/B000/XXXXsecretYYYY"),
            "https://hooks.slack.com/services/…YYYY"
        );
        assert_eq!(
            display_url("https://user:pw@example.com:8443/hook?key=s3cret"),
            "https://example.com:8443/hook?…"
        );
        assert_eq!(display_url("http://example.com/"), "http://example.com");
        assert_eq!(display_url("not a url"), "(an invalid URL)");
    }

    #[test]
    fn messages_have_ids_dates_and_single_line_subjects() {
        let event = crate::vocabulary::Event::parse(
            &serde_json::json!({"type": "incident.created", "occurred_at": "2025-06-01T12:00:03+00:00",
                "provider": "a", "body": "",
                "incident": {"id": 1, "title": "a\r\nBcc: x@example.com", "status": "investigating",
                    "impact": "minor", "affected_models": [], "url": "/incidents/1"}})
            .to_string(),
        )
        .unwrap();
        let m = notification(
            "modelwatch <mw@example.com>",
            "a@example.com",
            &event,
            &links(),
        )
        .unwrap();
        let h = m.headers();
        assert!(h.get_raw("Message-ID").unwrap().ends_with("@example.com>"));
        assert!(h.get_raw("Date").is_some());
        assert_eq!(
            h.get_raw("Subject"),
            Some("[modelwatch] Incident: a Bcc: x@example.com (investigating)")
        );
        assert_eq!(
            h.get_raw("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let raw = String::from_utf8(m.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{head}");
    }

    #[test]
    fn confirmation_needs_a_confirm_link_and_bad_addresses_are_named() {
        let mut l = links();
        l.confirm = None;
        let e = confirmation("mw@example.com", "a@example.com", &l).unwrap_err();
        assert!(e.0.contains("confirm link"), "{e}");
        let e = confirmation("mw@example.com", "not an address", &links()).unwrap_err();
        assert!(e.0.contains("\"not an address\""), "{e}");
        let e = confirmation("bad sender", "a@example.com", &links()).unwrap_err();
        assert!(e.0.contains("sender") && e.0.contains("bad sender"), "{e}");
    }
}
