//! Amazon Bedrock through the `ConverseStream` API, signed with SigV4.
//!
//! The response is not SSE but AWS event-stream binary framing: length-prefixed frames with
//! typed headers and two CRCs. Frames are decoded with `aws-smithy-eventstream` and requests
//! signed with `aws-sigv4`, the same code the AWS SDK uses, because hand-rolled signing and
//! framing are where subtle incompatibilities hide.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use super::overload;
use super::redact::scrub;
use super::stream::{self, event_too_large, HttpProbe, Signal, StreamDecoder};
use super::{Outcome, ProbeReport, ProbeTarget, Prober, MAX_EVENT_BYTES};
use crate::config::{Credentials, ModelConfig};

pub struct BedrockProber {
    client: reqwest::Client,
}

#[async_trait]
impl Prober for BedrockProber {
    async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let secrets = target.secrets();
        let request = match self.request(target) {
            Ok(r) => r,
            Err((outcome, e)) => return ProbeReport::failed(outcome, scrub(&e, &secrets)),
        };
        let probe = HttpProbe {
            client: &self.client,
            request,
            timeout: target.provider.timeout,
            request_id_headers: &["x-amzn-requestid"],
            classify_error,
            secrets: &secrets,
        };
        stream::run(probe, &mut EventStreamDecoder::default()).await
    }
}

impl BedrockProber {
    pub fn new(client: reqwest::Client) -> Self {
        BedrockProber { client }
    }

    /// Builds the signed request, or the outcome and message of why it cannot be built.
    fn request(&self, target: &ProbeTarget) -> Result<reqwest::Request, (Outcome, String)> {
        let provider = &target.provider;
        let model = encode_path_segment(&target.model.id);
        let url = format!("{}/model/{model}/converse-stream", provider.base_url);
        // Sign exactly the URL that will be sent: parse first, then sign its serialization.
        let url = reqwest::Url::parse(&url)
            .map_err(|e| (Outcome::BadRequest, format!("invalid request URL: {e}")))?;
        let body = request_body(&target.model).to_string().into_bytes();
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/vnd.amazon.eventstream"),
        ];
        for (name, value) in &provider.headers {
            headers.push((name, value));
        }
        let (credentials, now) = (&provider.credentials, SystemTime::now());
        let signed = sign_request(credentials, url.as_str(), &headers, &body, now);
        let signed = signed.map_err(|e| (Outcome::Auth, e))?;
        let mut builder = self.client.post(url).body(body);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        builder
            .headers(signed)
            .build()
            .map_err(|e| (Outcome::BadRequest, format!("cannot build request: {e}")))
    }
}

/// The ConverseStream request: one user turn and the output budget.
pub fn request_body(model: &ModelConfig) -> Value {
    json!({
        "messages": [{ "role": "user", "content": [{ "text": model.prompt }] }],
        "inferenceConfig": { "maxTokens": model.max_tokens },
    })
}

/// Percent-encodes one path segment the way AWS does: every byte but the RFC 3986 unreserved
/// characters. Model ids contain `:` (`…-v1:0`) and ARNs contain `/`, both of which must be
/// escaped. The signer encodes the sent path once more for the canonical URI, as SigV4
/// requires for every service but S3.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Signs a POST of `body` to `url` with `headers` for the `bedrock` service and returns the
/// headers to add (`authorization`, `x-amz-date`, and `x-amz-security-token` for temporary
/// credentials), marked sensitive so they never show in debug output.
fn sign_request(
    credentials: &Credentials,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<HeaderMap, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4::SigningParams;

    let Credentials::Aws {
        access_key_id,
        secret_access_key,
        session_token,
        region,
    } = credentials
    else {
        return Err("bedrock credentials missing".into());
    };
    let token = session_token.as_ref().map(|t| t.expose().to_string());
    let (key, secret) = (access_key_id.as_str(), secret_access_key.expose());
    let identity =
        aws_credential_types::Credentials::new(key, secret, token, None, "config").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign request: {e}"))?
        .into();
    let body = SignableBody::Bytes(body);
    let signed = SignableRequest::new("POST", url, headers.iter().copied(), body)
        .and_then(|request| sign(request, &params))
        .map_err(|e| format!("cannot sign request: {e}"))?;
    let mut out = HeaderMap::new();
    for header in signed.into_parts().0.into_parts().0 {
        let name = HeaderName::from_static(header.name());
        let mut value =
            HeaderValue::from_str(header.value()).map_err(|e| format!("{}: {e}", header.name()))?;
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        out.insert(name, value);
    }
    Ok(out)
}

