//! OTLP decoding and the span → observation rules, on exports written as the OTLP
//! specification's JSON encoding shows them (hex ids, 64-bit times as strings).

use super::*;

fn names() -> ModelNames {
    let text = r#"
[traffic.names]
"openai/gpt-4o-mini-2024-07-18" = "oai/gpt-4o-mini"

[[providers]]
id = "oai"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "K"
models = [{ id = "gpt-4o-mini" }]
"#;
    let config =
        crate::config::Config::parse(text, std::path::Path::new("t.toml"), &|_| Some("k".into()))
            .unwrap();
    ModelNames::new(&config)
}

/// 2026-12-04T12:00:00Z in nanoseconds.
const T0: u64 = 1_796_385_600_000_000_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 1, 0).unwrap()
}

fn export() -> String {
    let span = |name: &str, attrs: &str, status: &str, start: u64, end: u64| {
        format!(
            r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"{name}","kind":3,
               "startTimeUnixNano":"{start}","endTimeUnixNano":"{end}","attributes":[{attrs}],"status":{status}}}"#
        )
    };
    let s = |k: &str, v: &str| format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#);
    let ok = span(
        "chat gpt-4o-mini",
        &[
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            r#"{"key":"gen_ai.response.time_to_first_chunk","value":{"doubleValue":0.25}}"#.into(),
        ]
        .join(","),
        "{}",
        T0,
        T0 + 1_200_000_000,
    );
    let throttled = span(
        "chat",
        &[
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o-mini-2024-07-18"),
            s("error.type", "RateLimitError"),
        ]
        .join(","),
        r#"{"code":2,"message":"Rate limit reached"}"#,
        T0,
        T0 + 50_000_000,
    );
    let server_error = span(
        "chat",
        &[
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            r#"{"key":"http.response.status_code","value":{"intValue":"503"}}"#.into(),
            s("error.type", "overloaded_error"),
        ]
        .join(","),
        r#"{"code":2}"#,
        T0,
        T0 + 80_000_000,
    );
    let unrelated = span(
        "SELECT users",
        &s("db.system", "postgresql"),
        "{}",
        T0,
        T0 + 1,
    );
    let unknown = span(
        "chat",
        &[
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-9"),
        ]
        .join(","),
        "{}",
        T0,
        T0 + 1,
    );
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{}]}},
            "scopeSpans":[{{"scope":{{"name":"opentelemetry.instrumentation.openai"}},"spans":[{}]}}]}}]}}"#,
        s("service.name", "checkout"),
        [ok, throttled, server_error, unrelated, unknown].join(",")
    )
}

#[test]
fn gen_ai_spans_become_observations_and_others_are_ignored() {
    let request = decode(export().as_bytes(), Encoding::Json).unwrap();
    let c = convert(&request, &names(), now(), chrono::Duration::hours(1));
    type Row<'a> = (&'a str, &'a str, Outcome, Option<u32>, Option<u32>);
    let rows: Vec<Row> = c
        .rows
        .iter()
        .map(|o| {
            (
                o.model_key.as_str(),
                o.source.as_str(),
                o.outcome,
                o.ttft_ms,
                o.total_ms,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "oai/gpt-4o-mini",
                "checkout",
                Outcome::Ok,
                Some(250),
                Some(1200)
            ),
            (
                "oai/gpt-4o-mini",
                "checkout",
                Outcome::RateLimited,
                None,
                Some(50)
            ),
            (
                "oai/gpt-4o-mini",
                "checkout",
                Outcome::Overloaded,
                None,
                Some(80)
            ),
        ]
    );
    assert_eq!((c.ignored, c.rejected), (1, 1));
    assert_eq!(c.unknown_names, vec!["openai/gpt-9".to_string()]);
    let answer: serde_json::Value = serde_json::from_slice(&answer(&c, Encoding::Json)).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedSpans"],
        serde_json::json!(1),
        "{answer}"
    );
}

#[test]
fn protobuf_exports_decode_to_the_same_observations() {
    let request = decode(export().as_bytes(), Encoding::Json).unwrap();
    let bytes = request.encode_to_vec();
    let again = decode(&bytes, Encoding::Protobuf).unwrap();
    assert_eq!(again, request);
    let c = convert(&again, &names(), now(), chrono::Duration::hours(1));
    assert_eq!(c.rows.len(), 3);
    let answer =
        ExportTraceServiceResponse::decode(answer(&c, Encoding::Protobuf).as_slice()).unwrap();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
}

#[test]
fn garbage_truncated_and_empty_bodies_are_errors_not_panics() {
    let good = decode(export().as_bytes(), Encoding::Json)
        .unwrap()
        .encode_to_vec();
    for cut in [1, 7, good.len() / 2, good.len() - 1] {
        // Either an error or a (shorter) request: never a panic.
        let _ = decode(&good[..cut], Encoding::Protobuf);
    }
    assert!(decode(b"\xff\xff\xff\xff\xff", Encoding::Protobuf).is_err());
    assert!(decode(b"{\"resourceSpans\": 3}", Encoding::Json).is_err());
    assert!(decode(b"", Encoding::Json).is_err());
    let empty = decode(b"", Encoding::Protobuf).unwrap();
    assert!(convert(&empty, &names(), now(), chrono::Duration::hours(1))
        .rows
        .is_empty());
}
