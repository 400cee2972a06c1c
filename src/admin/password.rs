//! Password hashing: argon2id with the crate's defaults, which are OWASP's recommended
//! parameters (19 MiB memory, 2 iterations, 1 lane), stored as a PHC string so the salt
//! and parameters travel with the hash and can be raised later without a migration.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::AdminError;

/// Shorter passwords are refused: length is what makes a password hard to guess.
pub const MIN_LENGTH: usize = 12;
/// Longer ones are refused too: hashing unbounded input is a denial-of-service lever.
pub const MAX_LENGTH: usize = 1024;

/// Says why a new password is not acceptable, in words a person can act on.
pub fn check_new(password: &str) -> Result<(), AdminError> {
    let chars = password.chars().count();
    if password.trim().is_empty() {
        return Err(AdminError::Invalid("the password is empty".into()));
    }
    if chars < MIN_LENGTH {
        return Err(AdminError::Invalid(format!(
            "the password is {chars} characters long; use at least {MIN_LENGTH}"
        )));
    }
    if password.len() > MAX_LENGTH {
        return Err(AdminError::Invalid(format!(
            "the password is longer than {MAX_LENGTH} bytes"
        )));
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, AdminError> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| AdminError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as [`verify`] when there is no user to check against, so the
/// response time does not tell which email addresses have accounts.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("modelwatch dummy password").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery staple").unwrap();
        let b = hash("correct horse battery staple").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("correct horse"));
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapl", &a));
        assert!(!verify("correct horse battery staple", "not a phc string"));
    }

    #[test]
    fn new_passwords_must_be_long_enough() {
        assert!(check_new("").is_err());
        assert!(check_new("            ").is_err());
        let short = check_new("elevenchars").unwrap_err().to_string();
        assert!(
            short.contains("11 characters") && short.contains("12"),
            "{short}"
        );
        assert!(check_new("twelve chars").is_ok());
        assert!(check_new(&"x".repeat(MAX_LENGTH + 1)).is_err());
    }
}
