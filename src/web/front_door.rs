//! The front door: a GET or HEAD of one of the site's prebuilt bodies (the status page, its
//! JSON, feeds, badges, static files), answered before routing.
//!
//! Under outage traffic nearly every request is one of these, and the router's work per
//! request (matching, the fallback's boxed handler future, the services and state it clones)
//! took a fifth of the server's CPU serving the front page (BENCHMARKS f). The answer is the router's
//! answer: the same [`site::respond`] and the same security headers ([`security::apply`]).
//! Anything else goes to the router: another method, any query string (`?period=`, a cache
//! buster), a path with no prebuilt body (a model's own pages, the live and admin routes).
//! `tests/it/front_door.rs` checks that both answer alike for every page the site links to.

use axum::http::{Method, Request};
use axum::response::Response;

use super::http::security::{self, Surface};
use super::site::{self, SiteHandle};

/// The answer to `request` from the current site, or `None` when the router must answer.
pub fn answer<B>(site: &SiteHandle, request: &Request<B>) -> Option<Response> {
    let method = request.method();
    let head = method == Method::HEAD;
    if !(head || method == Method::GET) || request.uri().query().is_some() {
        return None;
    }
    let path = request.uri().path();
    let surface = Surface::of(path);
    // The site holds no admin body; a guard in case one were ever added, since the admin
    // surface is the router's (sign-in, cross-site refusals).
    if surface == Surface::Admin {
        return None;
    }
    // Cloned out so the site's read lock is not held while the response is built.
    let body = site.borrow().bodies.get(path).cloned()?;
    let mut response = site::respond(&body, request.headers(), head);
    security::apply(surface, response.headers_mut());
    Some(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{header, StatusCode};
    use tokio::sync::watch;

    use super::*;
    use crate::web::site::{Body, Site};

    fn site_with(paths: &[(&str, &'static str)]) -> SiteHandle {
        let mut site = Site::default();
        for (path, content_type) in paths {
            let body = Body::new(content_type, format!("body of {path} ").repeat(40).into());
            site.bodies.insert(path.to_string(), Arc::new(body));
        }
        // The sender may go: a receiver keeps the last value.
        watch::channel(Arc::new(site)).1
    }

    fn request(method: Method, uri: &str) -> Request<()> {
        Request::builder().method(method).uri(uri).body(()).unwrap()
    }

    #[test]
    fn prebuilt_bodies_are_answered_with_the_surfaces_headers() {
        let site = site_with(&[
            ("/", "text/html; charset=utf-8"),
            ("/subscribe", "text/html; charset=utf-8"),
            ("/api/v2/summary.json", "application/json"),
        ]);
        let page = answer(&site, &request(Method::GET, "/")).expect("the front page");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_SECURITY_POLICY],
            security::PAGE_CSP
        );
        assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(page.headers().get(header::X_FRAME_OPTIONS).is_none());
        // A page with a form is never framed, as the router's layer says.
        let form = answer(&site, &request(Method::GET, "/subscribe")).expect("the form page");
        assert_eq!(
            form.headers()[header::CONTENT_SECURITY_POLICY],
            security::FORM_PAGE_CSP
        );
        assert_eq!(form.headers()[header::X_FRAME_OPTIONS], "DENY");
        let head = answer(&site, &request(Method::HEAD, "/api/v2/summary.json")).unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        let length = "body of /api/v2/summary.json ".len() * 40;
        assert_eq!(head.headers()[header::CONTENT_LENGTH], length.to_string());
    }

    #[test]
    fn everything_else_is_left_to_the_router() {
        let site = site_with(&[("/", "text/html; charset=utf-8"), ("/admin", "text/html")]);
        for (method, uri) in [
            (Method::POST, "/"),
            (Method::DELETE, "/"),
            (Method::GET, "/?period=7d"),
            (Method::GET, "/models/acme/big"),
            (Method::GET, "/admin"),
        ] {
            assert!(
                answer(&site, &request(method.clone(), uri)).is_none(),
                "{method} {uri} must go to the router"
            );
        }
    }
}
