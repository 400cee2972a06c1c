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
