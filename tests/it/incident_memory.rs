//! A resolved incident is remembered as it was at its worst: every model it ever affected and
//! its peak impact, with a title that names them all (issue 13: after resolution the demo's
//! incident listed one of its two models and "minor" although it had been major).
//! Simulated time, no sleeps.

use chrono::{DateTime, TimeZone, Utc};
use modelwatch::evaluate::engine::Engine;

use crate::helpers::{config_from, simulate_second};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// `acme/big` is hard down between 60 s and 240 s; `acme/mid` fails 30% of its probes between
/// 180 s and 600 s, so it is still impaired, less badly, after `big` has recovered.
const TWO_FAULTS: &str = r#"
[[providers]]
id = "acme"
name = "Acme"
kind = "simulated"
schedule = "* * * * * *"
simulate = { ttft = "500ms", jitter = "100ms", error_rate = 0.0 }
models = [
  { id = "big", name = "Big", simulate = { faults = [ { after = "60s", duration = "180s", error_rate = 1.0, error_mix = { overloaded = 1 } } ] } },
  { id = "mid", name = "Mid", simulate = { faults = [ { after = "180s", duration = "420s", error_rate = 0.3, error_mix = { http_5xx = 1 } } ] } },
  { id = "small", name = "Small" },
]
"#;

#[tokio::test]
async fn a_resolved_incident_keeps_every_model_it_affected_and_its_peak_impact() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_from(TWO_FAULTS, &[]);
    let store =
        crate::helpers::open_store(&crate::helpers::fresh_database(dir.path(), "memory.db").await)
            .await;
    let mut engine = Engine::new(store.clone(), &config, t0()).await.unwrap();
    let mut seen_lower_impact_after_peak = false;
    for s in 0..2400 {
        simulate_second(&config, &store, &mut engine, t0(), s).await;
        if s % 30 == 0 {
            if let Some(i) = store.incidents(10).await.unwrap().first() {
                let last = i
                    .updates
                    .last()
                    .map(|u| u.impact.clone())
                    .unwrap_or_default();
                seen_lower_impact_after_peak |=
                    i.impact == "critical" && (last == "minor" || last == "major");
            }
        }
    }
    let incidents = store.incidents(10).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.status, "resolved", "{incident:#?}");
    assert!(
        seen_lower_impact_after_peak,
        "the scenario must have an update less severe than the peak: {incident:#?}"
    );
    assert_eq!(
        incident.impact, "critical",
        "its worst impact: {incident:#?}"
    );
    assert_eq!(incident.affected, ["acme/big", "acme/mid"], "{incident:#?}");
    assert!(
        incident.title.contains("Big") && incident.title.contains("Mid"),
        "the title names both: {}",
        incident.title
    );
    assert!(!incident.title.contains("Small"), "{}", incident.title);
    // The updates still say what was impaired at each moment: one update names `mid` alone.
    assert!(
        incident
            .updates
            .iter()
            .any(|u| u.affected == ["acme/mid"] && u.impact != "critical"),
        "{:#?}",
        incident.updates
    );
}
