//! Rendered bodies and how they are served: once per snapshot, precompressed, with ETags.
//!
//! A [`Site`] maps a path to a [`Body`] rendered from one [`PublicSnapshot`] (each model's
//! own bodies are rendered on their first request, by [`ModelBodies`]): identity
//! bytes, a weak ETag from the content, a content type, and gzip and brotli bytes made on
//! the first request that asks for them. Serving is a map lookup plus header negotiation;
//! no rendering, no database, no allocation per request beyond the response headers (and
//! one compression per body and encoding, and one read and rendering per model and
//! version for a model's own bodies).
//!
//! Compressing is most of a publish's CPU, and with many models most bodies (a thousand
//! model pages) are not asked for before the next publish replaces them, so compression is
//! lazy; a body whose bytes did not change since the previous site is carried over whole,
//! with whatever it has already compressed. Lookups use the path only (plus a validated `period`
//! parameter), so query strings and odd headers can never add cache entries or grow memory.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::model_bodies::ModelBodies;
use super::snapshot::PublicSnapshot;

/// One rendered body, as a renderer produces it.
pub struct Rendered {
    /// Path (and, for parameterised views, `?period=…`) it is served at.
    pub path: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Rendered {
    pub fn json(path: impl Into<String>, value: &impl serde::Serialize) -> Rendered {
        Rendered {
            path: path.into(),
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }

    pub fn html(path: impl Into<String>, body: String) -> Rendered {
        Rendered {
            path: path.into(),
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
        }
    }
}

/// A body ready to serve, compressed on demand.
#[derive(Debug)]
pub struct Body {
    pub content_type: HeaderValue,
    pub etag: HeaderValue,
    pub identity: Bytes,
    /// Made by the first request accepting gzip; empty for bodies too small to compress.
    gzip: OnceLock<Bytes>,
    /// Made by the first request accepting brotli; empty for bodies too small to compress.
    br: OnceLock<Bytes>,
}

/// Smaller bodies are not worth compressing (and some clients mishandle tiny gzip bodies).
const COMPRESS_MIN: usize = 256;

impl Body {
    pub fn new(content_type: &'static str, bytes: Vec<u8>) -> Body {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        // A weak validator: the same content has the same tag in every encoding.
        let etag = HeaderValue::from_str(&format!("W/\"{:016x}\"", hasher.finish()))
            .unwrap_or(HeaderValue::from_static("W/\"0\""));
        Body {
            content_type: HeaderValue::from_static(content_type),
            etag,
            identity: Bytes::from(bytes),
            gzip: OnceLock::new(),
            br: OnceLock::new(),
        }
    }

    /// The gzip bytes (compressed on the first call), or empty for a small body.
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            if self.identity.len() >= COMPRESS_MIN {
                gzip(&self.identity)
            } else {
                Bytes::new()
            }
        })
    }

    /// The brotli bytes (compressed on the first call), or empty for a small body.
    pub fn br(&self) -> &Bytes {
        self.br.get_or_init(|| {
            if self.identity.len() >= COMPRESS_MIN {
                brotli(&self.identity)
            } else {
                Bytes::new()
            }
        })
    }

    /// Whether the body is worth compressing at all.
    fn compressible(&self) -> bool {
        self.identity.len() >= COMPRESS_MIN
    }
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().map(Bytes::from).unwrap_or_default()
}

fn brotli(bytes: &[u8]) -> Bytes {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        ..Default::default()
    };
    match brotli::BrotliCompress(&mut &bytes[..], &mut out, &params) {
        Ok(_) => Bytes::from(out),
        Err(_) => Bytes::new(),
    }
}

/// Every public body of one snapshot version.
#[derive(Debug, Default)]
pub struct Site {
    pub version: u64,
    pub generated_at: Option<DateTime<Utc>>,
    pub bodies: HashMap<String, Arc<Body>>,
    /// Each model's own bodies, rendered when first asked for (set by the publisher).
    pub models: Option<Arc<ModelBodies>>,
}

/// A renderer turns a snapshot into bodies; each public surface has one.
pub type Renderer = fn(&PublicSnapshot) -> Vec<Rendered>;

