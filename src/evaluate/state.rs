//! A provider's rollup state, summarised from its models' states.

use crate::vocabulary::ModelState;

/// A provider's rollup state, derived from its models' states. It is only a summary for
/// pages and never feeds back into any model's own decision.
pub fn provider_rollup(models: &[ModelState]) -> ModelState {
    let health: Vec<u8> = models.iter().filter_map(|m| m.severity()).collect();
    if health.is_empty() {
        return if !models.is_empty() && models.iter().all(|m| *m == ModelState::UnderMaintenance) {
            ModelState::UnderMaintenance
        } else {
            ModelState::Unknown
        };
    }
    let worst = health.iter().copied().max().unwrap_or(0);
    match worst {
        0 => ModelState::Operational,
        1 => ModelState::DegradedPerformance,
        // Every model down is a major outage of the provider; some models down is partial.
        _ if health.len() == models.len() && health.iter().all(|s| *s == 3) => {
            ModelState::MajorOutage
        }
        _ => ModelState::PartialOutage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModelState::*;

    #[test]
    fn provider_rollup_summarises_without_blanket_outage() {
        let rows = [
            (vec![Operational, Operational], Operational),
            (vec![Operational, DegradedPerformance], DegradedPerformance),
            (vec![MajorOutage, MajorOutage, Operational], PartialOutage),
            (vec![MajorOutage, MajorOutage], MajorOutage),
            (vec![Unknown, Operational], Operational),
            (vec![Unknown], Unknown),
            (vec![UnderMaintenance, UnderMaintenance], UnderMaintenance),
        ];
        for (models, want) in rows {
            assert_eq!(provider_rollup(&models), want, "{models:?}");
        }
    }
}
