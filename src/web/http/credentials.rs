//! Reading credentials from request headers: the token of `Authorization: Bearer …`
//! (subscription management tokens, admin API tokens) and a named cookie (the admin
//! session). Parsing only: what a credential is worth is decided by its caller.

use axum::http::{header, HeaderMap};

/// The credentials of an `Authorization: Bearer …` header value. The scheme is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name` in the request's `Cookie` headers. Parsed by hand: the
/// grammar is `name=value` pairs separated by `;`, and we only read our own cookies.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; mw_session_x=no; mw_session=tok".parse().unwrap(),
        );
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, "mw_session"), Some("tok"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "mw"), None);
        h.insert(header::COOKIE, "mw_session=".parse().unwrap());
        assert_eq!(cookie(&h, "mw_session"), None);
    }

    #[test]
    fn bearer_tokens_take_any_case_of_the_scheme() {
        assert_eq!(bearer_token("Bearer mw_abc"), Some("mw_abc"));
        assert_eq!(bearer_token("bearer  mw_abc "), Some("mw_abc"));
        assert_eq!(bearer_token("BEARER mw_abc"), Some("mw_abc"));
        assert_eq!(bearer_token("Basic dXNlcg=="), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
