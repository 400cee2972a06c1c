//! The built-in demo configuration, used by every command without `--config`
//! (`modelwatch demo-config` prints it).

use std::path::Path;

use super::{Config, ConfigError};

/// The demo's TOML text (kept as a file so it reads like any other configuration).
pub const DEMO_TOML: &str = include_str!("demo.toml");

/// What the demo is called where a file name would be.
pub const DEMO_PATH: &str = "<built-in demo>";

/// The demo configuration. It needs no environment variables.
pub fn demo_config() -> Result<Config, ConfigError> {
    Config::parse(DEMO_TOML, Path::new(DEMO_PATH), &|_| None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_is_valid_and_mirrors_the_article() {
        let config = super::demo_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.model_count(), 8);
        let faulty: Vec<String> = config
            .models()
            .filter(|(_, m)| !m.simulation.faults.is_empty())
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect();
        assert_eq!(
            faulty,
            vec!["anthropic/claude-opus-4-8", "anthropic/claude-opus-4-7"]
        );
    }
}
