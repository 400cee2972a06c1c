//! Secrets at rest: webhook signing secrets are encrypted (the service must sign with them, so
//! they cannot be hashed); management and confirmation tokens are hashed (only compared).
//!
//! The encryption key (32 bytes) comes from the environment variable named in
//! `[notify] secret_key_env` (base64), or else from a key file next to the database, created
//! with mode 0600 on first start. Losing the key makes stored secrets unusable; rotating a
//! subscription's secret then issues a new one.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// Encrypts and decrypts secrets stored in the database.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// Key of the HMAC that signs links in emails (manage, unsubscribe), derived from the
    /// same key so one secret protects both.
    link_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([key redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 32 bytes in base64")]
    BadKey,
    #[error("reading or creating the key file {path}: {error}")]
    KeyFile { path: String, error: std::io::Error },
    #[error("a stored secret cannot be decrypted (wrong key or corrupt row)")]
    Decrypt,
}

impl SecretBox {
    pub fn from_key(key: &[u8]) -> Result<SecretBox, SecretError> {
        if key.len() != 32 {
            return Err(SecretError::BadKey);
        }
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SecretError::BadKey)?;
        mac.update(b"modelwatch link tokens v1");
        let link_key = mac.finalize().into_bytes().into();
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            link_key,
        })
    }

    /// A token for a link about `id` used for `purpose` ("manage", "unsubscribe"): an HMAC,
    /// so links in emails work without storing any token in clear.
    pub fn link_token(&self, purpose: &str, id: &str) -> String {
        B64URL.encode(self.link_mac(purpose, id).finalize().into_bytes())
    }

    /// Checks a link token in constant time.
    pub fn check_link_token(&self, purpose: &str, id: &str, token: &str) -> bool {
        match B64URL.decode(token) {
            Ok(bytes) => self.link_mac(purpose, id).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn link_mac(&self, purpose: &str, id: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.link_key)
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        mac
    }

    /// The key from `env_value` (base64) if given, else from `key_file`, created if missing.
    pub fn load(env_value: Option<&str>, key_file: &Path) -> Result<SecretBox, SecretError> {
        if let Some(value) = env_value {
            let key = B64.decode(value.trim()).map_err(|_| SecretError::BadKey)?;
            return SecretBox::from_key(&key);
        }
        let io = |error| SecretError::KeyFile {
            path: key_file.display().to_string(),
            error,
        };
        match std::fs::read_to_string(key_file) {
            Ok(text) => {
                SecretBox::from_key(&B64.decode(text.trim()).map_err(|_| SecretError::BadKey)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                write_private(key_file, B64.encode(key).as_bytes()).map_err(io)?;
                SecretBox::from_key(&key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `base64(nonce || ciphertext)`.
    pub fn seal(&self, secret: &Secret) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory data.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.expose().as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        B64.encode(out)
    }

    pub fn open(&self, stored: &str) -> Result<Secret, SecretError> {
        let bytes = B64.decode(stored).map_err(|_| SecretError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::Decrypt)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A random URL-safe token with `prefix` (e.g. `mgt_`), 32 random bytes.
pub fn new_token(prefix: &str) -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(format!("{prefix}{}", B64URL.encode(bytes)))
}

/// The stored form of a token: hex SHA-256. Tokens are long and random, so a plain hash is
/// enough (unlike passwords, they need no slow hash).
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random public identifier with `prefix`, e.g. `sub_3kT…`.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", B64URL.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_hide_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("k/modelwatch.key");
        let sb = SecretBox::load(None, &key_file).unwrap();
        let secret = Secret::new("whsec_c2VjcmV0LXZhbHVl");
        let stored = sb.seal(&secret);
        assert!(!stored.contains("c2VjcmV0LXZhbHVl"));
        assert_eq!(sb.open(&stored).unwrap(), secret);
        // The same key file gives the same key; another key cannot open it.
        assert_eq!(
            SecretBox::load(None, &key_file)
                .unwrap()
                .open(&stored)
                .unwrap(),
            secret
        );
        let other = SecretBox::from_key(&[7u8; 32]).unwrap();
        assert!(matches!(other.open(&stored), Err(SecretError::Decrypt)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn link_tokens_verify_only_for_their_purpose_and_id() {
        let sb = SecretBox::from_key(&[1u8; 32]).unwrap();
        let t = sb.link_token("unsubscribe", "sub_a");
        assert!(sb.check_link_token("unsubscribe", "sub_a", &t));
        assert!(!sb.check_link_token("manage", "sub_a", &t));
        assert!(!sb.check_link_token("unsubscribe", "sub_b", &t));
        assert!(!SecretBox::from_key(&[2u8; 32]).unwrap().check_link_token(
            "unsubscribe",
            "sub_a",
            &t
        ));
        assert!(!sb.check_link_token("unsubscribe", "sub_a", "not base64!"));
    }

    #[test]
    fn tokens_hash_stably() {
        let t = new_token("mgt_");
        assert!(t.expose().starts_with("mgt_") && t.expose().len() > 40);
        assert_eq!(hash_token(t.expose()), hash_token(t.expose()));
        assert_ne!(hash_token("a"), hash_token("b"));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
