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

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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

/// The one middleware around every route: refuses a cross-site change on the admin
/// surface ([`super::origin`]), runs the request, and sets the surface's headers. One layer
/// instead of two, since every request of a status page under outage traffic passes it.
pub async fn guard(
    axum::extract::State(site): axum::extract::State<super::origin::SiteOrigin>,
    request: Request,
    next: Next,
) -> Response {
    let surface = Surface::of(request.uri().path());
    if surface == Surface::Admin {
        if let Some(refused) = super::origin::refuse_cross_site(&site, &request) {
            let mut response = refused;
            apply(surface, response.headers_mut());
            return response;
        }
    }
    let mut response = next.run(request).await;
    apply(surface, response.headers_mut());
    response
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
