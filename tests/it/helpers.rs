//! Shared test helpers: local fake servers and configuration from TOML text.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use modelwatch::config::Config;
use modelwatch::probe::ProbeTarget;

/// Serves `router` on a fresh loopback port until the test ends; returns its address.
pub async fn spawn_server(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// Parses a configuration from text with the given environment variables only.
pub fn config_from(toml: &str, env: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::parse(toml, Path::new("test.toml"), &move |name| {
        env.get(name).cloned()
    })
    .unwrap_or_else(|e| panic!("test configuration is invalid:\n{e}"))
}

/// The probe target for the first model of the first provider.
pub fn first_target(config: &Config) -> ProbeTarget {
    let provider = config.providers[0].clone();
    let model = provider.models[0].clone();
    ProbeTarget {
        provider: Arc::clone(&provider),
        model,
    }
}
