//! OTLP/HTTP traces (`POST /v1/traces`) as observations: each span that follows the
//! OpenTelemetry GenAI semantic conventions is one request of the application's traffic.
//!
//! The body is an `ExportTraceServiceRequest`, binary protobuf (`application/x-protobuf`) or
//! OTLP's JSON encoding (`application/json`), optionally gzip-compressed, decoded with the
//! OpenTelemetry project's own generated types (`opentelemetry-proto`). From each span:
//! - the model: `gen_ai.provider.name` (or the older `gen_ai.system`) with
//!   `gen_ai.request.model`, else `gen_ai.response.model` (see [`super::names`]);
//! - the outcome: span status `ERROR` is a failure, classified from
//!   `http.response.status_code` and `error.type` (else the status message) like the
//!   probers' failures; anything else is `ok`;
//! - the duration: end minus start; the first token: `gen_ai.response.time_to_first_chunk`
//!   or `gen_ai.server.time_to_first_token` (seconds) when the instrumentation records it;
//! - the source: the resource's `service.name`.
//!
//! Spans without GenAI attributes are ignored (an application's traces carry many other
//! spans). GenAI spans naming a model we do not watch are rejected and counted in the
//! answer's `partial_success`, with the names, so a missing `[traffic.names]` entry shows.

use chrono::{DateTime, TimeZone, Utc};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{status, Span};
use prost::Message;

use super::names::{ModelNames, Unresolved};
use crate::vocabulary::observation::{classify, MAX_LABEL};
use crate::vocabulary::{Observation, Outcome};

/// How an export body is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// What an export became.
#[derive(Debug, Default)]
pub struct Converted {
    pub rows: Vec<Observation>,
    /// GenAI spans that named no configured model.
    pub rejected: usize,
    /// Spans without GenAI attributes.
    pub ignored: usize,
    /// Spans older than `traffic.max_age`.
    pub too_old: usize,
    /// Up to five of the unresolved names, for the answer.
    pub unknown_names: Vec<String>,
}

/// Decodes an export request.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| {
            format!("the body is not an OTLP ExportTraceServiceRequest in protobuf: {e}")
        }),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| format!("the body is not an OTLP ExportTraceServiceRequest in JSON: {e}")),
    }
}

/// The answer OTLP expects, encoded like the request.
pub fn answer(converted: &Converted, encoding: Encoding) -> Vec<u8> {
    let rejected = converted.rejected + converted.too_old;
    let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected as i64,
        error_message: rejection_message(converted),
    });
    let response = ExportTraceServiceResponse { partial_success };
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // A fully accepted export answers `{}` (partial_success unset, not null).
        Encoding::Json if response.partial_success.is_none() => b"{}".to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

fn rejection_message(c: &Converted) -> String {
    let mut parts = Vec::new();
    if c.rejected > 0 {
        parts.push(format!(
            "{} GenAI spans name no configured model ({}); map them in [traffic.names]",
            c.rejected,
            c.unknown_names.join(", ")
        ));
    }
    if c.too_old > 0 {
        parts.push(format!(
            "{} spans are older than traffic.max_age",
            c.too_old
        ));
    }
    parts.join("; ")
}

/// `google.rpc.Status`, the body OTLP/HTTP requires with a 4xx or 5xx answer (encoded like
/// the request), so an exporter can log why it was refused.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    /// The gRPC code matching the HTTP status.
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The body of a refusal with HTTP `status`: a `google.rpc.Status` in the request's
/// encoding, with its content type.
pub fn failure(status: u16, message: &str, encoding: Encoding) -> (&'static str, Vec<u8>) {
    // The gRPC codes OTLP's HTTP statuses stand for (google.rpc.Code).
    let code = match status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    };
    let body = RpcStatus {
        code,
        message: message.to_string(),
    };
    match encoding {
        Encoding::Protobuf => ("application/x-protobuf", body.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        ),
    }
}

/// The observations in an export.
pub fn convert(
    request: &ExportTraceServiceRequest,
    names: &ModelNames,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
) -> Converted {
    let mut out = Converted::default();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let source = string(resource, "service.name")
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_LABEL)
                    .collect()
            })
            .unwrap_or_else(|| "otlp".to_string());
        for span in resource_spans
            .scope_spans
            .iter()
            .flat_map(|s| s.spans.iter())
        {
            span_to_row(span, &source, names, now, max_age, &mut out);
        }
    }
    out
}

fn span_to_row(
    span: &Span,
    source: &str,
    names: &ModelNames,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
    out: &mut Converted,
) {
    let a = span.attributes.as_slice();
    let provider = string(a, "gen_ai.provider.name").or_else(|| string(a, "gen_ai.system"));
    let model = string(a, "gen_ai.request.model").or_else(|| string(a, "gen_ai.response.model"));
    let (Some(provider), Some(model)) = (provider, model) else {
        out.ignored += 1;
        return;
    };
    let key = match names.gen_ai(provider, model) {
        Ok(k) => k,
        Err(why) => {
            out.rejected += 1;
            if out.unknown_names.len() < 5 {
                let name = format!("{provider}/{model}");
                let name: String = name.chars().take(100).collect();
                out.unknown_names.push(match why {
                    Unresolved::Unknown => name,
                    Unresolved::Ambiguous(_) => format!("{name} (ambiguous)"),
                });
            }
            return;
        }
    };
    let Some(at) = nanos(span.start_time_unix_nano) else {
        out.ignored += 1;
        return;
    };
    if at < now - max_age {
        out.too_old += 1;
        return;
    }
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == status::StatusCode::Error as i32);
    let outcome = if failed {
        let http = int(a, "http.response.status_code").and_then(|s| u16::try_from(s).ok());
        let message = span.status.as_ref().map(|s| s.message.as_str());
        let error_type = string(a, "error.type").or(message);
        // An error the span says nothing more about still failed at the provider.
        classify(http, error_type).unwrap_or(Outcome::Http5xx)
    } else {
        Outcome::Ok
    };
    let total_ms = span
        .end_time_unix_nano
        .checked_sub(span.start_time_unix_nano)
        .map(|d| (d / 1_000_000).min(u64::from(u32::MAX)) as u32);
    let ttft_ms = [
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.server.time_to_first_token",
    ]
    .iter()
    .find_map(|k| double(a, k))
    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
    .map(|s| (s * 1000.0).round() as u32);
    out.rows.push(Observation {
        model_key: key.to_string(),
        source: source.to_string(),
        outcome,
        ttft_ms,
        total_ms,
        at: at.min(now + chrono::Duration::minutes(5)),
    });
}

fn nanos(n: u64) -> Option<DateTime<Utc>> {
    if n == 0 {
        return None;
    }
    Utc.timestamp_opt((n / 1_000_000_000) as i64, (n % 1_000_000_000) as u32)
        .single()
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match value(attributes, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match value(attributes, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

fn double(attributes: &[KeyValue], key: &str) -> Option<f64> {
    match value(attributes, key)? {
        any_value::Value::DoubleValue(d) => Some(*d),
        any_value::Value::IntValue(i) => Some(*i as f64),
        _ => None,
    }
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
