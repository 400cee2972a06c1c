//! Every refusal under `/api/v1` (the admin API included) in the one documented shape,
//! `{"error": {"status", "message"}}` ([`ApiError`]), whatever refused the request:
//!
//! - [`ApiPath`] and [`ApiQuery`]: `Path` and `Query` whose refusal (400) names the
//!   parameter and the value sent. They are ordinary extractors, so a handler lists them after
//!   its credentials and a caller without any gets 401, not a parse error;
//! - [`json_body`] and [`body_error`]: a body that is not the JSON expected (400), or larger
//!   than [`BODY_LIMIT`] (413);
//! - [`json_errors`]: the middleware around all of `/api/v1` that puts what axum answers by
//!   itself (405 with an empty body, plain-text rejections) into the shape;
//! - [`body_limit`]: 413 for routes that take a body without credentials.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Query, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest request body read: axum's default limit, which every body extractor applies.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Values quoted back in messages are cut to this many characters.
const QUOTED: usize = 100;

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::status(status, message)
}

fn quote(value: &str) -> String {
    value.chars().take(QUOTED).collect()
}

/// 413 for a request body over [`BODY_LIMIT`].
pub fn too_large() -> ApiError {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than the limit of {} MiB",
            BODY_LIMIT / (1024 * 1024)
        ),
    )
}

/// A JSON body, or the refusal: 413 when it is too large, else 400 saying what is wrong.
pub fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            error(
                StatusCode::BAD_REQUEST,
                format!("invalid JSON body: {}", e.body_text()),
            )
        }
    })
}

/// The refusal of a body that could not be read: 413 when it is too large.
pub fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        error(e.status(), e.body_text())
    }
}

/// What a value of a path parameter's type looks like, for messages.
fn describe(expected_type: &str) -> String {
    match expected_type {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "bool" => "true or false".into(),
        other => format!("a `{other}`"),
    }
}

/// A route and its path extractor disagree: our bug, answered as an internal error. (Only
/// the admin API takes [`ApiPath`] today, hence the wording of the log line.)
fn disagree(cause: String) -> ApiError {
    ApiError::internal("admin request failed", cause)
}

/// The refusal of path parameters that do not parse, naming the parameter (from the route's
/// `params`, in order) and the value sent.
pub fn path_error(params: &[(String, String)], rejection: PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(e) = rejection else {
        return disagree(rejection.body_text());
    };
    if e.status().is_server_error() {
        // A route and its extractor disagree: our bug, not the caller's.
        return disagree(e.body_text());
    }
    let name_of = |value: &str| {
        params
            .iter()
            .find(|(_, v)| v == value)
            .map(|(k, _)| k.as_str())
    };
    let bad = |name: Option<&str>, value: &str, expected: &str| match name {
        Some(name) => format!(
            "path parameter `{name}` must be {}, not `{}`",
            describe(expected),
            quote(value)
        ),
        None => format!(
            "a path parameter must be {}, not `{}`",
            describe(expected),
            quote(value)
        ),
    };
    let message = match e.into_kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => bad(Some(&key), &value, expected_type),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => {
            let name = params.get(index).map(|(k, _)| k.as_str());
            bad(name.or_else(|| name_of(&value)), &value, expected_type)
        }
        ErrorKind::ParseError {
            value,
            expected_type,
        } => bad(name_of(&value), &value, expected_type),
        ErrorKind::InvalidUtf8InPathParam { key } => {
            format!("path parameter `{key}` is not valid UTF-8 once percent-decoded")
        }
        ErrorKind::DeserializeError {
            key,
            value,
            message,
        } => format!("path parameter `{key}` = `{}`: {message}", quote(&value)),
        other => other.to_string(),
    };
    error(StatusCode::BAD_REQUEST, message)
}

/// The route's path parameters as sent (percent-decoded), in order.
async fn raw_params<S: Send + Sync>(parts: &mut Parts, state: &S) -> Vec<(String, String)> {
    RawPathParams::from_request_parts(parts, state)
        .await
        .map(|raw| {
            raw.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Path parameters; a value that does not parse is refused with a JSON error naming it.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_error(&raw_params(parts, state).await, rejection)),
        }
    }
}

/// The refusal of a query string that does not parse, naming the parameter and its value.
fn query_error(query: &str, rejection: &QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    // The deserializer names the failing parameter first: `limit: invalid digit found…`.
    let message = match detail.split_once(": ") {
        Some((key, why)) => {
            match form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == key) {
                Some((_, value)) => format!("query parameter `{key}` = `{}`: {why}", quote(&value)),
                None => format!("query parameter `{key}`: {why}"),
            }
        }
        None => format!("invalid query string: {detail}"),
    };
    error(StatusCode::BAD_REQUEST, message)
}

/// A query string; one that does not parse is refused with a JSON error naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e| query_error(parts.uri.query().unwrap_or(""), &e))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// Middleware around everything under `/api/v1`: an error answered in another form (axum's
/// own 405 with an empty body, plain-text extractor rejections) gets the JSON shape, with its
/// status and headers (`Allow`, `Retry-After`…) kept; a 405 names the allowed methods.
///
/// It is mounted with `nest_service` so that it sees the router's responses whole (axum adds
/// `Allow` outside any per-route layer); the routes inside are declared with their whole
/// paths, so the prefix that nesting strips is put back first.
pub async fn json_errors(mut req: axum::extract::Request, next: Next) -> Response {
    if let Some(OriginalUri(uri)) = req.extensions().get::<OriginalUri>() {
        *req.uri_mut() = uri.clone();
    }
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(res.headers()) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow: Vec<&str> = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        if allow.is_empty() {
            format!("{method} is not allowed here")
        } else {
            format!("{method} is not allowed here; use {}", allow.join(", "))
        }
    } else {
        let text = axum::body::to_bytes(body, 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text
        }
    };
    let (mut out, out_body) = error(status, message).into_response().into_parts();
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    headers.extend(out.headers);
    out.headers = headers;
    Response::from_parts(out, out_body)
}

/// Middleware for routes that take a body without credentials: a body over [`BODY_LIMIT`]
/// is refused (413, JSON) before the handler runs.
pub async fn body_limit(req: axum::extract::Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // A fresh request carries no `DefaultBodyLimit`, so axum applies its default: ours.
    match Bytes::from_request(axum::extract::Request::new(body), &()).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => body_error(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_name_the_parameter_and_its_value() {
        let uri: axum::http::Uri = "/x?limit=abc&before=1".parse().unwrap();
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<u32>,
            before: Option<i64>,
        }
        let e = Query::<Q>::try_from_uri(&uri).unwrap_err();
        let refused = query_error(uri.query().unwrap(), &e);
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused
                .message
                .starts_with("query parameter `limit` = `abc`: "),
            "{}",
            refused.message
        );
    }

    #[test]
    fn types_are_described_in_words() {
        assert_eq!(describe("i64"), "an integer");
        assert_eq!(describe("bool"), "true or false");
        assert_eq!(describe("Uuid"), "a `Uuid`");
    }
}
