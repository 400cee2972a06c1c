//! The RFC 8058 one-click unsubscribe headers, as typed lettre headers.
//!
//! Mail providers (Gmail, Yahoo) require both headers on bulk mail and show their own
//! "Unsubscribe" button from them: the client POSTs `List-Unsubscribe=One-Click` to the URL,
//! so the URL must work without a browser, cookies or a second click.

use lettre::message::header::{Header, HeaderName, HeaderValue};

/// `List-Unsubscribe: <https://…>` (RFC 2369), the one-click POST endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe(String);

impl ListUnsubscribe {
    /// Accepts only an absolute http(s) URL that cannot break out of its angle brackets
    /// or the header line; anything else is a programming or configuration error upstream.
    pub fn new(url: &str) -> Result<Self, String> {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        let chars_ok = url
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
        if scheme_ok && chars_ok {
            Ok(ListUnsubscribe(url.to_string()))
        } else {
            Err(format!(
                "unsubscribe link {url:?} is not an absolute http(s) URL without spaces"
            ))
        }
    }

    pub fn url(&self) -> &str {
        &self.0
    }
}

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let inner = s.trim().strip_prefix('<').and_then(|s| s.strip_suffix('>'));
        let inner = inner.ok_or("List-Unsubscribe must be <URL>")?;
        Ok(ListUnsubscribe::new(inner)?)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058); it has one value only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListUnsubscribePost;

const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim() == ONE_CLICK {
            Ok(ListUnsubscribePost)
        } else {
            Err(format!("List-Unsubscribe-Post must be `{ONE_CLICK}`").into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), ONE_CLICK.to_string())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): vacation responders must not answer us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_urls_must_be_absolute_and_single_line() {
        let ok = ListUnsubscribe::new("https://status.example.com/u?t=abc").unwrap();
        assert_eq!(ok.url(), "https://status.example.com/u?t=abc");
        for bad in [
            "/relative",
            "https://x/\r\nBcc: a@b",
            "https://x/a b",
            "https://x/>",
            "mailto:a@b",
        ] {
            assert!(ListUnsubscribe::new(bad).is_err(), "{bad:?}");
        }
        let parsed = ListUnsubscribe::parse(" <https://x/u> ").unwrap();
        assert_eq!(parsed.url(), "https://x/u");
        assert!(ListUnsubscribePost::parse("List-Unsubscribe=One-Click").is_ok());
        assert!(ListUnsubscribePost::parse("nope").is_err());
    }
}
