//! Outcome classes of a probe, exactly the vocabulary of the design brief.
//!
//! Every probe ends in exactly one class. The class decides how later stages count it:
//! provider faults feed the error rate, misconfiguration is shown only to SREs, and
//! `rate_limited` (our own key throttled) counts neither way.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What happened to one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Streamed at least one non-empty text delta and finished cleanly.
    Ok,
    /// The provider's `timeout` elapsed before the probe finished (before or after the first token).
    Timeout,
    /// No HTTP response at all: DNS, TCP, TLS or a reset before headers.
    Connect,
    /// A 5xx status (other than Anthropic's 529) or a server error reported inside the stream,
    /// unless it says the server is overloaded.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// No capacity right now: Anthropic's 529 or `overloaded_error`, or any provider's server
    /// error that says it is overloaded (Gemini's and OpenAI's 503), in the status or inside
    /// the stream.
    Overloaded,
    /// 429: our own key is throttled. Stored, but neither a success nor a provider fault.
    RateLimited,
    /// 401/403: our key or permissions; misconfiguration until proven otherwise.
    Auth,
    /// 400: our request is wrong; misconfiguration.
    BadRequest,
    /// 404: the model or endpoint is gone; misconfiguration.
    NotFound,
    /// Broken or truncated stream, invalid JSON, an unexpected status, an event or a whole
    /// response larger than its limit.
    Malformed,
    /// The stream finished cleanly without any text.
    Empty,
}

impl Outcome {
    /// Every class, in a stable order (used for rollup columns and metrics).
    pub const ALL: [Outcome; 11] = [
        Outcome::Ok,
        Outcome::Timeout,
        Outcome::Connect,
        Outcome::Http5xx,
        Outcome::Overloaded,
        Outcome::RateLimited,
        Outcome::Auth,
        Outcome::BadRequest,
        Outcome::NotFound,
        Outcome::Malformed,
        Outcome::Empty,
    ];

    /// The stable snake_case name stored in the database and shown in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::Http5xx => "http_5xx",
            Outcome::Overloaded => "overloaded",
            Outcome::RateLimited => "rate_limited",
            Outcome::Auth => "auth",
            Outcome::BadRequest => "bad_request",
            Outcome::NotFound => "not_found",
            Outcome::Malformed => "malformed",
            Outcome::Empty => "empty",
        }
    }

    /// True for classes that count against the provider (the evaluator's error rate).
    pub fn is_provider_fault(self) -> bool {
        matches!(
            self,
            Outcome::Timeout
                | Outcome::Connect
                | Outcome::Http5xx
                | Outcome::Overloaded
                | Outcome::Malformed
                | Outcome::Empty
        )
    }

    /// True for classes that mean our own probe is misconfigured (never announced publicly).
    pub fn is_misconfiguration(self) -> bool {
        matches!(
            self,
            Outcome::Auth | Outcome::BadRequest | Outcome::NotFound
        )
    }

    /// True for anything but `ok`; used for the exit code of `modelwatch probe`.
    pub fn is_failure(self) -> bool {
        self != Outcome::Ok
    }

    /// The class an HTTP error status maps to when the body says nothing more specific.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            400 | 422 => Outcome::BadRequest,
            401 | 403 => Outcome::Auth,
            404 => Outcome::NotFound,
            408 | 504 => Outcome::Timeout,
            429 => Outcome::RateLimited,
            529 => Outcome::Overloaded,
            500..=599 => Outcome::Http5xx,
            _ => Outcome::Malformed,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a stored or configured outcome name that is not one of the classes.
#[derive(Debug, thiserror::Error)]
#[error("unknown outcome class `{0}` (expected one of ok, timeout, connect, http_5xx, overloaded, rate_limited, auth, bad_request, not_found, malformed, empty)")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
        assert!("nope".parse::<Outcome>().is_err());
    }

    #[test]
    fn statuses_map_to_classes() {
        let table = [
            (400, Outcome::BadRequest),
            (401, Outcome::Auth),
            (403, Outcome::Auth),
            (404, Outcome::NotFound),
            (429, Outcome::RateLimited),
            (500, Outcome::Http5xx),
            (503, Outcome::Http5xx),
            (529, Outcome::Overloaded),
            (504, Outcome::Timeout),
            (302, Outcome::Malformed),
        ];
        for (status, want) in table {
            assert_eq!(Outcome::from_status(status), want, "status {status}");
        }
    }

    #[test]
    fn rate_limited_is_neither_fault_nor_misconfiguration() {
        assert!(!Outcome::RateLimited.is_provider_fault());
        assert!(!Outcome::RateLimited.is_misconfiguration());
        assert!(Outcome::Overloaded.is_provider_fault());
        assert!(Outcome::Auth.is_misconfiguration());
    }
}
