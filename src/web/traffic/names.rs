//! Which configured model an observation is about.
//!
//! The observations API names models by their configured key (`provider-id/model-id`).
//! OpenTelemetry GenAI spans name them the instrumentation's way: a provider name
//! (`gen_ai.provider.name`, formerly `gen_ai.system`: `openai`, `anthropic`, `aws.bedrock`,
//! `gcp.gemini`…) and a model (`gen_ai.request.model`, `gen_ai.response.model`). They are
//! resolved in this order:
//! 1. `[traffic.names]`: `"<provider name>/<model>" = "<provider-id>/<model-id>"`;
//! 2. a configured key equal to `<provider name>/<model>` (a provider whose id is the name);
//! 3. the one configured model with that model id among providers of the matching kind
//!    (`openai` and `azure.ai.openai` → kind `openai`, `aws.bedrock` → `bedrock`,
//!    `gcp.gemini`, `gcp.vertex_ai`, `gemini` … → `gemini`).
//!
//! Anything else is unknown and refused: observations never create models.

use std::collections::{BTreeMap, HashSet};

use crate::config::{Config, ProviderKind};

/// Configured keys and the ways to reach them.
#[derive(Debug, Clone, Default)]
pub struct ModelNames {
    keys: HashSet<String>,
    names: BTreeMap<String, String>,
    /// `(kind, model id)` → the keys with that model id under a provider of that kind.
    by_kind: BTreeMap<(ProviderKind, String), Vec<String>>,
}

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq)]
pub enum Unresolved {
    Unknown,
    /// Several configured models match; `[traffic.names]` must say which.
    Ambiguous(Vec<String>),
}

impl ModelNames {
    pub fn new(config: &Config) -> ModelNames {
        let mut by_kind: BTreeMap<(ProviderKind, String), Vec<String>> = BTreeMap::new();
        let mut keys = HashSet::new();
        for (p, m) in config.models() {
            let key = format!("{}/{}", p.id, m.id);
            by_kind
                .entry((p.kind, m.id.clone()))
                .or_default()
                .push(key.clone());
            keys.insert(key);
        }
        ModelNames {
            keys,
            names: config.traffic.names.clone(),
            by_kind,
        }
    }

    /// A model named by its configured key (or a `[traffic.names]` entry).
    pub fn key(&self, name: &str) -> Option<&str> {
        if let Some(k) = self.keys.get(name) {
            return Some(k);
        }
        self.names.get(name).map(String::as_str)
    }

    /// A model named as GenAI instrumentation names it.
    pub fn gen_ai(&self, provider: &str, model: &str) -> Result<&str, Unresolved> {
        let joined = format!("{provider}/{model}");
        if let Some(k) = self.key(&joined) {
            return Ok(k);
        }
        let Some(kind) = kind_of(provider) else {
            return Err(Unresolved::Unknown);
        };
        match self
            .by_kind
            .get(&(kind, model.to_string()))
            .map(Vec::as_slice)
        {
            Some([one]) => Ok(one),
            Some(many) if !many.is_empty() => Err(Unresolved::Ambiguous(many.to_vec())),
            _ => Err(Unresolved::Unknown),
        }
    }
}

/// The provider kind a GenAI provider name stands for (semantic conventions 1.37 names, and
/// the older `gen_ai.system` values).
fn kind_of(name: &str) -> Option<ProviderKind> {
    Some(match name.to_ascii_lowercase().as_str() {
        "openai" | "azure.ai.openai" | "az.ai.openai" => ProviderKind::OpenAi,
        "anthropic" => ProviderKind::Anthropic,
        "aws.bedrock" | "bedrock" => ProviderKind::Bedrock,
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" | "gemini" | "vertex_ai" => {
            ProviderKind::Gemini
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = r#"
[traffic.names]
"openai/gpt-4o-2024-08-06" = "oai/gpt-4o"

[[providers]]
id = "oai"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "K"
models = [{ id = "gpt-4o" }, { id = "gpt-4o-mini" }]

[[providers]]
id = "other-oai"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "K"
models = [{ id = "gpt-4o" }]

[[providers]]
id = "claude"
kind = "anthropic"
base_url = "http://127.0.0.1:9"
api_key_env = "K"
models = [{ id = "claude-haiku-4-5" }]
"#;
        Config::parse(text, std::path::Path::new("t.toml"), &|_| Some("k".into())).unwrap()
    }

    #[test]
    fn gen_ai_names_resolve_by_table_key_then_kind() {
        let n = ModelNames::new(&config());
        assert_eq!(n.gen_ai("openai", "gpt-4o-2024-08-06"), Ok("oai/gpt-4o"));
        assert_eq!(n.gen_ai("oai", "gpt-4o-mini"), Ok("oai/gpt-4o-mini"));
        assert_eq!(n.gen_ai("openai", "gpt-4o-mini"), Ok("oai/gpt-4o-mini"));
        assert_eq!(
            n.gen_ai("anthropic", "claude-haiku-4-5"),
            Ok("claude/claude-haiku-4-5")
        );
        assert_eq!(
            n.gen_ai("openai", "gpt-4o"),
            Err(Unresolved::Ambiguous(vec![
                "oai/gpt-4o".into(),
                "other-oai/gpt-4o".into()
            ]))
        );
        assert_eq!(n.gen_ai("cohere", "command"), Err(Unresolved::Unknown));
        assert_eq!(n.key("oai/gpt-4o"), Some("oai/gpt-4o"));
        assert_eq!(n.key("oai/gpt-5"), None);
    }
}
