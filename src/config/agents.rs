//! `[agents]`: probes from more than one place. Agents (`modelwatch agent`) run the same
//! probers elsewhere and push their results here; each is a *vantage* with a region, and
//! this server's own probes are one more (`region`, named `central`). A model is announced
//! failing for everyone only when `quorum` vantages see it failing.

use std::time::Duration;

use serde::Deserialize;

/// `[agents]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    pub quorum: Option<u32>,
    pub stale_after: Option<String>,
    pub region: Option<String>,
    pub probe_locally: Option<bool>,
    pub max_batch: Option<usize>,
}

/// The name of this server's own vantage.
pub const CENTRAL: &str = "central";

/// The validated `[agents]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsConfig {
    /// Vantages that must see a model failing before it fails for everyone; `None` is a
    /// majority of the vantages reporting it (one of one, two of two or three, three of
    /// four or five…).
    pub quorum: Option<u32>,
    /// A vantage that has not reported a model for this long (or three of the model's
    /// intervals, whichever is longer) no longer counts for it.
    pub stale_after: Duration,
    /// The region of this server's own probes.
    pub region: String,
    /// Whether this server probes at all (false: agents do all the probing).
    pub probe_locally: bool,
    /// Results per `POST /api/v1/agent/results`.
    pub max_batch: usize,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            quorum: None,
            stale_after: Duration::from_secs(120),
            region: "local".into(),
            probe_locally: true,
            max_batch: 5000,
        }
    }
}

/// Whether `name` may name an agent or a region: 1 to 63 of `a-z 0-9 . _ -`, starting with
/// a letter or digit (it appears in URLs, logs and metric labels).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Validates `raw`; problems are messages naming their key.
pub fn parse(raw: &RawAgents) -> (AgentsConfig, Vec<String>) {
    let d = AgentsConfig::default();
    let mut problems = Vec::new();
    let quorum = match raw.quorum {
        Some(0) => {
            problems
                .push("`agents.quorum` must be at least 1 (leave it out for a majority)".into());
            None
        }
        q => q,
    };
    let stale_after = match &raw.stale_after {
        None => d.stale_after,
        Some(t) => match humantime::parse_duration(t) {
            Ok(v) if v >= Duration::from_secs(10) => v,
            _ => {
                problems.push(format!(
                    "`agents.stale_after` = `{t}` must be a duration of at least 10s, e.g. \"2m\""
                ));
                d.stale_after
            }
        },
    };
    let region = match &raw.region {
        None => d.region,
        Some(r) if valid_name(r) => r.clone(),
        Some(r) => {
            problems.push(format!(
                "`agents.region` = `{r}` must be 1 to 63 of a-z, 0-9, '.', '_', '-' (e.g. \"eu-west\")"
            ));
            d.region
        }
    };
    let max_batch = match raw.max_batch {
        None => d.max_batch,
        Some(n) if (1..=50_000).contains(&n) => n,
        Some(n) => {
            problems.push(format!(
                "`agents.max_batch` = {n} must be between 1 and 50000"
            ));
            d.max_batch
        }
    };
    let config = AgentsConfig {
        quorum,
        stale_after,
        region,
        probe_locally: raw.probe_locally.unwrap_or(d.probe_locally),
        max_batch,
    };
    (config, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_words() {
        for ok in ["eu-west", "a1", "us.east_2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-x", "EU", "a/b", "a b", &"x".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let raw: RawAgents = toml::from_str(
            "quorum = 0\nstale_after = \"1s\"\nregion = \"EU West\"\nmax_batch = 0\n",
        )
        .unwrap();
        let (config, problems) = parse(&raw);
        assert_eq!(config, AgentsConfig::default());
        assert_eq!(problems.len(), 4, "{problems:?}");
        for (p, key) in problems
            .iter()
            .zip(["quorum", "stale_after", "region", "max_batch"])
        {
            assert!(p.contains(&format!("agents.{key}")), "{p}");
        }
    }
}
