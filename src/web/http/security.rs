//! Security headers, set once for every response by surface, so no handler (or error page,
//! or a refusal axum writes by itself) can forget them.
//!
//! | surface | headers |
//! |---|---|
//! | every response | `X-Content-Type-Options: nosniff`, `Referrer-Policy` |
//! | HTML | `Content-Security-Policy` ([`PAGE_CSP`]): own scripts and styles only |
//! | pages with forms (`/subscribe`, `/subscriptions/…`, `/admin…`) | also `frame-ancestors 'none'` and `X-Frame-Options: DENY` (no clickjacking) |
//! | SVG (badges) | a CSP that runs nothing: an SVG opened directly is a document |
//! | admin (`/admin…`, `/api/v1/admin…`) | `Cache-Control: no-store`, whatever the handler set: answers carry tokens |
//!
//! The read-only status pages may still be framed: teams embed their status page, and a page
//! without a form offers nothing to click on a victim's behalf.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use super::origin::{refuse_cross_site, SiteOrigin};

/// The Content-Security-Policy of every HTML page: nothing but its own stylesheet, script
/// and images, so an injected tag that slipped past escaping could load or run nothing.
pub const PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// [`PAGE_CSP`] for pages that must never be framed.
pub const FORM_PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// An SVG runs no script and loads nothing; its own `<style>` may apply.
pub const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// Which headers a path gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Read-only public pages and APIs.
    Public,
    /// Public pages with forms (subscribing, managing a subscription).
    Forms,
    /// Everything an SRE signs in for.
    Admin,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under("/admin") || under("/api/v1/admin") {
            Surface::Admin
        } else if under("/subscribe") || under("/subscriptions") {
            Surface::Forms
        } else {
            Surface::Public
        }
    }
}

/// The one layer around every route: refuses a cross-site change on the admin surface
/// ([`super::origin`]), runs the request, and sets the surface's headers. One layer instead
/// of two, since every request of a status page under outage traffic passes it, and a
/// hand-written [`tower::Layer`] rather than `axum::middleware::from_fn`, whose boxed `Next`
/// and moved futures showed in the profile of the front page's serving (BENCHMARKS f).
#[derive(Debug, Clone)]
pub struct GuardLayer {
    site: Arc<SiteOrigin>,
}

impl GuardLayer {
    pub fn new(site: SiteOrigin) -> GuardLayer {
        GuardLayer {
            site: Arc::new(site),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            site: Arc::clone(&self.site),
        }
    }
}

/// [`GuardLayer`]'s service around one route.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    site: Arc<SiteOrigin>,
}

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let surface = Surface::of(request.uri().path());
        if surface == Surface::Admin {
            if let Some(refused) = refuse_cross_site(&self.site, &request) {
                return Guarded::Refused {
                    response: Some(refused),
                    surface,
                };
            }
        }
        Guarded::Running {
            inner: self.inner.call(request),
            surface,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of [`Guard`]: the route's, or the refusal, with the surface's headers.
    #[project = GuardedProjection]
    pub enum Guarded<F> {
        Refused { response: Option<Response>, surface: Surface },
        Running { #[pin] inner: F, surface: Surface },
    }
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut response, surface) = match self.project() {
            GuardedProjection::Refused { response, surface } => {
                // Polled once: a refusal is ready at once, and a future is not polled again
                // after it is ready.
                (response.take().unwrap_or_default(), *surface)
            }
            GuardedProjection::Running { inner, surface } => match inner.poll(cx) {
                Poll::Ready(Ok(response)) => (response, *surface),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
        };
        apply(surface, response.headers_mut());
        Poll::Ready(Ok(response))
    }
}

/// Sets the headers of `surface` on a response's `headers`.
pub fn apply(surface: Surface, headers: &mut HeaderMap) {
    let set_default = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set_default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let is = |prefix: &str| {
        content_type
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    let framed_never = surface != Surface::Public;
    if is("text/html") {
        let csp = if framed_never {
            FORM_PAGE_CSP
        } else {
            PAGE_CSP
        };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    } else if is("image/svg+xml") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SVG_CSP),
        );
    }
    if framed_never {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if surface == Surface::Admin {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_by_path() {
        for (path, surface) in [
            ("/", Surface::Public),
            ("/models/a/b", Surface::Public),
            ("/api/v1/routing", Surface::Public),
            ("/administrator", Surface::Public),
            ("/subscribe", Surface::Forms),
            ("/subscriptions/confirm", Surface::Forms),
            ("/admin", Surface::Admin),
            ("/admin/login", Surface::Admin),
            ("/api/v1/admin/tokens", Surface::Admin),
        ] {
            assert_eq!(Surface::of(path), surface, "{path}");
        }
    }

    #[test]
    fn admin_answers_are_never_stored_whatever_the_handler_said() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        apply(Surface::Admin, &mut h);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
}