/// The `message` (or `Message`) string of a Bedrock JSON error.
fn message_of(json: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(json).ok()?;
    v.get("message")
        .or_else(|| v.get("Message"))?
        .as_str()
        .map(str::to_string)
}

/// Classifies a non-2xx response; Bedrock's error bodies are `{"message": "..."}` (or
/// `Message`), with the exception type in a header the status already reflects.
fn classify_error(status: u16, body: &str) -> (Outcome, String) {
    let message = message_of(body.as_bytes()).unwrap_or_else(|| body.trim().to_string());
    let outcome = match status {
        // 424 ModelErrorException: the model itself failed while processing.
        424 => Outcome::Http5xx,
        s => Outcome::from_status(s),
    };
    (overload::refine(outcome, &message), message)
}

/// The class of an exception reported inside the stream.
fn exception_outcome(kind: &str) -> Outcome {
    match kind {
        "throttlingException" => Outcome::RateLimited,
        "validationException" => Outcome::BadRequest,
        "accessDeniedException" => Outcome::Auth,
        "modelTimeoutException" => Outcome::Timeout,
        // serviceUnavailable, internalServer, modelStreamError, modelNotReady and anything new.
        _ => Outcome::Http5xx,
    }
}

/// Decodes event-stream frames from arbitrary chunks.
#[derive(Default)]
struct EventStreamDecoder {
    buf: BytesMut,
    frames: MessageFrameDecoder,
    /// Bytes of the current frame already taken out of `buf` by the frame decoder (its prelude).
    partial: usize,
    saw_text: bool,
    failed: bool,
}

fn malformed(message: impl Into<String>) -> Signal {
    Signal::Fail(Outcome::Malformed, message.into())
}

impl EventStreamDecoder {
    /// The signal of one decoded message, if it carries one.
    fn message(&mut self, msg: &Message) -> Option<Signal> {
        let header = |name: &str| {
            let h = msg.headers().iter().find(|h| h.name().as_str() == name)?;
            h.value().as_string().ok().map(|s| s.as_str().to_string())
        };
        let payload = serde_json::from_slice::<Value>(msg.payload()).ok();
        let text_at = |pointer: &str| {
            payload
                .as_ref()?
                .pointer(pointer)?
                .as_str()
                .map(str::to_string)
        };
        match header(":message-type").as_deref() {
            Some("event") => match header(":event-type").as_deref() {
                // Reasoning deltas (`delta.reasoningContent`) are not the answer.
                Some("contentBlockDelta") if payload.is_none() => {
                    Some(malformed("contentBlockDelta with invalid JSON"))
                }
                Some("contentBlockDelta") => text_at("/delta/text").map(|text| {
                    self.saw_text |= !text.is_empty();
                    Signal::Text(text)
                }),
                Some("messageStop") if self.saw_text => Some(Signal::Done),
                Some("messageStop") => {
                    let reason = text_at("/stopReason").unwrap_or_else(|| "unknown".into());
                    Some(Signal::Fail(
                        Outcome::Empty,
                        format!("stopReason {reason} without any text"),
                    ))
                }
                // messageStart, contentBlockStart/Stop, metadata: nothing to measure.
                _ => None,
            },
            Some("exception") => {
                let kind = header(":exception-type").unwrap_or_else(|| "unknown".into());
                let message = message_of(msg.payload())
                    .unwrap_or_else(|| String::from_utf8_lossy(msg.payload()).into_owned());
                let description = format!("{kind}: {message}");
                let outcome = overload::refine(exception_outcome(&kind), &description);
                Some(Signal::Fail(outcome, description))
            }
            Some("error") => {
                let code = header(":error-code").unwrap_or_default();
                let message = header(":error-message").unwrap_or_default();
                let description = format!("{code}: {message}");
                let outcome = overload::refine(Outcome::Http5xx, &description);
                Some(Signal::Fail(outcome, description))
            }
            other => Some(malformed(format!(
                "unexpected event-stream message type {other:?}"
            ))),
        }
    }
}

