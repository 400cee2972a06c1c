//! [`ApiError`], the one error of the JSON API (public and admin): a status, a message and,
//! when the refusal is about one input, the field it names.
//!
//! The policy, written once: a refusal of the caller's input says what was wrong and which
//! field; a failure of ours is logged with its cause and answered only "something went
//! wrong; try again later", so no internal detail leaks. Admin pages show the same status
//! and message as a page (`web::admin::page`). [`RetryLater`] is the same answer with
//! `Retry-After`, for a refusal that holds only for now.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API error: status, message, and the field it is about.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    /// A refusal with `status`, not about any one field.
    pub fn status(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// 422: the value of `field` cannot be accepted, for the reason in `message`.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: Some(field),
        }
    }

    /// 500 for a failure of ours: `cause` is logged (under `context`, which says which
    /// surface failed) and the caller learns nothing of it.
    pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        ApiError::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "something went wrong; try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "status": self.status.as_u16(), "message": self.message });
        if let Some(f) = self.field {
            error["field"] = json!(f);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// A refusal for now, to be tried again: 429 or 503 with `Retry-After` (a batch of traffic
/// over its rate or with the queue full, or what only the leader answers asked of a standby).
#[derive(Debug)]
pub struct RetryLater {
    pub status: StatusCode,
    pub seconds: u64,
    pub message: String,
}

/// [`RetryLater`]: `status`, and `message` saying what to do, after `seconds`.
pub fn retry_later(status: StatusCode, seconds: u64, message: impl Into<String>) -> RetryLater {
    RetryLater {
        status,
        seconds,
        message: message.into(),
    }
}

impl IntoResponse for RetryLater {
    fn into_response(self) -> Response {
        let mut response = ApiError::status(self.status, self.message).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.seconds));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (StatusCode, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn errors_name_their_field_and_hide_internal_causes() {
        let (status, json) = body(ApiError::field("url", "too long")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json,
            json!({ "error": { "status": 422, "message": "too long", "field": "url" } })
        );
        let (status, json) = body(ApiError::status(StatusCode::NOT_FOUND, "no such")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(json["error"].get("field").is_none(), "{json}");
        let (status, json) = body(ApiError::internal("test failed", "disk on fire")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!json.to_string().contains("disk"), "{json}");
    }
}
