//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>).
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, signed with HMAC-SHA256
//! under the secret's bytes (the base64 after `whsec_`); the `webhook-signature` header holds
//! `v1,<base64>` per valid secret, space-separated, so receivers accept either secret while
//! one is being rotated.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::config::Secret;

/// The prefix of every webhook signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh random signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(format!("{SECRET_PREFIX}{}", B64.encode(bytes)))
}

/// Why a secret cannot sign.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret must be `whsec_` followed by base64")]
pub struct BadSecret;

fn key_bytes(secret: &Secret) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret
        .expose()
        .strip_prefix(SECRET_PREFIX)
        .unwrap_or(secret.expose());
    B64.decode(encoded).map_err(|_| BadSecret)
}

/// `v1,<base64 HMAC-SHA256>` of one message under one secret.
pub fn sign(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let key = key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[&Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let signatures: Result<Vec<String>, BadSecret> = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect();
    Ok(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the specification.
    #[test]
    fn published_test_vector() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.expose().starts_with("whsec_") && a != b);
        let header = signature_header(&[&a, &b], "msg_1", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            vec![
                sign(&a, "msg_1", 1, b"{}").unwrap(),
                sign(&b, "msg_1", 1, b"{}").unwrap()
            ]
        );
        assert_eq!(sign(&Secret::new("whsec_???"), "m", 1, b""), Err(BadSecret));
    }
}
