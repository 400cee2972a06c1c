//! Decisions people make by hand: an SRE's override of a model's routing decision, and a
//! planned maintenance window. Stored by `store`, applied by `evaluate`, shown by `web` and
//! announced in events (`vocabulary::event`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// An SRE's override of one model's routing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveOverride {
    pub id: i64,
    pub model_key: String,
    pub enabled: bool,
    pub reason: String,
    /// Who set it: for SREs (admin pages, audit log), never in public text or events.
    #[serde(skip)]
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl ActiveOverride {
    /// The reason shown in the routing table and on the page (public: names no person).
    pub fn describe(&self) -> String {
        format!(
            "manual override: {} (until {})",
            self.reason,
            self.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// Lifecycle of a maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStatus {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
}

impl WindowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowStatus::Scheduled => "scheduled",
            WindowStatus::InProgress => "in_progress",
            WindowStatus::Completed => "completed",
            WindowStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<WindowStatus> {
        Some(match s {
            "scheduled" => WindowStatus::Scheduled,
            "in_progress" => WindowStatus::InProgress,
            "completed" => WindowStatus::Completed,
            "cancelled" => WindowStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A maintenance window as the evaluator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub models: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: WindowStatus,
}
