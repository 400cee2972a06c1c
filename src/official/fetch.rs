//! One guarded, conditional GET of a published status document.
//!
//! The address is the operator's, not a stranger's, but a status URL is still a URL the
//! service fetches on its own: it goes through the same SSRF guard as webhooks (private and
//! loopback addresses need `[notify] allow_internal_targets`), connects to exactly the
//! address checked, follows no redirects and reads at most [`MAX_DOCUMENT_BYTES`]. It asks
//! with the last answer's `ETag` / `Last-Modified`, so an unchanged page costs a 304.

use std::time::Duration;

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use tokio::time::timeout_at;

use super::{Unreadable, MAX_DOCUMENT_BYTES};
use crate::notify::ssrf::AddressGuard;
use crate::notify::webhook::{pinned_client, root_cause};

const AGENT: &str = concat!("modelwatch/", env!("CARGO_PKG_VERSION"), " official-status");

/// The validators of the last answer, sent back to ask "changed since?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What one GET brought.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// 304: the document has not changed since `validators`.
    NotModified,
    /// 200: the body and its new validators.
    Body(Vec<u8>, Validators),
}

/// GETs `url` through `guard`, conditional on `known`, within `timeout` for everything.
pub async fn get(
    guard: &AddressGuard,
    url: &str,
    known: &Validators,
    timeout: Duration,
) -> Result<Fetched, Unreadable> {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        Unreadable(format!(
            "no answer within {}",
            humantime::format_duration(timeout)
        ))
    };
    let refused = |r: crate::notify::ssrf::Refusal| {
        Unreadable(format!("refused: {}", r.0.replacen("webhook URL ", "", 1)))
    };
    let parsed = guard.check_url(url).map_err(refused)?;
    let addr = timeout_at(deadline, guard.resolve(&parsed))
        .await
        .map_err(|_| timed_out())?
        .map_err(refused)?;
    let client = pinned_client(&parsed, addr, timeout, AGENT).map_err(|e| {
        Unreadable(format!(
            "could not set up the HTTP client: {}",
            root_cause(&e)
        ))
    })?;
    let mut request = client.get(parsed).header(
        "accept",
        "application/json, application/atom+xml, application/rss+xml, */*;q=0.5",
    );
    if let Some(etag) = &known.etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    if let Some(date) = &known.last_modified {
        request = request.header(IF_MODIFIED_SINCE, date);
    }
    let mut response = match timeout_at(deadline, request.send()).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
        Ok(Err(e)) if e.is_connect() => {
            return Err(Unreadable(format!(
                "could not connect to {addr}: {}",
                root_cause(&e)
            )))
        }
        Ok(Err(e)) => return Err(Unreadable(format!("request failed: {}", root_cause(&e)))),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if status.is_redirection() {
        return Err(Unreadable(format!(
            "HTTP {} redirect, not followed: configure the final address",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(Unreadable(format!("HTTP {}", status.as_u16())));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match timeout_at(deadline, response.chunk()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => {
                return Err(Unreadable(format!(
                    "reading the body failed: {}",
                    root_cause(&e)
                )))
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok(Fetched::Body(body, validators))
}

fn too_large() -> Unreadable {
    Unreadable(format!(
        "the document is larger than {} MiB",
        MAX_DOCUMENT_BYTES / (1024 * 1024)
    ))
}
