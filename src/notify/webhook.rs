//! One webhook delivery attempt: check, resolve, connect to exactly the checked address, POST.
//!
//! The target URL is the subscriber's choice, so each attempt re-runs the SSRF guard (DNS
//! answers change between subscription and delivery) and builds its own client pinned to the
//! address the guard approved: a name cannot resolve to one address for the check and another
//! for the connection. Redirects are never followed (a 3xx could point anywhere, including
//! the metadata service), and proxies from the environment are ignored (a proxy would connect
//! on our behalf to an address nobody checked).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use tokio::time::timeout_at;

use super::ssrf::AddressGuard;

/// What one attempt did, for the delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub duration_ms: u32,
    /// Why it failed (refused address, timeout, non-2xx…); `None` on success.
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The most of a response body that is read (and dropped): enough for a receiver to finish
/// answering cleanly, bounded so a hostile receiver cannot make us read forever.
pub const RESPONSE_READ_LIMIT: usize = 64 * 1024;

/// A resolver that resolves nothing. The checked address is supplied with `resolve()`; any
/// other lookup would be an address the guard never saw, so it fails instead.
struct NoLookups;

impl reqwest::dns::Resolve for NoLookups {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            Err("webhooks connect only to the address the SSRF guard checked".into())
        })
    }
}

/// POSTs `body` to `url`: resolves and checks the address again (DNS can change), connects to
/// exactly that address, never follows redirects, and gives up after `timeout`.
pub async fn post(
    guard: &AddressGuard,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let started = Instant::now();
    let (status_code, error) = attempt(guard, url, headers, content_type, body, timeout).await;
    Attempt {
        status_code,
        duration_ms: started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32,
        error,
    }
}

async fn attempt(
    guard: &AddressGuard,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> (Option<u16>, Option<String>) {
    // One deadline for DNS, connection, request and response alike.
    let deadline = tokio::time::Instant::now() + timeout;
    let sent = send(guard, url, headers, content_type, body, timeout, deadline).await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return (None, Some(e)),
    };
    let status = response.status();
    // Read (and drop) a bounded amount of the answer so the receiver can finish cleanly; what
    // it says is not stored, and a receiver that stalls here has already given its status.
    let mut read = 0;
    while read < RESPONSE_READ_LIMIT {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => read += chunk.len(),
            _ => break,
        }
    }
    let error = if status.is_success() {
        None
    } else if status.is_redirection() {
        Some(format!(
            "HTTP {} redirect, not followed: a webhook must answer 2xx itself",
            status.as_u16()
        ))
    } else {
        Some(format!("HTTP {}", status.as_u16()))
    };
    (Some(status.as_u16()), error)
}

/// Everything up to the response's status: the guard, the pinned client and the request.
async fn send(
    guard: &AddressGuard,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    timeout: Duration,
    deadline: tokio::time::Instant,
) -> Result<reqwest::Response, String> {
    let timed_out = || format!("timed out after {} ms", timeout.as_millis());
    let parsed = guard.check_url(url).map_err(|r| r.0)?;
    let addr = timeout_at(deadline, guard.resolve(&parsed))
        .await
        .map_err(|_| format!("{} resolving the host", timed_out()))?
        .map_err(|r| r.0)?;
    let headers = header_map(headers, content_type)?;
    let client = pinned_client(&parsed, addr, timeout, WEBHOOK_AGENT)
        .map_err(|e| format!("could not set up the HTTP client: {}", root_cause(&e)))?;
    let request = client
        .post(parsed)
        .headers(headers)
        .body(body.to_vec())
        .send();
    match timeout_at(deadline, request).await {
        Ok(Ok(response)) => Ok(response),
        Err(_) => Err(timed_out()),
        Ok(Err(e)) if e.is_timeout() => Err(timed_out()),
        Ok(Err(e)) if e.is_connect() => {
            Err(format!("could not connect to {addr}: {}", root_cause(&e)))
        }
        Ok(Err(e)) => Err(format!("request to {addr} failed: {}", root_cause(&e))),
    }
}

/// The request headers; a bad one is named, its value never shown (it may be a signature).
fn header_map(headers: &[(String, String)], content_type: &str) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name `{name}`"))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| format!("invalid value for header `{name}`"))?;
        map.append(n, v);
    }
    let ct = HeaderValue::from_str(content_type).map_err(|_| "invalid content type".to_string())?;
    map.insert(CONTENT_TYPE, ct);
    Ok(map)
}

const WEBHOOK_AGENT: &str = concat!("modelwatch/", env!("CARGO_PKG_VERSION"), " webhooks");

/// A client for one request, bound to `addr` (the address the guard checked) for the URL's
/// host: no other lookup, no redirects, no proxies. Official status polls use it too.
pub(crate) fn pinned_client(
    url: &reqwest::Url,
    addr: SocketAddr,
    timeout: Duration,
    user_agent: &str,
) -> reqwest::Result<reqwest::Client> {
    let host = url.host_str().unwrap_or_default();
    reqwest::Client::builder()
        .resolve(host, addr)
        .dns_resolver(Arc::new(NoLookups))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        // The client lives for one request: keeping its connection would only leak it.
        .pool_max_idle_per_host(0)
        .user_agent(user_agent)
        .build()
}

/// The innermost cause (e.g. "Connection refused (os error 111)"), short; reqwest's own
/// message would repeat the URL, which may carry a token in its path or query.
pub(crate) fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(199).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers_are_named_without_their_values() {
        let bad = [(
            "webhook-signature".to_string(),
            "v1,secret\nInjected: yes".to_string(),
        )];
        let e = header_map(&bad, "application/json").unwrap_err();
        assert_eq!(e, "invalid value for header `webhook-signature`");
        let ok = header_map(&[("webhook-id".into(), "msg_1".into())], "application/json").unwrap();
        assert_eq!(ok["content-type"], "application/json");
        assert_eq!(ok["webhook-id"], "msg_1");
    }

    #[tokio::test]
    async fn refused_targets_make_no_request() {
        let guard = AddressGuard::default();
        let a = post(
            &guard,
            "http://10.0.0.1/hook",
            &[],
            "application/json",
            b"{}",
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(a.status_code, None);
        assert!(
            a.error
                .as_deref()
                .unwrap()
                .contains("private address (10.0.0.0/8)"),
            "{a:?}"
        );
        assert!(!a.succeeded());
    }
}
