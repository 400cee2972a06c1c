//! When to say that a model's probes outlast their interval: once as it starts, with a count
//! when it stops, and in between at most once every [`REMIND_EVERY`].
//!
//! During a fault a slow model overruns on every probe, so a warning per probe repeats every
//! few seconds and buries the rest of the log. [`OverrunLog`] holds one model's episode of
//! overruns and decides, from the skips each scheduled probe reports and the time, which
//! line (if any) to write. It is pure: the scheduler gives it the clock's time, and tests
//! drive it in simulated time.

use chrono::{DateTime, Duration, Utc};

/// The longest an episode of overruns goes without a line in the log.
pub const REMIND_EVERY: Duration = Duration::minutes(10);

/// One model's current episode of overruns, if any.
#[derive(Debug, Default)]
pub struct OverrunLog {
    episode: Option<Episode>,
}

#[derive(Debug)]
struct Episode {
    started: DateTime<Utc>,
    /// Runs skipped since the episode started.
    skipped: u64,
    /// Runs skipped since the last line about this episode.
    skipped_since_line: u64,
    last_line: DateTime<Utc>,
}

/// A line to write about a model's overruns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrunNote {
    /// Probes started to outlast their interval; `skipped` runs were skipped this time.
    Started { skipped: u64 },
    /// Still overrunning, [`REMIND_EVERY`] or more after the last line.
    Continuing {
        /// Skipped since the last line.
        skipped: u64,
        /// Skipped since the episode started.
        total: u64,
        since: DateTime<Utc>,
    },
    /// A scheduled probe finished within its interval again.
    Stopped {
        /// Skipped during the whole episode.
        total: u64,
        lasted: Duration,
    },
}

impl OverrunLog {
    /// Called after each scheduled probe with the runs it overlapped (0 if it finished in
    /// time); returns the line to write, if one is due.
    pub fn observe(&mut self, now: DateTime<Utc>, skipped: u64) -> Option<OverrunNote> {
        match (&mut self.episode, skipped) {
            (None, 0) => None,
            (None, skipped) => {
                self.episode = Some(Episode {
                    started: now,
                    skipped,
                    skipped_since_line: 0,
                    last_line: now,
                });
                Some(OverrunNote::Started { skipped })
            }
            (Some(episode), 0) => {
                let note = OverrunNote::Stopped {
                    total: episode.skipped,
                    lasted: now - episode.started,
                };
                self.episode = None;
                Some(note)
            }
            (Some(episode), skipped) => {
                episode.skipped += skipped;
                episode.skipped_since_line += skipped;
                if now - episode.last_line < REMIND_EVERY {
                    return None;
                }
                let note = OverrunNote::Continuing {
                    skipped: episode.skipped_since_line,
                    total: episode.skipped,
                    since: episode.started,
                };
                episode.skipped_since_line = 0;
                episode.last_line = now;
                Some(note)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(seconds since start, runs skipped)` to a fresh log and returns each line due,
    /// with its time.
    fn run(observations: &[(i64, u64)]) -> Vec<(i64, OverrunNote)> {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let mut log = OverrunLog::default();
        observations
            .iter()
            .filter_map(|(s, skipped)| {
                log.observe(t0 + Duration::seconds(*s), *skipped)
                    .map(|n| (*s, n))
            })
            .collect()
    }

    #[test]
    fn in_time_probes_say_nothing() {
        assert_eq!(run(&[(0, 0), (2, 0), (4, 0)]), vec![]);
    }

    #[test]
    fn an_episode_is_said_when_it_starts_and_when_it_stops() {
        // A 2 s schedule, probes taking ~6 s for a minute: each skips 2 runs.
        let mut obs: Vec<(i64, u64)> = (0..10).map(|i| (i * 6, 2)).collect();
        obs.push((66, 0));
        obs.push((68, 0));
        assert_eq!(
            run(&obs),
            vec![
                (0, OverrunNote::Started { skipped: 2 }),
                (
                    66,
                    OverrunNote::Stopped {
                        total: 20,
                        lasted: Duration::seconds(66)
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_long_episode_is_recalled_at_most_every_ten_minutes() {
        // Overrunning every 6 s for 25 minutes.
        let mut obs: Vec<(i64, u64)> = (0..=250).map(|i| (i * 6, 1)).collect();
        obs.push((1506, 0));
        let lines = run(&obs);
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            lines,
            vec![
                (0, OverrunNote::Started { skipped: 1 }),
                (
                    600,
                    OverrunNote::Continuing {
                        skipped: 100,
                        total: 101,
                        since: t0
                    }
                ),
                (
                    1200,
                    OverrunNote::Continuing {
                        skipped: 100,
                        total: 201,
                        since: t0
                    }
                ),
                (
                    1506,
                    OverrunNote::Stopped {
                        total: 251,
                        lasted: Duration::seconds(1506)
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_new_episode_after_a_stop_is_said_again() {
        let lines = run(&[(0, 3), (5, 0), (7, 0), (20, 1), (25, 1), (30, 0)]);
        assert_eq!(
            lines,
            vec![
                (0, OverrunNote::Started { skipped: 3 }),
                (
                    5,
                    OverrunNote::Stopped {
                        total: 3,
                        lasted: Duration::seconds(5)
                    }
                ),
                (20, OverrunNote::Started { skipped: 1 }),
                (
                    30,
                    OverrunNote::Stopped {
                        total: 2,
                        lasted: Duration::seconds(10)
                    }
                ),
            ]
        );
    }
}
