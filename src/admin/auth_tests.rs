//! Unit tests of sign-in, lock-out, sessions, CSRF and API tokens against a temporary
//! database, with explicit times so expiry is checked without waiting.

use chrono::{Duration, Utc};

use super::audit::{self, Actor};
use super::auth::{add_user, Auth, LoginError, IDLE};
use super::{tokens, Scope};
use crate::notify::secrets::SecretBox;
use crate::store::Store;

const PASSWORD: &str = "a long enough password";

async fn setup() -> (tempfile::TempDir, Auth) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).await.unwrap();
    let auth = Auth::new(store, SecretBox::from_key(&[3u8; 32]).unwrap());
    let now = Utc::now();
    add_user(
        auth.store(),
        "Ops@Example.com",
        PASSWORD,
        &Actor::cli(),
        None,
        now,
    )
    .await
    .unwrap();
    (dir, auth)
}

#[tokio::test]
async fn sign_in_opens_a_session_that_expires_and_can_be_revoked() {
    let (_dir, auth) = setup().await;
    let now = Utc::now();
    let (session, token) = auth
        .login("ops@example.com", PASSWORD, Some("192.0.2.1"), now)
        .await
        .unwrap();
    assert!(token.expose().starts_with("mws_"));
    let found = auth.session(token.expose(), now).await.unwrap().unwrap();
    assert_eq!(found.email, "ops@example.com");
    assert_eq!(found.id, session.id);
    assert!(auth.session("mws_other", now).await.unwrap().is_none());
    let live = auth.live_sessions(now).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].client_addr.as_deref(), Some("192.0.2.1"));
    // Idle past the limit: gone; used within it: still there.
    let idle = chrono::Duration::from_std(IDLE).unwrap();
    assert!(auth
        .session(token.expose(), now + idle - Duration::minutes(1))
        .await
        .unwrap()
        .is_some());
    let later = now + idle - Duration::minutes(1);
    assert!(auth
        .session(token.expose(), later + idle - Duration::minutes(1))
        .await
        .unwrap()
        .is_some());
    // Absolute limit, however active.
    assert!(auth
        .session(token.expose(), now + Duration::days(8))
        .await
        .unwrap()
        .is_none());
    assert!(auth.revoke_session(&session.id, now).await.unwrap());
    assert!(auth.session(token.expose(), now).await.unwrap().is_none());
    assert!(!auth.revoke_session(&session.id, now).await.unwrap());
}

#[tokio::test]
async fn repeated_failures_lock_that_client_out_and_only_slow_the_owner_elsewhere() {
    let (_dir, auth) = setup().await;
    let now = Utc::now();
    let guesser = Some("192.0.2.9");
    for _ in 0..auth.lockout.per_pair {
        let e = auth
            .login("ops@example.com", "wrong password!", guesser, now)
            .await;
        assert!(matches!(e, Err(LoginError::Invalid)), "{e:?}");
    }
    let locked = auth.login("ops@example.com", PASSWORD, guesser, now).await;
    assert!(
        matches!(locked, Err(LoginError::Locked { .. })),
        "{locked:?}"
    );
    // The lock is stored, so a new service on the same database keeps it.
    let again = Auth::new(
        auth.store().clone(),
        SecretBox::from_key(&[3u8; 32]).unwrap(),
    );
    assert!(matches!(
        again.login("ops@example.com", PASSWORD, guesser, now).await,
        Err(LoginError::Locked { .. })
    ));
    // The owner, from their own client, is slowed for a moment, not locked out.
    let owner = Some("198.51.100.7");
    let slowed = auth.login("ops@example.com", PASSWORD, owner, now).await;
    assert!(
        matches!(slowed, Err(LoginError::Slowed { retry_after }) if retry_after <= std::time::Duration::from_secs(1)),
        "{slowed:?}"
    );
    let moment = now + Duration::seconds(2);
    assert!(auth
        .login("ops@example.com", PASSWORD, owner, moment)
        .await
        .is_ok());
    // After the window the guesser's client opens again.
    let after =
        now + chrono::Duration::from_std(auth.lockout.window).unwrap() + Duration::seconds(1);
    assert!(auth
        .login("ops@example.com", PASSWORD, guesser, after)
        .await
        .is_ok());
    // Unknown users fail the same way, and everything was audited without the password.
    assert!(matches!(
        auth.login("nobody@example.com", PASSWORD, None, after)
            .await,
        Err(LoginError::Invalid)
    ));
    let entries = audit::list(auth.store(), 100, None).await.unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "session.login" && e.client_addr.as_deref() == Some("192.0.2.9")));
    assert!(
        entries
            .iter()
            .filter(|e| e.action == "session.login_failed")
            .count()
            >= 7
    );
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains(PASSWORD) && !text.contains("wrong password"),
        "{text}"
    );
}

