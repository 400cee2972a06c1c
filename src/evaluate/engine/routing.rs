//! The routing table client programs poll: per model enabled or disabled, with the first
//! enabled model of its fallback chain, and each provider's rollup. Pure: built from the
//! models' decisions, which the engine passes in.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::evaluate::state::provider_rollup;
use crate::vocabulary::ModelState;

/// One row of the routing table clients poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// `provider/model`.
    pub id: String,
    pub state: ModelState,
    pub enabled: bool,
    /// When disabled: the first enabled model of its fallback chain (else null).
    pub fallback: Option<String>,
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// A provider's rollup: derived from its models, never the other way round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderRollup {
    pub id: String,
    pub name: String,
    pub state: ModelState,
}

/// The routing table, replaced as a whole whenever a round changes anything.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoutingTable {
    pub generated_at: DateTime<Utc>,
    /// The region this table is for (`GET /api/v1/routing?region=`); absent for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub models: Vec<Route>,
    pub providers: Vec<ProviderRollup>,
    /// Each region's own table, when agents probe from more than one region.
    #[serde(skip)]
    pub regions: std::collections::BTreeMap<String, std::sync::Arc<RoutingTable>>,
}

/// What the routing table needs to know of one model.
pub struct Entry<'a> {
    pub key: &'a str,
    pub provider_id: &'a str,
    pub provider_name: &'a str,
    /// Full `provider/model` ids of its fallbacks, in order.
    pub fallbacks: &'a [String],
    pub state: ModelState,
    /// The decision clients see (overrides applied).
    pub enabled: bool,
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// Builds the table from every model's entry, in configuration order.
pub fn table(entries: &[Entry<'_>], now: DateTime<Utc>) -> RoutingTable {
    let by_key: HashMap<&str, &Entry<'_>> = entries.iter().map(|e| (e.key, e)).collect();
    let fallbacks = |k: &str| by_key.get(k).map_or(&[][..], |e| e.fallbacks);
    let enabled = |k: &str| by_key.get(k).is_some_and(|e| e.enabled);
    let models = entries
        .iter()
        .map(|e| Route {
            id: e.key.to_string(),
            state: e.state,
            enabled: e.enabled,
            fallback: if e.enabled {
                None
            } else {
                first_enabled_fallback(e.key, &fallbacks, &enabled)
            },
            since: e.since,
            reason: e.reason.clone(),
        })
        .collect();
    // Providers in configuration order, each with its models' states.
    let mut grouped: Vec<(&Entry<'_>, Vec<ModelState>)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        let i = *position.entry(e.provider_id).or_insert_with(|| {
            grouped.push((e, Vec::new()));
            grouped.len() - 1
        });
        grouped[i].1.push(e.state);
    }
    let providers = grouped
        .into_iter()
        .map(|(first, states)| ProviderRollup {
            id: first.provider_id.to_string(),
            name: first.provider_name.to_string(),
            state: provider_rollup(&states),
        })
        .collect();
    RoutingTable {
        generated_at: now,
        region: None,
        models,
        providers,
        regions: Default::default(),
    }
}

/// The first enabled model of `key`'s fallback chain, following fallbacks of disabled
/// fallbacks depth-first, each model at most once.
pub fn first_enabled_fallback<'a>(
    key: &str,
    fallbacks: &dyn Fn(&str) -> &'a [String],
    enabled: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut seen = HashSet::from([key.to_string()]);
    let mut stack: Vec<String> = fallbacks(key).iter().rev().cloned().collect();
    while let Some(candidate) = stack.pop() {
        if !seen.insert(candidate.clone()) {
            continue;
        }
        if enabled(&candidate) {
            return Some(candidate);
        }
        stack.extend(fallbacks(&candidate).iter().rev().cloned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_chains_skip_disabled_models_and_cycles() {
        let chains: HashMap<&str, Vec<String>> = HashMap::from([
            ("p/a", vec!["p/b".to_string(), "p/c".to_string()]),
            ("p/b", vec!["p/a".to_string(), "p/d".to_string()]),
            ("p/c", vec![]),
            ("p/d", vec![]),
        ]);
        let fallbacks = |k: &str| chains.get(k).map(Vec::as_slice).unwrap_or(&[]);
        let enabled_set = |on: &'static [&'static str]| move |k: &str| on.contains(&k);
        let rows: [(&'static [&'static str], Option<&str>); 4] = [
            (&["p/b", "p/c", "p/d"], Some("p/b")),
            (&["p/c", "p/d"], Some("p/d")),
            (&["p/c"], Some("p/c")),
            (&[], None),
        ];
        for (on, want) in rows {
            let got = first_enabled_fallback("p/a", &fallbacks, &enabled_set(on));
            assert_eq!(got.as_deref(), want, "enabled {on:?}");
        }
    }
}