impl Site {
    /// Renders every body of `snapshot`, keeping `previous`'s body (and its compressed
    /// bytes) wherever the new bytes are the same.
    pub fn render(
        snapshot: &PublicSnapshot,
        renderers: &[Renderer],
        previous: Option<&Site>,
    ) -> Site {
        let mut bodies: HashMap<String, Arc<Body>> = HashMap::new();
        // The body just made, so a path serving the same bytes (`/` and `/index.html`)
        // shares it, and its compression, instead of holding a copy.
        let mut last: Option<Arc<Body>> = None;
        for r in renderers.iter().flat_map(|r| r(snapshot)) {
            let same =
                |b: &&Arc<Body>| b.identity[..] == r.body[..] && b.content_type == r.content_type;
            let kept = last
                .as_ref()
                .filter(same)
                .or_else(|| previous.and_then(|p| p.bodies.get(&r.path)).filter(same))
                .cloned();
            let body = kept.unwrap_or_else(|| Arc::new(Body::new(r.content_type, r.body)));
            last = Some(Arc::clone(&body));
            bodies.insert(r.path, body);
        }
        Site {
            version: snapshot.version,
            generated_at: Some(snapshot.generated_at),
            bodies,
            models: None,
        }
    }
}

/// The site as handlers see it: replaced whole by the publisher.
pub type SiteHandle = watch::Receiver<Arc<Site>>;

/// Parameters a view may take, with their allowed values.
const PERIODS: [&str; 3] = ["24h", "7d", "30d"];

/// Serves any GET or HEAD from the current site.
pub async fn serve(State(site): State<SiteHandle>, request: Request) -> Response {
    // Read by reference: the hot path under outage traffic copies no header map or URI.
    let (method, uri, headers) = (request.method(), request.uri(), request.headers());
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let path = uri.path();
    let period = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("period=")));
    if let Some(p) = period {
        if !PERIODS.contains(&p) {
            return not_found_or_bad(
                path,
                StatusCode::BAD_REQUEST,
                &format!(
                    "parameter `period` must be one of 24h, 7d, 30d, not `{}`",
                    truncate(p)
                ),
            );
        }
    }
    let site = Arc::clone(&site.borrow());
    let with_period = period.map(|p| format!("{path}?period={p}"));
    let mut body = with_period
        .as_ref()
        .and_then(|k| site.bodies.get(k).cloned())
        .or_else(|| site.bodies.get(path).cloned());
    if body.is_none() {
        if let Some(models) = &site.models {
            body = models.body(path, with_period.as_deref()).await;
        }
    }
    let Some(body) = body else {
        return not_found_or_bad(path, StatusCode::NOT_FOUND, &missing(path));
    };
    respond(&body, headers, method == Method::HEAD)
}

