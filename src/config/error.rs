//! Configuration errors that name the file, the line and what to change.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with the configuration, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every problem found in one configuration file (validation reports them all at once).
/// Build it with [`ConfigError::new`], which puts the problems in line order.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The file, as given (`<built-in demo>` for the demo).
    pub path: PathBuf,
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// The problems of one file, each said once, in the order of the file (problems without
    /// a line first).
    pub fn new(path: &Path, mut problems: Vec<ConfigProblem>) -> Self {
        problems.sort_by_key(|p| (p.line, p.column));
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert((p.line, p.column, p.message.clone())));
        ConfigError {
            path: path.to_path_buf(),
            problems,
        }
    }

    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            problems: vec![ConfigProblem {
                line: 0,
                column: 0,
                message: format!("cannot read the file: {err}"),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.path.display(), p.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {}",
                    self.path.display(),
                    p.line,
                    p.column,
                    p.message
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Maps byte offsets of the source to 1-based line and column.
pub struct Locator<'a> {
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator { text }
    }

    pub fn at(&self, offset: usize, message: impl Into<String>) -> ConfigProblem {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        ConfigProblem {
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize, message: &str) -> ConfigProblem {
        ConfigProblem {
            line,
            column,
            message: message.into(),
        }
    }

    #[test]
    fn problems_are_listed_once_each_in_line_order() {
        let err = ConfigError::new(
            Path::new("m.toml"),
            vec![
                at(9, 1, "late"),
                at(3, 5, "second on line 3"),
                at(3, 1, "first on line 3"),
                at(9, 1, "late"),
                at(0, 0, "no line"),
            ],
        );
        assert_eq!(
            err.to_string(),
            "m.toml: no line\nm.toml:3:1: first on line 3\nm.toml:3:5: second on line 3\nm.toml:9:1: late"
        );
    }
}
