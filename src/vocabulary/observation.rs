//! One request of the application's own traffic, as reported to modelwatch, and how a
//! reported failure is put in the probes' outcome classes.
//!
//! Applications report what they saw in their own words: an outcome class, or an HTTP status
//! and an error type (an SDK's exception name, OpenTelemetry's `error.type`). [`classify`]
//! maps those the way the probers classify their own failures, so one vocabulary judges
//! both streams: a 429 is the caller's quota (`rate_limited`), 400/401/403/404 the caller's
//! request or key, and neither ever counts against the model.

use chrono::{DateTime, Utc};

use super::Outcome;

/// The longest `source` and `request_id` kept; longer ones are refused with their row.
pub const MAX_LABEL: usize = 128;

/// One observed request, checked and mapped to a configured model.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `provider-id/model-id` of a configured model.
    pub model_key: String,
    /// Which application or region saw it.
    pub source: String,
    pub outcome: Outcome,
    pub ttft_ms: Option<u32>,
    pub total_ms: Option<u32>,
    /// When the request started.
    pub at: DateTime<Utc>,
}

/// The outcome class of a failed request from what the caller knows of it: an HTTP status
/// (when there was a response) and an error type or message (an exception class name, a
/// provider's error `type`, OpenTelemetry's `error.type`). `None` when neither says
/// anything.
pub fn classify(status: Option<u16>, error_type: Option<&str>) -> Option<Outcome> {
    let words = error_type.unwrap_or("").to_ascii_lowercase();
    // `error.type` is often the status itself ("500", "429").
    let status = status.or_else(|| words.trim().parse::<u16>().ok().filter(|s| *s >= 100));
    if let Some(status) = status {
        let class = Outcome::from_status(status);
        // The probers' rule: a server error that says it is overloaded is `overloaded`.
        return Some(
            if class == Outcome::Http5xx && words.contains("overloaded") {
                Outcome::Overloaded
            } else {
                class
            },
        );
    }
    if words.trim().is_empty() {
        return None;
    }
    // SDK and HTTP-client exception names, most specific first: `RateLimitError`,
    // `APITimeoutError`, `APIConnectionError`, `AuthenticationError`, `overloaded_error`…
    const WORDS: [(&str, Outcome); 14] = [
        ("overloaded", Outcome::Overloaded),
        ("ratelimit", Outcome::RateLimited),
        ("rate_limit", Outcome::RateLimited),
        ("timeout", Outcome::Timeout),
        ("timedout", Outcome::Timeout),
        ("connect", Outcome::Connect),
        ("authentication", Outcome::Auth),
        ("permission", Outcome::Auth),
        ("unauthorized", Outcome::Auth),
        ("badrequest", Outcome::BadRequest),
        ("invalid_request", Outcome::BadRequest),
        ("notfound", Outcome::NotFound),
        ("not_found", Outcome::NotFound),
        ("contentfilter", Outcome::BadRequest),
    ];
    let squashed: String = words.chars().filter(|c| *c != ' ' && *c != '-').collect();
    Some(
        WORDS
            .iter()
            .find(|(w, _)| squashed.contains(w))
            .map_or(Outcome::Http5xx, |(_, o)| *o),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_failures_take_the_probes_classes() {
        let table: [(Option<u16>, Option<&str>, Option<Outcome>); 16] = [
            (Some(429), None, Some(Outcome::RateLimited)),
            (Some(429), Some("overloaded"), Some(Outcome::RateLimited)),
            (
                Some(503),
                Some("The model is overloaded"),
                Some(Outcome::Overloaded),
            ),
            (Some(503), None, Some(Outcome::Http5xx)),
            (Some(529), None, Some(Outcome::Overloaded)),
            (Some(401), None, Some(Outcome::Auth)),
            (Some(400), Some("anything"), Some(Outcome::BadRequest)),
            (None, Some("500"), Some(Outcome::Http5xx)),
            (None, Some("429"), Some(Outcome::RateLimited)),
            (None, Some("RateLimitError"), Some(Outcome::RateLimited)),
            (None, Some("APITimeoutError"), Some(Outcome::Timeout)),
            (
                None,
                Some("openai.APIConnectionError"),
                Some(Outcome::Connect),
            ),
            (None, Some("AuthenticationError"), Some(Outcome::Auth)),
            (None, Some("litellm.NotFoundError"), Some(Outcome::NotFound)),
            (None, Some("InternalServerError"), Some(Outcome::Http5xx)),
            (None, Some("  "), None),
        ];
        for (status, error_type, want) in table {
            assert_eq!(
                classify(status, error_type),
                want,
                "{status:?} {error_type:?}"
            );
        }
    }
}
