//! The demo's official page: derived from the simulated provider's own fault windows, it
//! acknowledges each fault `delay` after it begins and resolves it `delay` after it ends,
//! as a provider's page typically does, so a newcomer sees the lead on the page.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Component, Incident, Report};
use crate::config::{FaultWindow, OfficialSource, ProviderConfig};
use crate::vocabulary::ModelState;

/// The published incidents kept per component: the latest faults, enough for the figures.
const LATEST: u64 = 50;

/// The simulated page of `provider` at `now`, for a service started at `started`.
pub fn report(
    provider: &ProviderConfig,
    source: &OfficialSource,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Report {
    let elapsed = (now - started).to_std().unwrap_or_default();
    let mut report = Report::default();
    for (component, keys) in &source.components {
        // The fault windows of the component's models; one incident per window occurrence.
        let mut windows: Vec<&FaultWindow> = Vec::new();
        for m in &provider.models {
            if keys.contains(&format!("{}/{}", provider.id, m.id)) {
                for w in &m.simulation.faults {
                    if !windows.contains(&w) {
                        windows.push(w);
                    }
                }
            }
        }
        let mut state = ModelState::Operational;
        for (w_index, w) in windows.iter().enumerate() {
            for k in occurrences(w, source.delay, elapsed) {
                let begins = w.after + w.every.unwrap_or_default() * k as u32 + source.delay;
                let ends = begins + w.duration;
                let resolved = ends <= elapsed;
                let impact = if w.error_rate >= 0.9 {
                    ModelState::MajorOutage
                } else {
                    ModelState::PartialOutage
                };
                if !resolved {
                    state = impact;
                }
                let at = |d: Duration| started + chrono::Duration::from_std(d).unwrap_or_default();
                report.incidents.push(Incident {
                    id: format!("sim-{component}-{w_index}-{k}"),
                    name: format!("Elevated errors on {component}"),
                    url: None,
                    status: if resolved {
                        "resolved"
                    } else {
                        "investigating"
                    }
                    .into(),
                    impact: Some(impact),
                    published_at: Some(at(begins)),
                    resolved_at: resolved.then(|| at(ends)),
                    finished: resolved,
                    components: vec![(component.clone(), component.clone())],
                    text: String::new(),
                    maintenance: None,
                });
            }
        }
        report.components.push(Component {
            id: component.clone(),
            name: component.clone(),
            state,
        });
    }
    report
}

/// The indices of the occurrences of `w` the page has acknowledged by `elapsed`, the
/// latest [`LATEST`] of them.
fn occurrences(w: &FaultWindow, delay: Duration, elapsed: Duration) -> std::ops::Range<u64> {
    let Some(since) = elapsed.checked_sub(w.after + delay) else {
        return 0..0;
    };
    let last = match w.every {
        Some(every) if !every.is_zero() => (since.as_nanos() / every.as_nanos()) as u64,
        _ => 0,
    };
    last.saturating_sub(LATEST - 1)..last + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_page_acknowledges_each_fault_after_its_delay_and_resolves_it_after_its_end() {
        let config = crate::config::demo::demo_config().expect("the demo parses");
        let provider = config
            .providers
            .iter()
            .find(|p| p.official.is_some())
            .expect("the demo has a simulated official page");
        let source = provider.official.as_ref().unwrap();
        let started = DateTime::<Utc>::UNIX_EPOCH;
        let at = |s: i64| started + chrono::Duration::seconds(s);
        let fault = 60 + source.delay.as_secs() as i64;
        let before = report(provider, source, started, at(fault - 1));
        assert!(before.incidents.is_empty(), "{before:?}");
        assert!(before
            .components
            .iter()
            .all(|c| c.state == ModelState::Operational));
        let during = report(provider, source, started, at(fault + 1));
        assert_eq!(during.incidents.len(), 1, "{during:?}");
        assert!(!during.incidents[0].resolved());
        assert_eq!(during.incidents[0].published_at, Some(at(fault)));
        assert!(during
            .components
            .iter()
            .any(|c| c.state == ModelState::PartialOutage));
        let after = report(provider, source, started, at(fault + 240 + 1));
        assert!(after.incidents[0].resolved());
        assert_eq!(after.incidents[0].resolved_at, Some(at(fault + 240)));
    }
}
