//! Admin access end to end: users and tokens made by the real binary (`user add`, `token
//! create`) on the database of a running service, then sign-in, CSRF refusals, lock-out,
//! scopes and the audit log through real HTTP.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_seeded_app_with, TestApp, SEEDED_PROVIDERS};

const BIN: &str = env!("CARGO_BIN_EXE_modelwatch");
const EMAIL: &str = "oncall@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// The running service's database file.
async fn database_of(app: &TestApp) -> PathBuf {
    let (file,): (String,) = modelwatch::on_db!(app.store.pool(), |db| sqlx::query_as(
        "SELECT file FROM pragma_database_list WHERE name = 'main'"
    )
    .fetch_one(db)
    .await)
    .unwrap();
    PathBuf::from(file)
}

/// A configuration file in `dir` pointing at `db`, for the command line.
fn config_for(dir: &Path, db: &Path) -> PathBuf {
    let path = dir.join("modelwatch.toml");
    let toml = format!(
        "[server]\ndatabase = \"{}\"\n{SEEDED_PROVIDERS}",
        db.display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// Runs the real binary without blocking this runtime: the service under test shares the
/// test's single thread, and a service frozen inside a write transaction would hold the
/// lock the command waits for.
async fn run(args: &[&str], config: &Path, stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .await
        .unwrap();
    child.wait_with_output().await.unwrap()
}

async fn add_user(config: &Path, password: &str) -> Output {
    run(
        &["user", "add", "--email", EMAIL],
        config,
        &format!("{password}\n"),
    )
    .await
}

/// `token create`: the token must be the only thing on standard output.
async fn create_token(config: &Path, scope: &str) -> String {
    let out = run(
        &["token", "create", "--scope", scope, "--name", "ci"],
        config,
        "",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.strip_suffix('\n').unwrap();
    assert!(
        token.starts_with("mw_") && !token.contains(char::is_whitespace),
        "{stdout:?}"
    );
    token.to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The full `Set-Cookie` header for cookie `name`.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

/// The value of the hidden form field `csrf` in a page.
fn hidden_csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

/// Fetches the sign-in form: the nonce cookie (as a `Cookie` header) and its CSRF token.
async fn login_form(app: &TestApp) -> (String, String) {
    let r = client()
        .get(format!("{}/admin/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let nonce = cookie_value(&set_cookie(&r, "mw_login").expect("a sign-in cookie"));
    (
        format!("mw_login={nonce}"),
        hidden_csrf(&r.text().await.unwrap()),
    )
}

async fn post_login(app: &TestApp, cookie: &str, csrf: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{}/admin/login", app.base))
        .header(COOKIE, cookie)
        .form(&[("email", EMAIL), ("password", password), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(bearer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sign_in_csrf_scopes_and_the_audit_log() {
    let app = spawn_seeded_app_with("").await;
    let dir = tempfile::tempdir().unwrap();
    let db = database_of(&app).await;
    let config = config_for(dir.path(), &db);

    // The command line refuses a short password, clearly, and stores nothing.
    let short = add_user(&config, "too short").await;
    assert!(!short.status.success());
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("at least 12"), "{err}");
    let added = add_user(&config, PASSWORD).await;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(added.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&added.stderr).contains(PASSWORD));

    // Sign in: the form's CSRF token is required, then the session cookie is set.
    let (login_cookie, login_csrf) = login_form(&app).await;
    let forged = post_login(&app, "", &login_csrf, PASSWORD).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let r = post_login(&app, &login_cookie, &login_csrf, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin");
    let set = set_cookie(&r, "mw_session").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http: {set}");
    let session_token = cookie_value(&set);
    let session = format!("mw_session={session_token}");

    // The board shows every model and carries the session's CSRF token.
    let r = client()
        .get(format!("{}/admin", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let board = r.text().await.unwrap();
    for model in [
        "anthropic/claude-opus-4-8",
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-5",
    ] {
        assert!(board.contains(model), "{model} missing from the board");
    }
    let csrf = hidden_csrf(&board);
    let anonymous = client()
        .get(format!("{}/admin", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);

    // Forms and session-authenticated API changes without the CSRF token are refused.
    let form = |fields: Vec<(&'static str, String)>| {
        client()
            .post(format!("{}/admin/tokens", app.base))
            .header(COOKIE, &session)
            .form(&fields)
    };
    let refused = form(vec![("scope", "read".into())]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = form(vec![("scope", "read".into()), ("csrf", "forged".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let api_no_csrf = client()
        .post(format!("{}/api/v1/admin/tokens", app.base))
        .header(COOKIE, &session)
        .json(&json!({ "scope": "read" }))
        .send()
        .await
        .unwrap();
    assert_eq!(api_no_csrf.status(), StatusCode::FORBIDDEN);
    let made = form(vec![
        ("scope", "operate".into()),
        ("name", "pager".into()),
        ("csrf", csrf.clone()),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let shown = made.text().await.unwrap();
    assert!(shown.contains("<code>mw_"), "the page shows the token once");

    // Scopes: a read token may read but not create tokens; an admin token may.
    let read = create_token(&config, "read").await;
    let (status, who) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/whoami",
        &read,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (who["scope"].as_str(), who["actor_kind"].as_str()),
        (Some("read"), Some("token"))
    );
    let (status, body) = api(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/tokens",
        &read,
        Some(json!({ "scope": "read" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"));
    let (status, _) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/whoami",
        "mw_unknown",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let admin = create_token(&config, "admin").await;
    let (status, made) = api(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/tokens",
        &admin,
        Some(json!({ "scope": "read", "name": "grafana" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let api_token = made["token"].as_str().unwrap().to_string();
    let api_token_id = made["id"].as_str().unwrap().to_string();
    assert!(api_token.starts_with("mw_") && api_token_id.starts_with("tok_"));
    let (status, _) = api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/tokens/{api_token_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/whoami",
        &api_token,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );

    // Sessions are listed and revoked by an admin; the revoked cookie no longer works.
    let (_, sessions) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/sessions",
        &admin,
        None,
    )
    .await;
    let listed = &sessions["sessions"][0];
    assert_eq!(listed["email"], EMAIL);
    assert_eq!(listed["client_addr"], "127.0.0.1");
    let session_id = listed["id"].as_str().unwrap();
    let (status, _) = api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/sessions/{session_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let r = client()
        .get(format!("{}/api/v1/admin/whoami", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A fresh session signs out with its CSRF token.
    let (login_cookie, login_csrf) = login_form(&app).await;
    let r = post_login(&app, &login_cookie, &login_csrf, PASSWORD).await;
    let second = format!(
        "mw_session={}",
        cookie_value(&set_cookie(&r, "mw_session").unwrap())
    );
    let board = client()
        .get(format!("{}/admin", app.base))
        .header(COOKIE, &second)
        .send()
        .await
        .unwrap();
    let csrf = hidden_csrf(&board.text().await.unwrap());
    let out = |fields: &[(&str, &str)]| {
        client()
            .post(format!("{}/admin/logout", app.base))
            .header(COOKIE, &second)
            .form(fields)
            .send()
    };
    assert_eq!(out(&[]).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = out(&[("csrf", csrf.as_str())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&r, "mw_session").unwrap().contains("Max-Age=0"));
    let r = client()
        .get(format!("{}/api/v1/admin/whoami", app.base))
        .header(COOKIE, &second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The audit log: who, what and from where, for every change; read tokens may not read it.
    let (status, _) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/audit",
        &read,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, audit) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/audit",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entries = audit["entries"].as_array().unwrap();
    let has = |action: &str, actor: &str, addr: Option<&str>| {
        entries.iter().any(|e| {
            e["action"] == action && e["actor"] == actor && e["client_addr"].as_str() == addr
        })
    };
    assert!(has("user.add", "cli", None), "{audit}");
    assert!(has("session.login", EMAIL, Some("127.0.0.1")), "{audit}");
    assert!(has("token.create", EMAIL, Some("127.0.0.1")), "{audit}");
    assert!(has("token.create", "cli", None), "{audit}");
    let admin_id = who_is(&app, &admin).await;
    assert!(has("token.create", &admin_id, Some("127.0.0.1")), "{audit}");
    assert!(has("token.revoke", &admin_id, Some("127.0.0.1")), "{audit}");
    assert!(
        has("session.revoke", &admin_id, Some("127.0.0.1")),
        "{audit}"
    );
    assert!(has("session.logout", EMAIL, Some("127.0.0.1")), "{audit}");
    for e in entries {
        assert!(e["at"].is_string() && e["actor_kind"].is_string(), "{e}");
    }

    // No secret is stored or logged in clear: not in the audit log, not in the database
    // file nor its write-ahead log (read before the service stops and removes them).
    let secrets = [PASSWORD, &session_token, &read, &admin, &api_token];
    let audit_text = audit.to_string();
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
    for secret in secrets {
        assert!(!audit_text.contains(secret), "a secret is in the audit log");
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is in the database"
        );
    }
    assert!(
        bytes.windows(EMAIL.len()).any(|w| w == EMAIL.as_bytes()),
        "the search works"
    );
    app.stop().await;
}

/// The id of the token `bearer`, as the service reports it.
async fn who_is(app: &TestApp, bearer: &str) -> String {
    let (_, who) = api(
        app,
        reqwest::Method::GET,
        "/api/v1/admin/whoami",
        bearer,
        None,
    )
    .await;
    who["actor"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn repeated_failures_lock_sign_in_even_with_the_right_password() {
    let app = spawn_seeded_app_with("").await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &database_of(&app).await);
    assert!(add_user(&config, PASSWORD).await.status.success());
    let (cookie, csrf) = login_form(&app).await;
    for _ in 0..5 {
        let r = post_login(&app, &cookie, &csrf, "not the password at all").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&r, "mw_session").is_none());
    }
    let r = post_login(&app, &cookie, &csrf, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(set_cookie(&r, "mw_session").is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("too many failed sign-ins"), "{page}");
    let admin = create_token(&config, "admin").await;
    let (_, audit) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/audit",
        &admin,
        None,
    )
    .await;
    let failures = audit["entries"].as_array().unwrap().iter().filter(|e| {
        e["action"] == "session.login_failed"
            && e["actor"] == EMAIL
            && e["client_addr"] == "127.0.0.1"
    });
    assert_eq!(failures.count(), 6, "{audit}");
    app.stop().await;
}