#[tokio::test]
async fn csrf_tokens_belong_to_one_session() {
    let (_dir, auth) = setup().await;
    let now = Utc::now();
    let (a, _) = auth
        .login("ops@example.com", PASSWORD, None, now)
        .await
        .unwrap();
    let (b, _) = auth
        .login("ops@example.com", PASSWORD, None, now)
        .await
        .unwrap();
    let token = auth.csrf_token(&a);
    assert!(auth.check_csrf(&a, &token));
    assert!(!auth.check_csrf(&b, &token));
    assert!(!auth.check_csrf(&a, ""));
    let other_key = Auth::new(
        auth.store().clone(),
        SecretBox::from_key(&[4u8; 32]).unwrap(),
    );
    assert!(!other_key.check_csrf(&a, &token));
}

#[tokio::test]
async fn api_tokens_are_hashed_scoped_and_revocable() {
    let (_dir, auth) = setup().await;
    let store = auth.store();
    let now = Utc::now();
    let (id, token) = tokens::create(
        store,
        Scope::Operate,
        "deploy bot",
        &Actor::cli(),
        None,
        now,
    )
    .await
    .unwrap();
    assert!(id.starts_with("tok_") && token.expose().starts_with("mw_"));
    let found = tokens::authenticate(store, token.expose(), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.scope),
        (id.as_str(), Scope::Operate)
    );
    assert!(tokens::authenticate(store, "mw_nope", now)
        .await
        .unwrap()
        .is_none());
    let (stored,): (String,) = sqlx::query_as("SELECT token_hash FROM api_tokens WHERE id = ?")
        .bind(&id)
        .fetch_one(store.sqlite_pool())
        .await
        .unwrap();
    assert_ne!(stored, token.expose());
    assert!(tokens::revoke(store, &id, &Actor::cli(), None, now)
        .await
        .unwrap());
    assert!(tokens::authenticate(store, token.expose(), now)
        .await
        .unwrap()
        .is_none());
    assert!(!tokens::revoke(store, &id, &Actor::cli(), None, now)
        .await
        .unwrap());
    let entries = audit::list(store, 100, None).await.unwrap();
    let revoked =
        |e: &&audit::Entry| e.action == "token.revoke" && e.target.as_deref() == Some(id.as_str());
    assert_eq!(entries.iter().filter(revoked).count(), 1);
    assert!(
        tokens::create(store, Scope::Read, "bad\nname", &Actor::cli(), None, now)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ending_a_session_revokes_it_and_is_audited_once() {
    let (_dir, auth) = setup().await;
    let now = Utc::now();
    let (session, token) = auth
        .login("ops@example.com", PASSWORD, Some("192.0.2.1"), now)
        .await
        .unwrap();
    let actor = Actor::user(&session.email);
    let client = Some("192.0.2.1".to_string());
    assert!(auth
        .end_session(&session.id, "session.logout", &actor, client.clone(), now)
        .await
        .unwrap());
    assert!(auth.session(token.expose(), now).await.unwrap().is_none());
    assert!(!auth
        .end_session(&session.id, "session.logout", &actor, client, now)
        .await
        .unwrap());
    let entries = audit::list(auth.store(), 100, None).await.unwrap();
    let ended: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "session.logout")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].target.as_deref(), Some(session.id.as_str()));
    assert_eq!(ended[0].client_addr.as_deref(), Some("192.0.2.1"));
}

/// Guessing from many clients gets slower with every failure (one try a minute at most,
/// right password or not); an admin's unlock lets the owner in at once.
#[tokio::test]
async fn guesses_from_many_clients_are_slowed_and_an_admin_can_unlock() {
    let (_dir, auth) = setup().await;
    let start = Utc::now();
    let mut now = start;
    for i in 0..12 {
        let client = format!("203.0.113.{i}");
        // Each guesser waits out the delay, so every failure is counted.
        loop {
            match auth
                .login("ops@example.com", "wrong password!", Some(&client), now)
                .await
            {
                Err(LoginError::Slowed { retry_after }) => {
                    now += chrono::Duration::from_std(retry_after).unwrap();
                }
                Err(LoginError::Invalid) => break,
                other => panic!("{other:?}"),
            }
        }
    }
    // 12 failures: a delay of min(2^7 s, 60 s).
    assert_eq!(
        auth.lockout.slow_delay(12),
        std::time::Duration::from_secs(60)
    );
    let owner = Some("198.51.100.7");
    let soon = now + Duration::seconds(30);
    assert!(matches!(
        auth.login("ops@example.com", PASSWORD, owner, soon).await,
        Err(LoginError::Slowed { .. })
    ));
    // 12 guesses took at least 1 + 2 + … seconds: guessing is held back.
    assert!(
        now - start >= Duration::seconds(1 + 2 + 4 + 8 + 16 + 32 + 60),
        "{:?}",
        now - start
    );
    let cleared = auth
        .unlock("Ops@Example.com", &Actor::cli(), None, soon)
        .await
        .unwrap();
    assert!(cleared >= 24, "{cleared}");
    assert!(auth
        .login("ops@example.com", PASSWORD, owner, soon)
        .await
        .is_ok());
    let entries = audit::list(auth.store(), 100, None).await.unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "user.unlock" && e.target.as_deref() == Some("ops@example.com")));
}
