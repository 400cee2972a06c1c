//! Where environment variables come from while a configuration is read.
//!
//! Normally from a lookup function (the process environment, or a test's map): a variable
//! that is not set is a problem with its line. For `check-config --no-env`, on a machine
//! without the secrets, from nowhere: every variable the file names is remembered as *not
//! checked* instead, and the rest of the file is validated as usual. Secrets (API keys, AWS,
//! SMTP and PagerDuty variables) then stand in as their own `${NAME}` text, which is never
//! sent anywhere because such a configuration is only described, never run.

use std::cell::RefCell;
use std::collections::BTreeSet;

/// Looks a variable up by name (the process environment, or a test's map).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The value of a `${NAME}` inside a setting.
pub enum Var {
    Set(String),
    /// Not set: a problem when variables are checked.
    Missing,
    /// Not looked up (`--no-env`): neither a value nor a problem.
    Unchecked,
}

/// The environment a configuration is read against.
pub struct Env<'a> {
    /// `None`: variables are not checked (`--no-env`).
    lookup: Option<Lookup<'a>>,
    /// The variables the file named while they were not checked, to say so.
    unchecked: RefCell<BTreeSet<String>>,
}

impl<'a> Env<'a> {
    /// Variables looked up with `lookup`.
    pub fn checked(lookup: Lookup<'a>) -> Self {
        Env {
            lookup: Some(lookup),
            unchecked: RefCell::new(BTreeSet::new()),
        }
    }

    /// Variables not looked up at all.
    pub fn unchecked() -> Self {
        Env {
            lookup: None,
            unchecked: RefCell::new(BTreeSet::new()),
        }
    }

    /// A `${NAME}` inside a setting.
    pub fn var(&self, name: &str) -> Var {
        match self.lookup {
            Some(lookup) => lookup(name).map_or(Var::Missing, Var::Set),
            None => {
                self.unchecked.borrow_mut().insert(name.to_string());
                Var::Unchecked
            }
        }
    }

    /// A variable holding a secret or a setting read as a whole (`api_key_env`, AWS, SMTP,
    /// PagerDuty). When variables are not checked it stands in as `${NAME}`, so that what
    /// depends on it is still validated and no problem is reported for it.
    pub fn secret(&self, name: &str) -> Option<String> {
        match self.lookup {
            Some(lookup) => lookup(name),
            None => {
                self.unchecked.borrow_mut().insert(name.to_string());
                Some(format!("${{{name}}}"))
            }
        }
    }

    /// The variables that were named but not checked, in name order.
    pub fn into_unchecked(self) -> Vec<String> {
        self.unchecked.into_inner().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_lookups_answer_and_record_nothing() {
        let lookup = |name: &str| (name == "SET").then(|| "v".to_string());
        let env = Env::checked(&lookup);
        assert!(matches!(env.var("SET"), Var::Set(v) if v == "v"));
        assert!(matches!(env.var("UNSET"), Var::Missing));
        assert_eq!(env.secret("UNSET"), None);
        assert!(env.into_unchecked().is_empty());
    }

    #[test]
    fn unchecked_lookups_are_remembered_once_each() {
        let env = Env::unchecked();
        assert!(matches!(env.var("HOST"), Var::Unchecked));
        assert_eq!(env.secret("API_KEY").as_deref(), Some("${API_KEY}"));
        assert_eq!(env.secret("API_KEY").as_deref(), Some("${API_KEY}"));
        assert_eq!(env.into_unchecked(), vec!["API_KEY", "HOST"]);
    }
}
