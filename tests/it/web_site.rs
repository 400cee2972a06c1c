//! The public site's serving: ETags and 304, precompressed encodings, query strings that do
//! not create cache entries, JSON errors.

use crate::helpers::spawn_seeded_app;

#[tokio::test]
async fn routing_reflects_the_seeded_incident() {
    let app = spawn_seeded_app().await;
    let routing = app.get_json("/api/v1/routing").await;
    let models = routing["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    let opus = models
        .iter()
        .find(|m| m["id"] == "anthropic/claude-opus-4-8")
        .unwrap();
    // The fault ended ten minutes before now: the model has been restored.
    assert_eq!(opus["enabled"], true, "{opus}");
    let incidents = app.store.incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_under_api_get_json_errors() {
    let app = spawn_seeded_app().await;
    let r = app.get("/api/v1/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/api/v1/nope"));
    let r = app
        .client
        .post(format!("{}/api/v2/summary.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn a_database_outage_keeps_the_last_snapshot_marked_stale() {
    use modelwatch::clock::Clock;
    use modelwatch::evaluate::engine::Engine;
    use modelwatch::web::publisher::Publisher;
    use modelwatch::web::renderers;
    use std::sync::Arc;

    let app = spawn_seeded_app().await;
    // A second publisher on the same database, so the outage can be staged on its own pool.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    sqlx::query("VACUUM INTO ?")
        .bind(copy.to_str().unwrap())
        .execute(app.store.sqlite_pool())
        .await
        .unwrap();
    app.stop().await;
    let store = modelwatch::store::Store::open(&copy).await.unwrap();
    let config = Arc::new(crate::helpers::config_from(
        crate::helpers::SEEDED_PROVIDERS,
        &[],
    ));
    let engine = Engine::new(store.clone(), &config, chrono::Utc::now())
        .await
        .unwrap();
    let mut publisher = Publisher::new(
        store.clone(),
        config,
        engine.subscribe(),
        Clock::system(),
        renderers(),
    );
    let site = publisher.handle();
    publisher.publish().await;
    let first = site.borrow().clone();
    assert!(first.bodies.contains_key("/api/v2/summary.json") && first.bodies.contains_key("/"));
    let page = |site: &modelwatch::web::site::Site| {
        String::from_utf8(site.bodies["/"].identity.to_vec()).unwrap()
    };
    assert!(!page(&first).contains("the database is unavailable"));

    store.sqlite_pool().close().await;
    publisher.publish().await;
    let second = site.borrow().clone();
    assert_eq!(
        second.version,
        first.version + 1,
        "a new site is published even without the database"
    );
    assert_eq!(
        second.bodies.len(),
        first.bodies.len(),
        "every body is still served"
    );
    assert_eq!(
        publisher.last_stale_since(),
        Some(first.generated_at.unwrap())
    );
    // A model's own page is read and rendered on its first request; without the database it
    // is still served, from the snapshot, marked stale.
    let models = second.models.clone().expect("model bodies are attached");
    assert_eq!(
        models.rendered(),
        0,
        "nothing rendered before it is asked for"
    );
    let model_page = models
        .body("/models/anthropic/claude-opus-4-8", None)
        .await
        .expect("the model page is served");
    let text = String::from_utf8(model_page.identity.to_vec()).unwrap();
    assert!(text.contains("the database is unavailable"), "{text}");
    assert_eq!(models.rendered(), 1);
    assert!(models.body("/models/anthropic/nope", None).await.is_none());
}
