//! Removing secrets from error text and bounding its length before it is stored or logged.
//!
//! Providers sometimes echo part of the key back ("Incorrect API key provided: sk-…"), so
//! error bodies are scrubbed of the configured secrets *and* of anything shaped like a key.

/// Longest error text kept, in characters.
pub const MAX_ERROR_CHARS: usize = 300;

/// Prefixes of well-known key formats; a token starting with one of these is masked.
const KEY_PREFIXES: [&str; 6] = ["sk-", "sk_", "AIza", "AKIA", "ASIA", "whsec_"];

/// Returns `text` with every secret in `secrets` and every key-shaped token replaced by
/// `[redacted]`, collapsed to one line and truncated to [`MAX_ERROR_CHARS`].
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    let masked: Vec<String> = out
        .split_whitespace()
        .map(|word| {
            let core =
                word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
            let looks_like_key =
                KEY_PREFIXES.iter().any(|p| core.starts_with(p)) && core.len() >= 12;
            let bearer_token = core.len() >= 32
                && core
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && core.chars().any(|c| c.is_ascii_digit())
                && core.chars().any(|c| c.is_ascii_alphabetic());
            if looks_like_key || bearer_token {
                word.replace(core, "[redacted]")
            } else {
                word.to_string()
            }
        })
        .collect();
    truncate(&masked.join(" "), MAX_ERROR_CHARS)
}

/// Cuts `text` to at most `max` characters on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_secret_is_removed() {
        let s = scrub(
            "bad key hunter2-secret-value given",
            &["hunter2-secret-value"],
        );
        assert_eq!(s, "bad key [redacted] given");
    }

    #[test]
    fn key_shaped_tokens_are_masked() {
        let s = scrub("Incorrect API key provided: sk-proj-abcdef123456.", &[]);
        assert!(!s.contains("abcdef123456"), "{s}");
        assert!(s.contains("[redacted]"));
        let s = scrub("key AIzaSyA1234567890abcdef rejected", &[]);
        assert!(!s.contains("AIzaSy"), "{s}");
    }

    #[test]
    fn ordinary_words_survive_and_text_is_bounded() {
        assert_eq!(
            scrub("overloaded_error: Overloaded", &[]),
            "overloaded_error: Overloaded"
        );
        let long = "é".repeat(1000);
        let s = scrub(&long, &[]);
        assert_eq!(s.chars().count(), MAX_ERROR_CHARS);
        assert!(s.ends_with('…'));
    }
}
