//! Provider filters on the HTML forms, end to end through the real service: the preferences
//! page shows a subscriber's providers ticked and keeps them when other choices are saved,
//! ticking a provider there stores it, and the `/subscribe` forms set them. Forms are
//! submitted as a browser would, from the fields the served page carries.

use serde_json::json;

use crate::email_subscription::{link, wait_mail};
use crate::helpers::{spawn_seeded_app_with, TestApp};
use crate::smtp_sink::{self, SmtpSink};

/// Email through the SMTP sink; webhooks may point at loopback.
fn notify(sink: &SmtpSink) -> String {
    format!(
        "[notify]\nemail_transport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nemail_from = \"Status <status@example.com>\"\nallow_internal_targets = [\"127.0.0.0/8\"]\n",
        sink.port()
    )
}

/// A `<form method="post">` of a page: its action and what a browser submits untouched
/// (hidden fields and ticked checkboxes; the tests add what a person would type or tick).
#[derive(Debug, Clone)]
struct Form {
    action: String,
    fields: Vec<(String, String)>,
    /// Every checkbox as (name, value, ticked).
    checkboxes: Vec<(String, String, bool)>,
}

impl Form {
    fn with(mut self, name: &str, value: &str) -> Form {
        self.fields.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Form {
        self.fields.retain(|(n, _)| n != name);
        self
    }

    /// Whether the form has the checkbox `name=value`, and whether it is ticked.
    fn checkbox(&self, name: &str, value: &str) -> Option<bool> {
        self.checkboxes
            .iter()
            .find(|(n, v, _)| n == name && v == value)
            .map(|(_, _, ticked)| *ticked)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the tag `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    Some(unescape(tag[start..].split('"').next()?))
}

/// The POST forms of `html`, in page order.
fn forms(html: &str) -> Vec<Form> {
    html.split("<form ")
        .skip(1)
        .map(|rest| {
            let body = &rest[..rest.find("</form>").expect("a closed form")];
            let head = &body[..body.find('>').unwrap()];
            let mut form = Form {
                action: attr(&format!(" {head}"), "action").expect("a form action"),
                fields: Vec::new(),
                checkboxes: Vec::new(),
            };
            for input in body.split("<input").skip(1) {
                let tag = format!(" {}", &input[..input.find('>').unwrap()]);
                let (Some(name), Some(value)) = (attr(&tag, "name"), attr(&tag, "value")) else {
                    continue;
                };
                match attr(&tag, "type").as_deref() {
                    Some("hidden") => form.fields.push((name, value)),
                    Some("checkbox") => {
                        let ticked = tag.split_whitespace().any(|w| w == "checked");
                        if ticked {
                            form.fields.push((name.clone(), value.clone()));
                        }
                        form.checkboxes.push((name, value, ticked));
                    }
                    _ => {}
                }
            }
            form
        })
        .collect()
}

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.unwrap()
}

async fn submit(app: &TestApp, form: &Form) -> (u16, String) {
    let r = app
        .client
        .post(format!("{}{}", app.base, form.action))
        .form(&form.fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn stored(app: &TestApp, id: &str) -> modelwatch::vocabulary::Filter {
    app.store.subscription(id).await.unwrap().unwrap().filter
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preferences_page_keeps_and_sets_provider_filters() {
    let sink = smtp_sink::start().await;
    let app = spawn_seeded_app_with(&notify(&sink)).await;
    let r = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.base))
        .json(&json!({"kind": "email", "email": "reader@example.org", "providers": ["openai"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let confirmation = wait_mail(&sink, 1).await.remove(0);
    let confirmed = app
        .client
        .post(format!(
            "{}{}",
            app.base,
            link(&confirmation, "/subscriptions/confirm")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let manage = link(&confirmation, "/manage");

    // The page shows every configured provider, the stored one ticked.
    let form = forms(&page(&app, &manage).await).remove(0);
    assert_eq!(form.checkbox("providers", "openai"), Some(true), "{form:?}");
    assert_eq!(form.checkbox("providers", "anthropic"), Some(false));

    // Saving another change keeps the provider filter.
    let (status, body) = submit(&app, &form.clone().with("events", "model.disabled")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Preferences saved"), "{body}");
    let filter = stored(&app, &id).await;
    assert_eq!(filter.providers, ["openai"]);
    assert_eq!(filter.events, ["model.disabled"]);

    // The reviewer's reproduction: a form without the provider boxes (a page opened before
    // they existed, a hand-made POST) leaves the providers alone.
    let bare = Form {
        action: form.action.clone(),
        fields: vec![("events".into(), "model.restored".into())],
        checkboxes: Vec::new(),
    };
    assert_eq!(submit(&app, &bare).await.0, 200);
    let filter = stored(&app, &id).await;
    assert_eq!(filter.providers, ["openai"]);
    assert_eq!(filter.events, ["model.restored"]);

    // Ticking a provider on the page stores it next to the one already there.
    let form = forms(&page(&app, &manage).await).remove(0);
    assert_eq!(form.checkbox("providers", "openai"), Some(true));
    assert_eq!(form.checkbox("events", "model.restored"), Some(true));
    assert_eq!(
        submit(&app, &form.with("providers", "anthropic")).await.0,
        200
    );
    assert_eq!(
        sorted(stored(&app, &id).await.providers),
        ["anthropic", "openai"]
    );
    let form = forms(&page(&app, &manage).await).remove(0);
    assert_eq!(form.checkbox("providers", "anthropic"), Some(true));
    assert_eq!(form.checkbox("providers", "openai"), Some(true));

    // An unknown provider is refused by name and nothing is saved.
    let (status, body) = submit(&app, &form.clone().with("providers", "nosuch")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("`nosuch` is not a configured provider"),
        "{body}"
    );
    assert_eq!(
        sorted(stored(&app, &id).await.providers),
        ["anthropic", "openai"]
    );

    // Unticking every provider on the page is a choice too: every provider again.
    assert_eq!(submit(&app, &form.without("providers")).await.0, 200);
    let filter = stored(&app, &id).await;
    assert!(filter.providers.is_empty(), "{filter:?}");
    assert_eq!(filter.events, ["model.restored"], "the rest is kept");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscribe_forms_set_provider_filters() {
    let sink = smtp_sink::start().await;
    let app = spawn_seeded_app_with(&notify(&sink)).await;
    let html = page(&app, "/subscribe").await;
    let mut forms = forms(&html).into_iter();
    let (email, webhook) = (forms.next().unwrap(), forms.next().unwrap());
    for form in [&email, &webhook] {
        assert_eq!(form.action, "/subscriptions/new");
        for provider in ["anthropic", "openai"] {
            assert_eq!(
                form.checkbox("providers", provider),
                Some(false),
                "{provider} offered, unticked: {form:?}"
            );
        }
    }
    assert!(html.contains("<legend>Providers and models (optional)</legend>"));

    // By email: the pending subscription has the provider filter.
    let (status, body) = submit(
        &app,
        &email
            .clone()
            .with("email", "providers@example.org")
            .with("providers", "openai"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let subs = app.store.list_subscriptions(100).await.unwrap();
    let sub = subs
        .iter()
        .find(|s| s.email.as_deref() == Some("providers@example.org"))
        .expect("the email subscription is stored");
    assert_eq!(sub.filter.providers, ["openai"]);
    assert!(sub.filter.models.is_empty());

    // By webhook, a provider and a model of another provider: the tree means either, and
    // a stored filter must match every list it has, so the choice is stored as models.
    let url = "http://127.0.0.1:9/modelwatch-hook";
    let (status, body) = submit(
        &app,
        &webhook
            .clone()
            .with("url", url)
            .with("providers", "anthropic")
            .with("models", "openai/gpt-5"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let subs = app.store.list_subscriptions(100).await.unwrap();
    let sub = subs
        .iter()
        .find(|s| s.url.as_deref() == Some(url))
        .expect("the webhook subscription is stored");
    assert!(sub.filter.providers.is_empty(), "{:?}", sub.filter);
    assert_eq!(
        sub.filter.models,
        [
            "anthropic/claude-opus-4-8",
            "anthropic/claude-sonnet-4-5",
            "openai/gpt-5"
        ]
    );

    // An unknown provider is refused by name; nothing is stored.
    let (status, body) = submit(
        &app,
        &email
            .with("email", "unknown@example.org")
            .with("providers", "nosuch"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("`nosuch` is not a configured provider"),
        "{body}"
    );
    let subs = app.store.list_subscriptions(100).await.unwrap();
    assert!(subs
        .iter()
        .all(|s| s.email.as_deref() != Some("unknown@example.org")));
    assert_eq!(
        sink.messages().len(),
        1,
        "one confirmation, for the valid form"
    );
    app.stop().await;
}
