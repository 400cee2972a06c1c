//! Extra probes asked for by the evaluator: one slot per model that the model's scheduler
//! task watches, so a confirmation or recovery probe goes out at the time asked for instead
//! of at the next cron fire time.
//!
//! At most one request is outstanding per model; a sooner request replaces a later one, and
//! any probe of the model (scheduled or extra) takes the request away, because the evaluator
//! asks again after judging that probe if it still wants more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::probe::Trigger;

/// One model's slot.
#[derive(Debug, Default)]
pub struct Slot {
    wanted: Mutex<Option<(DateTime<Utc>, Trigger)>>,
    /// Wakes the model's task when a request arrives.
    pub changed: Notify,
}

impl Slot {
    /// The outstanding request, if any.
    pub fn peek(&self) -> Option<(DateTime<Utc>, Trigger)> {
        *self.wanted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the request away (a probe of the model is going out).
    pub fn take(&self) -> Option<(DateTime<Utc>, Trigger)> {
        self.wanted.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn request(&self, at: DateTime<Utc>, trigger: Trigger) -> bool {
        let mut wanted = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
        if wanted.is_some_and(|(t, _)| t <= at) {
            return false;
        }
        *wanted = Some((at, trigger));
        true
    }
}

/// The slots of every configured model, shared by the evaluator and the scheduler.
#[derive(Debug, Default, Clone)]
pub struct ProbeRequests {
    slots: Arc<HashMap<String, Arc<Slot>>>,
}

impl ProbeRequests {
    /// One slot per `provider/model` key.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        ProbeRequests {
            slots: Arc::new(
                keys.into_iter()
                    .map(|k| (k.to_string(), Arc::new(Slot::default())))
                    .collect(),
            ),
        }
    }

    /// The slot of `key` (the scheduler task of that model holds it).
    pub fn slot(&self, key: &str) -> Option<Arc<Slot>> {
        self.slots.get(key).cloned()
    }

    /// Asks for a probe of `key` at `at`; returns whether that changed the request.
    pub fn request(&self, key: &str, at: DateTime<Utc>, trigger: Trigger) -> bool {
        let Some(slot) = self.slots.get(key) else {
            return false;
        };
        let changed = slot.request(at, trigger);
        if changed {
            slot.changed.notify_one();
        }
        changed
    }

    /// The outstanding request of `key`, if any.
    pub fn peek(&self, key: &str) -> Option<(DateTime<Utc>, Trigger)> {
        self.slots.get(key).and_then(|s| s.peek())
    }

    /// Takes the request of `key` away.
    pub fn take(&self, key: &str) -> Option<(DateTime<Utc>, Trigger)> {
        self.slots.get(key).and_then(|s| s.take())
    }
}

/// When a model is probed next, and why: the sooner of its cron fire time (plus its spread
/// offset) and an outstanding extra request. Shared by the scheduler and the detection
/// scorecard, so both follow one rule.
pub fn next_probe(
    scheduled: DateTime<Utc>,
    requested: Option<(DateTime<Utc>, Trigger)>,
) -> (DateTime<Utc>, Trigger) {
    match requested {
        Some((at, trigger)) if at < scheduled => (at, trigger),
        _ => (scheduled, Trigger::Scheduled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn a_sooner_request_wins_and_a_probe_takes_it() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let r = ProbeRequests::new(["p/a"]);
        assert!(r.request("p/a", t0 + Duration::seconds(10), Trigger::Confirm));
        assert!(!r.request("p/a", t0 + Duration::seconds(20), Trigger::Recovery));
        assert!(r.request("p/a", t0 + Duration::seconds(5), Trigger::Recovery));
        assert!(!r.request("p/unknown", t0, Trigger::Confirm));
        let sched = t0 + Duration::seconds(30);
        assert_eq!(
            next_probe(sched, r.peek("p/a")),
            (t0 + Duration::seconds(5), Trigger::Recovery)
        );
        assert_eq!(r.take("p/a").map(|w| w.1), Some(Trigger::Recovery));
        assert_eq!(
            next_probe(sched, r.peek("p/a")),
            (sched, Trigger::Scheduled)
        );
    }
}
