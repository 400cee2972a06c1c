//! Which email addresses modelwatch accepts: the one rule for subscribers, webhook owners
//! and admin users, so an address accepted in one place is never refused by another.

/// An address we can put in a `To:` header for any SMTP server: plain ASCII, no quoted
/// local part, no brackets, at most 254 characters. RFC 5321 allows more (quoted strings,
/// SMTPUTF8), but relays without SMTPUTF8 refuse those, and a subscriber would only learn
/// it from a missing mail. Returns the address as lettre writes it, or why it is refused.
pub fn parse(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if !trimmed.is_ascii() && trimmed.contains('@') {
        return Err(
            "write the address in ASCII (an internationalised domain in its xn-- form)".into(),
        );
    }
    match trimmed.parse::<lettre::Address>() {
        Ok(a) if trimmed.len() <= 254 && plain(trimmed) => Ok(a.to_string()),
        _ => Err(format!(
            "`{}` is not an email address",
            trimmed.chars().take(100).collect::<String>()
        )),
    }
}

fn plain(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    !local.is_empty()
        && local.chars().all(atom)
        && !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_addresses_only() {
        assert_eq!(parse("  me+x@example.com ").unwrap(), "me+x@example.com");
        for bad in [
            "not-an-address",
            "\"<script>\"@example.com",
            "a b@example.com",
            "üñí@exämple.com",
            "me@",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("üñí@exämple.com").unwrap_err().contains("ASCII"));
        assert!(parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
