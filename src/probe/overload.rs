//! Overload: the provider is up but has no capacity for the request right now.
//!
//! Providers say so in different ways, all of them `overloaded`:
//! - Anthropic: HTTP 529, or an `overloaded_error` type in an error body (whatever its
//!   status) or in an `error` event of a 200 stream (decided in `anthropic.rs`);
//! - Gemini: HTTP 503 `UNAVAILABLE` "The model is overloaded. Please try again later.",
//!   in the response or as an error chunk of a 200 stream;
//! - OpenAI: 503 "The engine is currently overloaded, please try again later", or an
//!   error whose `type` or `code` is `overloaded`/`overloaded_error`;
//! - vLLM, Mistral and other compatible servers: 503 with `{"object": "error", "message":
//!   "…overloaded…"}`, or such an error inside the stream.
//!
//! What they share is a server error whose type or message says "overloaded", so that is the
//! rule, applied by every prober to its error classes: any other server error stays
//! `http_5xx`. Only server errors are refined: a 429 (our key throttled) stays `rate_limited`
//! whatever its wording, and a 4xx never becomes an outage.

use super::Outcome;

/// `outcome`, or `overloaded` when it is a server error (`http_5xx`) whose `description` (its
/// error type and message) says the server is overloaded.
pub fn refine(outcome: Outcome, description: &str) -> Outcome {
    if outcome == Outcome::Http5xx && says_overloaded(description) {
        Outcome::Overloaded
    } else {
        outcome
    }
}

/// True when the text says overloaded ("overloaded", "Overloaded", "overloaded_error"); no
/// other wording of a server error is taken for overload.
fn says_overloaded(text: &str) -> bool {
    text.to_ascii_lowercase().contains("overloaded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_that_say_overloaded_are_overloaded() {
        let table = [
            // Gemini.
            (
                Outcome::Http5xx,
                "UNAVAILABLE: The model is overloaded. Please try again later.",
                Outcome::Overloaded,
            ),
            (
                Outcome::Http5xx,
                "UNAVAILABLE: The service is currently unavailable.",
                Outcome::Http5xx,
            ),
            (
                Outcome::Http5xx,
                "INTERNAL: An internal error has occurred.",
                Outcome::Http5xx,
            ),
            // OpenAI.
            (
                Outcome::Http5xx,
                "server_error: The engine is currently overloaded, please try again later",
                Outcome::Overloaded,
            ),
            (
                Outcome::Http5xx,
                "server_error: The server had an error while processing your request.",
                Outcome::Http5xx,
            ),
            // vLLM and Mistral.
            (
                Outcome::Http5xx,
                "ServiceUnavailableError: The server is overloaded or not ready yet.",
                Outcome::Overloaded,
            ),
            (
                Outcome::Http5xx,
                "Service overloaded, please retry later",
                Outcome::Overloaded,
            ),
            // Anthropic's type, behind a gateway that changed the status.
            (
                Outcome::Http5xx,
                "overloaded_error: Overloaded",
                Outcome::Overloaded,
            ),
            // Other classes keep theirs, whatever the wording.
            (
                Outcome::RateLimited,
                "That model is currently overloaded with other requests.",
                Outcome::RateLimited,
            ),
            (Outcome::BadRequest, "overloaded", Outcome::BadRequest),
            (Outcome::Overloaded, "Overloaded", Outcome::Overloaded),
            (Outcome::Timeout, "overloaded", Outcome::Timeout),
        ];
        for (outcome, description, want) in table {
            assert_eq!(
                refine(outcome, description),
                want,
                "{outcome}: {description}"
            );
        }
    }
}
