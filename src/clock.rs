//! Wall-clock time that follows tokio's clock, so simulated-time tests move it too.
//!
//! Cron schedules need wall time (`DateTime<Utc>`), but tests pause and advance tokio's
//! clock. [`Clock`] anchors a wall time to a tokio `Instant` once, then derives "now" from
//! tokio's elapsed time: in production the two agree, under `tokio::time::pause` wall time
//! advances exactly as the test advances tokio.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall_at_anchor: DateTime<Utc>,
    anchor: Instant,
}

impl Clock {
    /// A clock anchored at the real current time.
    pub fn system() -> Self {
        Clock::starting_at(Utc::now())
    }

    /// A clock whose "now" is `wall` at this moment of tokio time.
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Clock {
            wall_at_anchor: wall,
            anchor: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.wall_at_anchor + chrono::Duration::from_std(self.anchor.elapsed()).unwrap_or_default()
    }

    /// The tokio instant at which wall time will be `at` (now, if `at` is past).
    pub fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        let offset = (at - self.wall_at_anchor).to_std().unwrap_or_default();
        self.anchor + offset
    }
}
