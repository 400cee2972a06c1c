//! Admin access: accounts with argon2id passwords, sessions, CSRF tokens, API tokens with
//! scopes, and the audit log, with no HTTP in them. The HTTP side (extractors, pages, JSON
//! API) is in `web::admin`, whose handlers call these; the command line side in [`cli`].
//!
//! - [`password`]: hashing and verifying passwords (argon2id, OWASP parameters);
//! - [`auth`]: users, sign-in with lock-out, sessions, CSRF;
//! - [`tokens`]: API tokens (`mw_…`), hashed at rest, scoped `read < operate < admin`;
//! - [`audit`]: who did what, when and from where.
//!
//! Queries are sqlx runtime queries on the store's pool, like `store/`; the tables are
//! created by `migrations/0004_admin.sql`.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod password;
pub mod tokens;

#[cfg(test)]
mod auth_tests;

use serde::Serialize;

use crate::store::StoreError;

/// What an API token (or a session) may do. `read`, `operate` and `admin` are ordered: each
/// includes the ones before it. `ingest` stands apart: it writes observations of the
/// application's traffic and nothing else, so a key copied into every application server
/// opens nothing of the admin surface. `agent` stands apart the same way: it pushes probe
/// results from a `modelwatch agent` and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the admin API.
    Read,
    /// Run incidents: acknowledge, update, override, maintenance.
    Operate,
    /// Manage access: tokens, sessions, users.
    Admin,
    /// Write observations (`POST /api/v1/observations`, `POST /v1/traces`), nothing else.
    Ingest,
    /// Push probe results from an agent (`POST /api/v1/agent/results`), nothing else.
    Agent,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Operate,
        Scope::Admin,
        Scope::Ingest,
        Scope::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Operate => "operate",
            Scope::Admin => "admin",
            Scope::Ingest => "ingest",
            Scope::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a caller holding `self` may do what needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        match (self, needed) {
            (Scope::Ingest | Scope::Agent, _) | (_, Scope::Ingest | Scope::Agent) => self == needed,
            _ => self >= needed,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Input we cannot accept; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("a user with the email {0} already exists")]
    UserExists(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// Normalises an email address for storage and comparison (trimmed, lower-case), or says
/// why it is not one.
pub fn normalise_email(text: &str) -> Result<String, AdminError> {
    crate::notify::email::address::parse(&text.to_lowercase()).map_err(AdminError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ordered_and_parse_by_name() {
        assert!(Scope::Admin.allows(Scope::Read));
        assert!(Scope::Admin.allows(Scope::Operate));
        assert!(Scope::Operate.allows(Scope::Read));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Operate));
        assert!(!Scope::Operate.allows(Scope::Admin));
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("root"), None);
        assert_eq!(Scope::parse("Admin"), None);
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalise_email("  Ops@Example.COM ").unwrap(),
            "ops@example.com"
        );
        assert!(normalise_email("not an address").is_err());
    }
}
