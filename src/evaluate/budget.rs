//! The extra-probe budget: a token bucket per model, so confirmation and recovery probes
//! never cost more than `extra_probes_per_hour` a model an hour on average (the bucket starts
//! full, so at most that many more in any one hour), plus a ledger of the last hour's extra
//! probes by reason for the evidence people read.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

use crate::probe::Trigger;
use crate::vocabulary::evidence::ExtraProbes;

#[derive(Debug, Clone)]
pub struct ExtraBudget {
    tokens: f64,
    refilled_at: DateTime<Utc>,
    /// Extra probes of the last hour: when, and why.
    spent: VecDeque<(DateTime<Utc>, Trigger)>,
}

impl ExtraBudget {
    /// A full bucket at `now`.
    pub fn new(per_hour: u32, now: DateTime<Utc>) -> Self {
        ExtraBudget {
            tokens: per_hour as f64,
            refilled_at: now,
            spent: VecDeque::new(),
        }
    }

    fn refill(&mut self, per_hour: u32, now: DateTime<Utc>) {
        let elapsed = (now - self.refilled_at).num_milliseconds().max(0) as f64 / 3_600_000.0;
        self.tokens = (self.tokens + elapsed * per_hour as f64).min(per_hour as f64);
        self.refilled_at = self.refilled_at.max(now);
    }

    /// Whether one more extra probe for `trigger` may be asked for at `now`. Recovery probes
    /// may use only the upper half of the bucket: the lower half is kept for confirmations,
    /// so a long outage cannot spend what is needed to confirm its end.
    pub fn available(&mut self, per_hour: u32, trigger: Trigger, now: DateTime<Utc>) -> bool {
        self.refill(per_hour, now);
        let keep = match trigger {
            Trigger::Recovery => per_hour as f64 / 2.0,
            _ => 0.0,
        };
        self.tokens >= 1.0 + keep
    }

    /// Counts an extra probe that was sent (its result arrived) at `at`.
    pub fn spend(&mut self, per_hour: u32, trigger: Trigger, at: DateTime<Utc>) {
        if trigger == Trigger::Scheduled {
            return;
        }
        self.refill(per_hour, at);
        // At most one request is outstanding per model, so the bucket can go at most one
        // below empty; it is kept there rather than lost, so the hour's total still holds.
        self.tokens -= 1.0;
        self.spent.push_back((at, trigger));
        self.forget_before(at - Duration::hours(1));
    }

    fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        while self.spent.front().is_some_and(|(t, _)| *t < cutoff) {
            self.spent.pop_front();
        }
    }

    /// Extra probes of the hour before `now`, by reason.
    pub fn last_hour(&self, now: DateTime<Utc>) -> ExtraProbes {
        let cutoff = now - Duration::hours(1);
        let mut out = ExtraProbes::default();
        for (at, trigger) in &self.spent {
            if *at < cutoff {
                continue;
            }
            match trigger {
                Trigger::Confirm => out.confirm += 1,
                Trigger::Recovery => out.recovery += 1,
                Trigger::Scheduled => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_bucket_bounds_extra_probes_per_hour() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut b = ExtraBudget::new(6, t0);
        let mut sent = 0;
        // Asking every 5 s for two hours: a full bucket, then one every ten minutes.
        for i in 0..=(2 * 720) {
            let now = t0 + Duration::seconds(5 * i);
            if b.available(6, Trigger::Confirm, now) {
                b.spend(6, Trigger::Confirm, now);
                sent += 1;
            }
        }
        // Six at once, then six an hour: at most 6 + 12 (the last refill may land a hair
        // after the last ask).
        assert!((6 + 11..=6 + 12).contains(&sent), "{sent}");
        let end = t0 + Duration::hours(2);
        assert_eq!(
            b.last_hour(end),
            ExtraProbes {
                confirm: 6,
                recovery: 0
            }
        );
        // Scheduled probes cost nothing.
        b.spend(6, Trigger::Scheduled, end);
        assert_eq!(b.last_hour(end).confirm, 6);
        // Recovery probes stop at half the bucket; confirmations may use the rest.
        let mut r = ExtraBudget::new(6, t0);
        let mut recovery = 0;
        while r.available(6, Trigger::Recovery, t0) {
            r.spend(6, Trigger::Recovery, t0);
            recovery += 1;
        }
        assert_eq!(recovery, 3);
        assert!(r.available(6, Trigger::Confirm, t0));
    }
}