impl StreamDecoder for EventStreamDecoder {
    fn feed(&mut self, chunk: &[u8]) -> Vec<Signal> {
        // After a bad frame the stream cannot be resynchronized; the failure was reported.
        if self.failed {
            return Vec::new();
        }
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            let before = self.buf.len();
            let decoded = self.frames.decode_frame(&mut self.buf);
            self.partial += before - self.buf.len();
            match decoded {
                // `partial` now counts the whole frame: one larger than an event may be
                // fails even when it arrived complete in one chunk, as an SSE event would.
                Ok(DecodedFrame::Complete(_)) if self.partial > MAX_EVENT_BYTES => {
                    self.failed = true;
                    out.push(event_too_large());
                    return out;
                }
                Ok(DecodedFrame::Complete(msg)) => {
                    self.partial = 0;
                    out.extend(self.message(&msg));
                }
                Ok(DecodedFrame::Incomplete) => break,
                Err(e) => {
                    self.failed = true;
                    out.push(malformed(format!("invalid event-stream frame: {e}")));
                    return out;
                }
            }
        }
        // A frame is one event: bounded like an SSE event, so a frame whose prelude promises
        // gigabytes cannot make the decoder buffer them.
        if self.partial + self.buf.len() > MAX_EVENT_BYTES {
            self.failed = true;
            out.push(event_too_large());
        }
        out
    }

    fn finish(&mut self) -> Vec<Signal> {
        // The frame decoder keeps a started frame's prelude itself, hence `partial`.
        if !self.failed && (self.partial > 0 || !self.buf.is_empty()) {
            return vec![malformed("stream ended inside an event-stream frame")];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::{Header, HeaderValue as Hv};

    fn frame(kind: &'static str, name: &'static str, payload: &str) -> Vec<u8> {
        let type_header = format!(":{kind}-type");
        let msg = Message::new(payload.as_bytes().to_vec())
            .add_header(Header::new(":message-type", Hv::String(kind.into())))
            .add_header(Header::new(type_header, Hv::String(name.into())));
        let mut out = Vec::new();
        write_message_to(&msg, &mut out).unwrap();
        out
    }

    fn delta(text: &str) -> Vec<u8> {
        frame(
            "event",
            "contentBlockDelta",
            &json!({ "delta": { "text": text } }).to_string(),
        )
    }

    #[test]
    fn signature_names_key_date_region_service_and_hides_secret() {
        let creds = Credentials::Aws {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("SECRETKEY/abc+xyz"),
            session_token: Some(Secret::new("TOKEN123")),
            region: "eu-west-1".into(),
        };
        // 2024-01-02T03:04:05Z
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645);
        let model = encode_path_segment("a.b-v1:0/x~");
        assert_eq!(model, "a.b-v1%3A0%2Fx~");
        let url = format!(
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/{model}/converse-stream"
        );
        let json = [("content-type", "application/json")];
        let headers = sign_request(&creds, &url, &json, b"{}", time).unwrap();
        let auth = headers[http::header::AUTHORIZATION].to_str().unwrap();
        let prefix = "AWS4-HMAC-SHA256 Credential=AKID/20240102/eu-west-1/bedrock/aws4_request, ";
        assert!(auth.starts_with(prefix), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(headers["x-amz-date"], "20240102T030405Z");
        assert_eq!(headers["x-amz-security-token"], "TOKEN123");
        assert!(headers
            .values()
            .all(|v| !v.to_str().unwrap().contains("SECRETKEY")));
        // The path is part of what is signed.
        let other = sign_request(&creds, &url.replace("%3A0", "%3A1"), &[], b"{}", time).unwrap();
        assert_ne!(
            other[http::header::AUTHORIZATION],
            headers[http::header::AUTHORIZATION]
        );
        let missing = sign_request(&Credentials::None, &url, &[], b"{}", time);
        assert_eq!(missing.unwrap_err(), "bedrock credentials missing");
    }

    #[test]
    fn frames_split_anywhere_decode_to_text_and_done() {
        let mut bytes = frame("event", "messageStart", r#"{"role":"assistant"}"#);
        bytes.extend(delta("o"));
        bytes.extend(delta("k"));
        bytes.extend(frame(
            "event",
            "messageStop",
            r#"{"stopReason":"end_turn"}"#,
        ));
        let mut d = EventStreamDecoder::default();
        // One byte at a time: the hardest split for the prelude bookkeeping.
        let signals: Vec<Signal> = bytes.chunks(1).flat_map(|c| d.feed(c)).collect();
        let want = [
            Signal::Text("o".into()),
            Signal::Text("k".into()),
            Signal::Done,
        ];
        assert_eq!(signals, want);
        assert!(d.finish().is_empty());
    }

    #[test]
    fn exceptions_bad_crc_and_truncation_fail() {
        let throttled = frame(
            "exception",
            "throttlingException",
            r#"{"message":"slow down"}"#,
        );
        let signals = EventStreamDecoder::default().feed(&throttled);
        let want = Signal::Fail(
            Outcome::RateLimited,
            "throttlingException: slow down".into(),
        );
        assert_eq!(signals, [want]);

        let mut corrupt = delta("o");
        *corrupt.last_mut().unwrap() ^= 0xff;
        let signals = EventStreamDecoder::default().feed(&corrupt);
        assert!(
            matches!(&signals[..], [Signal::Fail(Outcome::Malformed, m)] if m.contains("frame"))
        );

        let whole = delta("o");
        for cut in [5, 12, whole.len() - 1] {
            let mut d = EventStreamDecoder::default();
            assert!(d.feed(&whole[..cut]).is_empty());
            let end = d.finish();
            assert!(
                matches!(&end[..], [Signal::Fail(Outcome::Malformed, _)]),
                "cut at {cut}"
            );
        }
        let denied = classify_error(403, r#"{"Message":"denied"}"#);
        assert_eq!(denied, (Outcome::Auth, "denied".into()));
    }

    #[test]
    fn frames_past_the_event_limit_fail() {
        // Slightly too large and complete in one chunk; twice too large, arriving in parts
        // (it fails once 1 MiB of it is buffered, never holding the rest).
        for (size, chunk) in [
            (MAX_EVENT_BYTES + 1024, usize::MAX),
            (2 * MAX_EVENT_BYTES, 64 << 10),
        ] {
            let huge = frame("event", "contentBlockDelta", &"x".repeat(size));
            let mut d = EventStreamDecoder::default();
            let signals: Vec<Signal> = huge.chunks(chunk).flat_map(|c| d.feed(c)).collect();
            assert_eq!(signals, [event_too_large()], "one failure, then nothing");
            assert!(d.finish().is_empty());
        }
    }

    #[test]
    fn overload_exceptions_are_overloaded() {
        let busy = frame(
            "exception",
            "serviceUnavailableException",
            r#"{"message":"The model is overloaded, try again later"}"#,
        );
        let signals = EventStreamDecoder::default().feed(&busy);
        assert!(matches!(
            &signals[..],
            [Signal::Fail(Outcome::Overloaded, _)]
        ));
        let down = frame(
            "exception",
            "serviceUnavailableException",
            r#"{"message":"Bedrock is unable to process your request."}"#,
        );
        let signals = EventStreamDecoder::default().feed(&down);
        assert!(matches!(&signals[..], [Signal::Fail(Outcome::Http5xx, _)]));
        let throttled = classify_error(429, r#"{"message":"Too many requests, overloaded"}"#);
        assert_eq!(throttled.0, Outcome::RateLimited);
        let unavailable = classify_error(503, r#"{"message":"Service overloaded"}"#);
        assert_eq!(unavailable.0, Outcome::Overloaded);
    }
}
