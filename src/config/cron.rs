//! `CronSchedule`: a cron expression with a seconds field, parsed once at the edge.
//! Refusals are explained by [`super::cron_explain`].

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A parsed six- or seven-field cron expression (`sec min hour day month weekday [year]`).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// Parses `expression`; a refusal says, in one line, what is wrong and how to write it
    /// ([`super::cron_explain::explain`]), never the cron crate's own parser trace.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let schedule = cron::Schedule::from_str(expression)
            .map_err(|_| super::cron_explain::explain(expression))?;
        let parsed = CronSchedule {
            expression: expression.to_string(),
            schedule,
        };
        if parsed.next_after(Utc::now()).is_none() {
            return Err(format!("cron schedule `{expression}` never fires again"));
        }
        Ok(parsed)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// The nominal interval: the gap between the next two fire times after `at`. Windows and
    /// thresholds that "scale with the probe interval" use this.
    pub fn interval_at(&self, at: DateTime<Utc>) -> Duration {
        let mut upcoming = self.schedule.after(&at);
        match (upcoming.next(), upcoming.next()) {
            (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
            _ => Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_field_is_required_and_explained() {
        let err = CronSchedule::parse("*/5 * * * *").unwrap_err();
        assert_eq!(
            err,
            "cron expressions have 6 fields (seconds first): `0 */5 * * * *`, got 5"
        );
        let err = CronSchedule::parse("every minute").unwrap_err();
        assert!(err.contains("cron expressions have 6 fields"), "{err}");
        let err = CronSchedule::parse("0 0 24 * * *").unwrap_err();
        assert_eq!(
            err,
            "hour 24 is out of range 0–23 in the cron expression `0 0 24 * * *`"
        );
    }

    #[test]
    fn interval_of_common_schedules() {
        let now = Utc::now();
        assert_eq!(
            CronSchedule::parse("*/30 * * * * *")
                .unwrap()
                .interval_at(now),
            Duration::from_secs(30)
        );
        assert_eq!(
            CronSchedule::parse("* * * * * *").unwrap().interval_at(now),
            Duration::from_secs(1)
        );
        assert_eq!(
            CronSchedule::parse("0 */5 * * * *")
                .unwrap()
                .interval_at(now),
            Duration::from_secs(300)
        );
    }
}
