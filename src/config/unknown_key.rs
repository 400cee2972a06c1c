//! An unknown key, said in our words with the nearest known key when one is close.
//!
//! Every table of the file refuses unknown keys (`deny_unknown_fields`), and serde words the
//! refusal as "unknown field `x`, expected one of `a`, `b`, …". [`reword`] turns that into
//! "unknown key `x`; did you mean `a`?" when a known key is within a small edit distance
//! (a typo), or lists the keys allowed there when none is. Other messages pass unchanged.

/// Rewords serde's unknown-field message; `None` when `message` is not one.
pub fn reword(message: &str) -> Option<String> {
    if !message.starts_with("unknown field `") {
        return None;
    }
    // Every name in the message is between backticks: the unknown one first, then the
    // allowed ones (serde writes `a`, "`a` or `b`" or "one of `a`, `b`, …").
    let mut quoted = message.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    let known: Vec<&str> = quoted.filter(|k| !k.is_empty()).collect();
    Some(match nearest(unknown, &known) {
        Some(close) => format!("unknown key `{unknown}`; did you mean `{close}`?"),
        None if known.is_empty() => format!("unknown key `{unknown}`; this table takes no keys"),
        None => format!(
            "unknown key `{unknown}`; the keys allowed here are {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// The known key nearest to `unknown`, if it is close enough to be a typo of it: at most
/// one edit for short keys, two from 6 characters, three from 12.
pub fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = match unknown.chars().count() {
        0..=5 => 1,
        6..=11 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance in characters (insertions, deletions and substitutions cost 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            let delete = previous[j + 1] + 1;
            let insert = current[j] + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        for (a, b, d) in [
            ("", "", 0),
            ("abc", "", 3),
            ("api_key_envv", "api_key_env", 1),
            ("timout", "timeout", 1),
            ("kitten", "sitting", 3),
            ("ttft", "tfft", 1),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} → {b}");
        }
    }

    #[test]
    fn serde_messages_reworded() {
        let cases = [
            (
                "unknown field `api_key_envv`, expected one of `id`, `name`, `kind`, `api_key_env`",
                "unknown key `api_key_envv`; did you mean `api_key_env`?",
            ),
            (
                "unknown field `timout`, expected one of `schedule`, `timeout`",
                "unknown key `timout`; did you mean `timeout`?",
            ),
            (
                "unknown field `colour`, expected `url` or `format`",
                "unknown key `colour`; the keys allowed here are `url`, `format`",
            ),
            (
                "unknown field `x`, expected `id`",
                "unknown key `x`; the keys allowed here are `id`",
            ),
            (
                "unknown field `x`, there are no fields",
                "unknown key `x`; this table takes no keys",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(reword(serde).as_deref(), Some(ours), "{serde}");
        }
        assert_eq!(reword("invalid type: string, expected u32"), None);
    }

    #[test]
    fn far_keys_are_not_suggested() {
        assert_eq!(nearest("database_url", &["database", "listen"]), None);
        assert_eq!(nearest("id", &["name"]), None);
        assert_eq!(nearest("nme", &["name", "id"]), Some("name"));
    }
}