/// Builds the response for `body`, honouring If-None-Match and Accept-Encoding.
pub fn respond(body: &Body, headers: &HeaderMap, head: bool) -> Response {
    // Every header value is static or already made per body: the hot path under outage
    // traffic parses and allocates no header value. The security headers are the caller's
    // (both callers, the router's layer and the front door, set them with one function).
    let mut response = Response::new(AxumBody::empty());
    let out = response.headers_mut();
    out.reserve(10);
    out.insert(header::ETAG, body.etag.clone());
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=5, stale-while-revalidate=30"),
    );
    out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (bytes, encoding) = if body.compressible() && accepts(accept, "br") {
        (body.br().clone(), Some("br"))
    } else if body.compressible() && accepts(accept, "gzip") {
        (body.gzip().clone(), Some("gzip"))
    } else {
        (body.identity.clone(), None)
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == "*" || weak_eq(t.trim(), &body.etag))
        });
    if not_modified || head {
        // No body, but the length the 200 would have: a 304 may only carry that one
        // (RFC 9110 §8.6), and without it a router layer would add a wrong `0`.
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    if not_modified {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    out.insert(header::CONTENT_TYPE, body.content_type.clone());
    if let Some(e) = encoding {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    if !head {
        // hyper writes Content-Length from the body's exact length.
        *response.body_mut() = AxumBody::from(bytes);
    }
    response
}

/// Weak comparison (RFC 9110 §8.8.3.2): tags match ignoring the `W/` prefix.
fn weak_eq(a: &str, b: &HeaderValue) -> bool {
    strip_weak(a.as_bytes()) == strip_weak(b.as_bytes())
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// True when `accept` lists `coding` without `q=0`.
fn accepts(accept: &str, coding: &str) -> bool {
    accept.split(',').any(|part| {
        let mut pieces = part.trim().split(';');
        let name = pieces.next().unwrap_or("").trim();
        let refused = pieces.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// JSON errors under `/api/`, a short HTML page elsewhere.
/// What a 404 says: the model or incident the path names, and where the real ones are
/// listed, when the path has that shape; else the path itself.
fn missing(path: &str) -> String {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["", "api", "v1", "models", provider, model, ..] | ["", "models", provider, model, ..] => {
            format!(
                "no model `{}/{}`; /api/v1/models lists every model",
                truncate(provider),
                truncate(model)
            )
        }
        ["", "api", "v1", "incidents", id, ..] | ["", "incidents", id, ..] => format!(
            "no incident `{}`; /api/v1/incidents lists them",
            truncate(id)
        ),
        _ => format!("nothing at `{}`", truncate(path)),
    }
}

pub fn not_found_or_bad(path: &str, status: StatusCode, message: &str) -> Response {
    if path.starts_with("/api/") {
        let body =
            serde_json::json!({ "error": { "status": status.as_u16(), "message": message } });
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    } else {
        let escaped = message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body><main><h1>{}</h1><p>{escaped}</p><p><a href=\"/\">Back to the status page</a></p></main></body></html>",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_or_incident_is_named() {
        assert_eq!(
            missing("/api/v1/models/anthropic/nope/history"),
            "no model `anthropic/nope`; /api/v1/models lists every model"
        );
        assert_eq!(
            missing("/models/anthropic/nope"),
            "no model `anthropic/nope`; /api/v1/models lists every model"
        );
        assert_eq!(
            missing("/api/v1/incidents/999"),
            "no incident `999`; /api/v1/incidents lists them"
        );
        assert_eq!(
            missing("/api/v2/nope.json"),
            "nothing at `/api/v2/nope.json`"
        );
    }

    #[test]
    fn encodings_are_negotiated() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn a_304_and_a_head_carry_the_length_the_200_would_have() {
        let body = Body::new("text/plain", "hello ".repeat(100).into_bytes());
        let length = |r: &Response| r.headers()[header::CONTENT_LENGTH].clone();
        let mut asked = HeaderMap::new();
        asked.insert(header::IF_NONE_MATCH, body.etag.clone());
        let not_modified = respond(&body, &asked, false);
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        // Never `0`: RFC 9110 §8.6 allows only the 200's own length.
        assert_eq!(length(&not_modified), body.identity.len().to_string());
        asked.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br"));
        let in_brotli = respond(&body, &asked, true);
        assert_eq!(in_brotli.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(length(&in_brotli), body.br().len().to_string());
        let head = respond(&body, &HeaderMap::new(), true);
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(length(&head), body.identity.len().to_string());
    }

    #[test]
    fn bodies_compress_and_tag_by_content() {
        let a = Body::new("text/plain", "hello ".repeat(100).into_bytes());
        let b = Body::new("text/plain", "hello ".repeat(100).into_bytes());
        assert_eq!(a.etag, b.etag);
        assert!(a.gzip.get().is_none(), "compressed only when asked for");
        assert!(a.gzip().len() < a.identity.len() && a.br().len() < a.identity.len());
        let c = Body::new("text/plain", b"tiny".to_vec());
        assert!(c.gzip().is_empty(), "tiny bodies are served as they are");
    }

    #[test]
    fn unchanged_bodies_are_carried_over_with_their_compression() {
        fn one(_: &PublicSnapshot) -> Vec<Rendered> {
            vec![Rendered::html("/a", "same ".repeat(100))]
        }
        let snapshot = PublicSnapshot {
            version: 1,
            generated_at: Utc::now(),
            page_name: "modelwatch".into(),
            base_url: "http://127.0.0.1".into(),
            providers: Vec::new(),
            incidents: Vec::new(),
            maintenances: Vec::new(),
            official: Default::default(),
            stale_since: None,
        };
        let first = Site::render(&snapshot, &[one], None);
        let br = first.bodies["/a"].br().clone();
        let second = Site::render(&snapshot, &[one], Some(&first));
        assert!(Arc::ptr_eq(&first.bodies["/a"], &second.bodies["/a"]));
        fn twice(_: &PublicSnapshot) -> Vec<Rendered> {
            vec![
                Rendered::html("/", "page ".repeat(100)),
                Rendered::html("/index.html", "page ".repeat(100)),
            ]
        }
        let site = Site::render(&snapshot, &[twice], None);
        assert!(Arc::ptr_eq(&site.bodies["/"], &site.bodies["/index.html"]));
        assert_eq!(second.bodies["/a"].br.get(), Some(&br));
    }
}
