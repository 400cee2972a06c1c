//! The rows of `POST /api/v1/observations`: a JSON array of objects, or NDJSON (one object
//! per line), each checked on its own. A bad row is refused with its index and the reason;
//! the good rows of the same batch are kept.
//!
//! A row:
//! ```json
//! {"model": "openai/gpt-4o-mini", "outcome": "ok", "ttft_ms": 320, "total_ms": 1800,
//!  "at": "2026-12-04T10:00:00.120Z", "source": "checkout-eu", "request_id": "req_1"}
//! ```
//! `outcome` is one of the probes' classes; instead of it a failed request may give
//! `status` (the HTTP status it got) and/or `error_type` (the SDK's exception name or the
//! provider's error type), classified as the probers classify theirs. `at` is RFC 3339 or
//! milliseconds since the epoch (default: when it arrived); `source` defaults to the
//! token's name.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::names::ModelNames;
use crate::vocabulary::observation::{classify, MAX_LABEL};
use crate::vocabulary::{Observation, Outcome};

/// The longest first-token or total time accepted: a day, in milliseconds.
const MAX_MS: u64 = 86_400_000;
/// How far ahead of our clock `at` may be (the caller's clock drifts).
const FUTURE_SLACK: Duration = Duration::minutes(5);

/// One refused row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Refusal {
    /// Its position in the batch (0-based; the line for NDJSON, counting blank lines).
    pub index: usize,
    /// Which metric reason it counts under (`invalid`, `unknown_model`, `too_old`).
    #[serde(skip)]
    pub kind: &'static str,
    pub reason: String,
}

/// A parsed batch: the rows kept and the ones refused.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Observation>,
    pub refused: Vec<Refusal>,
}

/// What a batch is checked against.
pub struct Context<'a> {
    pub names: &'a ModelNames,
    pub default_source: &'a str,
    pub now: DateTime<Utc>,
    pub max_age: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    model: String,
    outcome: Option<String>,
    status: Option<u16>,
    error_type: Option<String>,
    ttft_ms: Option<u64>,
    total_ms: Option<u64>,
    at: Option<Value>,
    source: Option<String>,
    request_id: Option<String>,
}

/// Why a whole body cannot be read as rows.
#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// Not JSON of the expected shape; the message says where.
    Unreadable(String),
    /// More rows than a batch may hold.
    TooMany { rows: usize, most: usize },
}

/// The rows of a body: a JSON array (or one object) when `ndjson` is false, else one JSON
/// object per non-blank line. At most `most` rows.
pub fn split(body: &[u8], ndjson: bool, most: usize) -> Result<Vec<Row>, BodyError> {
    let rows: Vec<Row> = if ndjson {
        let text = std::str::from_utf8(body)
            .map_err(|e| BodyError::Unreadable(format!("the body is not UTF-8 text: {e}")))?;
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        if lines.len() > most {
            return Err(BodyError::TooMany {
                rows: lines.len(),
                most,
            });
        }
        lines
            .into_iter()
            // A line that is not JSON is refused alone; the rest of the batch is kept.
            .map(|(i, l)| {
                let value = serde_json::from_str(l).map_err(|e| format!("line is not JSON: {e}"));
                (i, value)
            })
            .collect()
    } else {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            BodyError::Unreadable(format!(
                "the body is not JSON ({e}); send an array of observations, or NDJSON with Content-Type: application/x-ndjson"
            ))
        })?;
        match value {
            Value::Array(items) if items.len() > most => {
                return Err(BodyError::TooMany {
                    rows: items.len(),
                    most,
                })
            }
            Value::Array(items) => items.into_iter().map(Ok).enumerate().collect(),
            object @ Value::Object(_) => vec![(0, Ok(object))],
            _ => {
                return Err(BodyError::Unreadable(
                    "send a JSON array of observation objects (or one object)".into(),
                ))
            }
        }
    };
    Ok(rows)
}

/// One row of a body: its index, and its JSON or why it is not JSON.
pub type Row = (usize, Result<Value, String>);

/// Checks every row; keeps the good ones.
pub fn check(rows: Vec<Row>, cx: &Context<'_>) -> Parsed {
    let mut parsed = Parsed::default();
    for (index, value) in rows {
        match value.map_err(invalid).and_then(|v| row(v, cx)) {
            Ok(o) => parsed.rows.push(o),
            Err((kind, reason)) => parsed.refused.push(Refusal {
                index,
                kind,
                reason,
            }),
        }
    }
    parsed
}

fn invalid(reason: impl Into<String>) -> (&'static str, String) {
    ("invalid", reason.into())
}

