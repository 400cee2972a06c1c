//! Overrides and maintenance windows, as the evaluator applies them (pure: no IO, no clock).
//!
//! An override forces a model's routing *decision* (its state stays what the evidence
//! says); a maintenance window forces its models' *state* to `under_maintenance`, so no
//! incident is raised for them. Both are judged against the `now` the engine is given.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use crate::vocabulary::{ActiveOverride, Window, WindowStatus};

/// Splits stored active overrides into those still in force at `now` (one per model: the
/// newest) and those that have expired and must be ended.
pub fn split_expired(
    rows: Vec<ActiveOverride>,
    now: DateTime<Utc>,
) -> (BTreeMap<String, ActiveOverride>, Vec<ActiveOverride>) {
    let mut live: BTreeMap<String, ActiveOverride> = BTreeMap::new();
    let mut expired = Vec::new();
    for o in rows {
        if o.expired(now) {
            expired.push(o);
            continue;
        }
        match live.get(&o.model_key) {
            Some(existing) if existing.id > o.id => {}
            _ => {
                live.insert(o.model_key.clone(), o);
            }
        }
    }
    (live, expired)
}

/// A lifecycle step a window takes at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStep {
    Start,
    Complete,
}

/// The step each open window takes at `now`: a scheduled window whose start has come
/// starts (or completes at once when its end has passed too: it still announces both),
/// an in-progress window whose end has come completes.
pub fn window_steps(w: &Window, now: DateTime<Utc>) -> Vec<WindowStep> {
    match w.status {
        WindowStatus::Scheduled if w.ends_at <= now => {
            vec![WindowStep::Start, WindowStep::Complete]
        }
        WindowStatus::Scheduled if w.starts_at <= now => vec![WindowStep::Start],
        WindowStatus::InProgress if w.ends_at <= now => vec![WindowStep::Complete],
        _ => Vec::new(),
    }
}

/// The window (if any) that holds `model` under maintenance at `now`, after the steps.
pub fn covering<'a>(windows: &'a [Window], model: &str, now: DateTime<Utc>) -> Option<&'a Window> {
    windows.iter().find(|w| {
        matches!(w.status, WindowStatus::Scheduled | WindowStatus::InProgress)
            && w.starts_at <= now
            && now < w.ends_at
            && w.models.iter().any(|m| m == model)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn ov(id: i64, model: &str, expires: i64) -> ActiveOverride {
        ActiveOverride {
            id,
            model_key: model.into(),
            enabled: false,
            reason: "r".into(),
            created_by: "a@x".into(),
            created_at: t(0),
            expires_at: t(expires),
        }
    }

    #[test]
    fn expired_overrides_are_split_off_and_the_newest_live_one_wins() {
        let (live, expired) = split_expired(
            vec![ov(1, "p/a", 10), ov(2, "p/a", 100), ov(3, "p/b", 5)],
            t(10),
        );
        assert_eq!(live.len(), 1);
        assert_eq!(live["p/a"].id, 2);
        assert_eq!(expired.iter().map(|o| o.id).collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn windows_start_and_complete_on_time() {
        let mut w = Window {
            id: 1,
            title: "db".into(),
            body: String::new(),
            models: vec!["p/a".into()],
            starts_at: t(10),
            ends_at: t(20),
            status: WindowStatus::Scheduled,
        };
        assert!(window_steps(&w, t(9)).is_empty());
        assert_eq!(window_steps(&w, t(10)), vec![WindowStep::Start]);
        assert_eq!(
            window_steps(&w, t(25)),
            vec![WindowStep::Start, WindowStep::Complete]
        );
        w.status = WindowStatus::InProgress;
        assert!(covering(std::slice::from_ref(&w), "p/a", t(15)).is_some());
        assert!(covering(std::slice::from_ref(&w), "p/b", t(15)).is_none());
        assert_eq!(window_steps(&w, t(20)), vec![WindowStep::Complete]);
        assert!(covering(std::slice::from_ref(&w), "p/a", t(20)).is_none());
    }
}
