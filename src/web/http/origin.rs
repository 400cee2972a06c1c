//! A second layer against cross-site request forgery on the admin surface: a state-changing
//! request that rides on a browser cookie (the session, or the sign-in nonce) must come from
//! this site. The CSRF token stays the first layer; this one holds even if a token leaks.
//!
//! Browsers say where a request comes from: `Sec-Fetch-Site` (all current browsers) and
//! `Origin` (every cross-origin POST). A request is refused (403) when `Sec-Fetch-Site` is
//! present and not `same-origin`, or when `Origin` is present and is neither the origin of
//! `public_url` nor the origin the request was addressed to (`Host`). A request with neither
//! header (an old browser, a script with its own cookie) is left to the CSRF token; one
//! without a cookie (an API token) is not a browser's and is not checked.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Cookies that make a request a browser's signed-in (or signing-in) request.
const BROWSER_COOKIES: [&str; 2] = ["mw_session=", "mw_login="];

/// The site's own origin, from `public_url` (`scheme://host[:port]`).
#[derive(Debug, Clone)]
pub struct SiteOrigin(pub String);

impl SiteOrigin {
    pub fn from_public_url(public_url: &str) -> SiteOrigin {
        let origin = reqwest::Url::parse(public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        SiteOrigin(origin)
    }
}

/// Why a request is refused, if it is.
pub fn refusal(site: &SiteOrigin, method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let browser = cookies
        .split(';')
        .map(str::trim)
        .any(|c| BROWSER_COOKIES.iter().any(|name| c.starts_with(name)));
    if !browser {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(fetch_site) = text("sec-fetch-site") {
        if !fetch_site.eq_ignore_ascii_case("same-origin") {
            return Some("a cross-site request may not change anything here");
        }
    }
    if let Some(origin) = text("origin") {
        let addressed = text("host").is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
        if !(origin.eq_ignore_ascii_case(&site.0) || addressed) {
            return Some("a request from another site may not change anything here");
        }
    }
    None
}

/// The 403 for a cross-site change to `request` (on the admin surface), logged; `None`
/// when it may go on.
pub fn refuse_cross_site(site: &SiteOrigin, request: &Request) -> Option<Response> {
    let why = refusal(site, request.method(), request.headers())?;
    tracing::warn!(path = %request.uri().path(), why, "refused a cross-site request");
    Some((StatusCode::FORBIDDEN, format!("{why}\n")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_cookie_borne_cross_site_changes_are_refused() {
        let site = SiteOrigin::from_public_url("https://status.example.com/");
        assert_eq!(site.0, "https://status.example.com");
        let session = ("cookie", "theme=dark; mw_session=abc");
        let post = Method::POST;
        type Case = (Method, Vec<(&'static str, &'static str)>, bool);
        let cases: Vec<Case> = vec![
            // Cross-site with the session: refused, by either header.
            (
                post.clone(),
                vec![session, ("origin", "http://evil.example")],
                true,
            ),
            (
                post.clone(),
                vec![session, ("sec-fetch-site", "cross-site")],
                true,
            ),
            (
                post.clone(),
                vec![session, ("sec-fetch-site", "same-site")],
                true,
            ),
            (Method::DELETE, vec![session, ("origin", "null")], true),
            // The sign-in form is protected too.
            (
                post.clone(),
                vec![("cookie", "mw_login=n"), ("origin", "http://evil.example")],
                true,
            ),
            // Same origin, by public_url or by the address the request was sent to.
            (
                post.clone(),
                vec![session, ("origin", "https://status.example.com")],
                false,
            ),
            (
                post.clone(),
                vec![
                    session,
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080"),
                ],
                false,
            ),
            (
                post.clone(),
                vec![session, ("sec-fetch-site", "same-origin")],
                false,
            ),
            // Nothing to go on: left to the CSRF token.
            (post.clone(), vec![session], false),
            // Reads, and requests without a browser cookie, are not checked.
            (
                Method::GET,
                vec![session, ("origin", "http://evil.example")],
                false,
            ),
            (post.clone(), vec![("origin", "http://evil.example")], false),
        ];
        for (method, pairs, refused) in cases {
            assert_eq!(
                refusal(&site, &method, &headers(&pairs)).is_some(),
                refused,
                "{method} {pairs:?}"
            );
        }
    }
}