fn row(value: Value, cx: &Context<'_>) -> Result<Observation, (&'static str, String)> {
    let raw: RawRow = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let model_key = cx.names.key(raw.model.trim()).ok_or_else(|| {
        (
            "unknown_model",
            format!(
                "`model` `{}` is not a configured model; write `provider-id/model-id` as in /api/v1/routing, or map it in [traffic.names]",
                clip(&raw.model)
            ),
        )
    })?;
    let outcome = match (&raw.outcome, raw.status, raw.error_type.as_deref()) {
        (Some(o), _, _) => o
            .parse::<Outcome>()
            .map_err(|e| invalid(format!("`outcome`: {e}")))?,
        (None, Some(s), _) if (200..300).contains(&s) => Outcome::Ok,
        (None, status, error_type) => classify(status, error_type).ok_or_else(|| {
            invalid(
                "give `outcome` (e.g. \"ok\"), or the `status` and/or `error_type` of the failure",
            )
        })?,
    };
    if let Some(s) = raw.status {
        if !(100..=599).contains(&s) {
            return Err(invalid(format!("`status` {s} is not an HTTP status")));
        }
    }
    let millis = |v: Option<u64>, name: &str| -> Result<Option<u32>, (&'static str, String)> {
        match v {
            Some(ms) if ms > MAX_MS => Err(invalid(format!(
                "`{name}` {ms} is over a day; it is in milliseconds"
            ))),
            Some(ms) => Ok(Some(ms as u32)),
            None => Ok(None),
        }
    };
    let ttft_ms = millis(raw.ttft_ms, "ttft_ms")?;
    let total_ms = millis(raw.total_ms, "total_ms")?;
    let at = match &raw.at {
        None | Some(Value::Null) => cx.now,
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| invalid(format!("`at` `{}` is not RFC 3339: {e}", clip(s))))?,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .ok_or_else(|| invalid("`at` as a number is milliseconds since the epoch"))?,
        Some(_) => {
            return Err(invalid(
                "`at` is an RFC 3339 time or milliseconds since the epoch",
            ))
        }
    };
    if at > cx.now + FUTURE_SLACK {
        return Err(invalid(format!(
            "`at` {} is more than 5 minutes ahead of the server's clock ({})",
            at.to_rfc3339(),
            cx.now.to_rfc3339()
        )));
    }
    if at < cx.now - cx.max_age {
        return Err((
            "too_old",
            format!(
                "`at` {} is older than `traffic.max_age` ({} minutes): too late to judge",
                at.to_rfc3339(),
                cx.max_age.num_minutes()
            ),
        ));
    }
    let source = match raw.source.as_deref().map(str::trim) {
        None | Some("") => cx.default_source.to_string(),
        Some(s) => label(s, "source")?,
    };
    if let Some(id) = &raw.request_id {
        label(id, "request_id")?;
    }
    Ok(Observation {
        model_key: model_key.to_string(),
        source,
        outcome,
        ttft_ms,
        total_ms,
        at,
    })
}

/// A short label: at most [`MAX_LABEL`] characters, no control characters.
fn label(text: &str, field: &str) -> Result<String, (&'static str, String)> {
    if text.chars().count() > MAX_LABEL || text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "`{field}` must be at most {MAX_LABEL} characters without control characters"
        )));
    }
    Ok(text.to_string())
}

/// A value as quoted back in an error: at most 80 characters.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> ModelNames {
        let text = "[[providers]]\nid = \"sim\"\nkind = \"simulated\"\nmodels = [{ id = \"m\" }]\n";
        let config =
            crate::config::Config::parse(text, std::path::Path::new("t.toml"), &|_| None).unwrap();
        ModelNames::new(&config)
    }

    fn cx(names: &ModelNames) -> Context<'_> {
        Context {
            names,
            default_source: "token-name",
            now: Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
            max_age: Duration::hours(1),
        }
    }

    #[test]
    fn good_rows_are_kept_and_bad_ones_named_by_index() {
        let names = names();
        let body = br#"[
            {"model": "sim/m", "outcome": "ok", "ttft_ms": 300, "total_ms": 900},
            {"model": "sim/nope", "outcome": "ok"},
            {"model": "sim/m", "status": 503, "error_type": "overloaded_error", "source": "eu"},
            {"model": "sim/m", "outcome": "fine"},
            {"model": "sim/m", "at": "2026-12-04T09:00:00Z", "outcome": "ok"},
            {"model": "sim/m", "at": 1796385600000, "error_type": "RateLimitError"},
            {"model": "sim/m", "outcome": "ok", "colour": "blue"},
            {"model": "sim/m"}
        ]"#;
        let parsed = check(split(body, false, 100).unwrap(), &cx(&names));
        let kept: Vec<(Outcome, &str)> = parsed
            .rows
            .iter()
            .map(|o| (o.outcome, o.source.as_str()))
            .collect();
        assert_eq!(
            kept,
            vec![
                (Outcome::Ok, "token-name"),
                (Outcome::Overloaded, "eu"),
                (Outcome::RateLimited, "token-name")
            ]
        );
        let refused: Vec<(usize, &str)> =
            parsed.refused.iter().map(|r| (r.index, r.kind)).collect();
        assert_eq!(
            refused,
            vec![
                (1, "unknown_model"),
                (3, "invalid"),
                (4, "too_old"),
                (6, "invalid"),
                (7, "invalid")
            ]
        );
        assert!(parsed.refused[1]
            .reason
            .contains("unknown outcome class `fine`"));
        assert!(
            parsed.refused[3].reason.contains("colour"),
            "{}",
            parsed.refused[3].reason
        );
    }

    #[test]
    fn ndjson_rows_are_numbered_by_line_and_broken_lines_refused_alone() {
        let names = names();
        let body = b"{\"model\":\"sim/m\",\"outcome\":\"ok\"}\n\n{not json\n{\"model\":\"sim/m\",\"outcome\":\"timeout\"}\n";
        let parsed = check(split(body, true, 100).unwrap(), &cx(&names));
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.refused.len(), 1);
        assert_eq!(parsed.refused[0].index, 2);
        assert!(parsed.refused[0].reason.starts_with("line is not JSON"));
    }

    #[test]
    fn whole_bodies_that_cannot_be_rows_are_refused_whole() {
        assert!(matches!(
            split(b"[1,", false, 10),
            Err(BodyError::Unreadable(_))
        ));
        assert!(matches!(
            split(b"42", false, 10),
            Err(BodyError::Unreadable(_))
        ));
        assert_eq!(
            split(b"[{},{},{}]", false, 2),
            Err(BodyError::TooMany { rows: 3, most: 2 })
        );
        assert_eq!(
            split(b"{}\n{}\n{}\n", true, 2),
            Err(BodyError::TooMany { rows: 3, most: 2 })
        );
    }
}
