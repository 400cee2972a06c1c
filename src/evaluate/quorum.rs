//! Quorum across vantages: one model seen from several places, one decision for everyone.
//!
//! Each vantage (this server's own probes, and each agent's) judges the model with its own
//! [`crate::evaluate::Detector`]. A vantage *counts* while it reports the model and has a
//! state (not unknown). The state for everyone is the worst state that at least `needed`
//! counted vantages share: with three vantages and a quorum of two, two seeing a major
//! outage make a major outage, one alone changes nothing for everyone and is shown as
//! regional ("failing from eu-west only"). A region's own view is the same rule over that
//! region's vantages, with a majority of them.
//!
//! Pure: states in, a verdict out.

use crate::vocabulary::ModelState;

/// One vantage's view of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageView {
    /// `central` for this server's own probes, else the agent's name.
    pub name: String,
    pub region: String,
    pub state: ModelState,
    /// Whether it reported the model recently enough to count.
    pub active: bool,
}

/// The decision over every vantage.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: ModelState,
    /// Vantages that counted (active, with a state).
    pub counted: usize,
    /// How many had to agree: the quorum, lowered to the vantages counted when fewer report.
    pub needed: usize,
    /// Whether the configured quorum had to be lowered to `counted`.
    pub lowered: bool,
    /// The counted vantages at least as bad as `state`, when it is impaired.
    pub agreeing: Vec<VantageView>,
    /// Counted vantages impaired beyond `state`: what fails there only.
    pub regional: Vec<VantageView>,
    /// Vantages that reported once but no longer count (stale).
    pub stale: Vec<VantageView>,
}

/// The quorum a number of counted vantages needs: the configured one, else a majority.
pub fn needed(quorum: Option<u32>, counted: usize) -> usize {
    quorum.map_or(counted / 2 + 1, |q| q as usize).max(1)
}

/// Judges `views` with `quorum` (`None`: a majority of those counted).
pub fn judge(views: &[VantageView], quorum: Option<u32>) -> Verdict {
    let counted: Vec<&VantageView> = views
        .iter()
        .filter(|v| v.active && v.state.severity().is_some())
        .collect();
    let stale = views.iter().filter(|v| !v.active).cloned().collect();
    let wanted = needed(quorum, counted.len());
    let needed = wanted.min(counted.len()).max(1);
    let lowered = !counted.is_empty() && wanted > counted.len();
    let mut severities: Vec<u8> = counted.iter().filter_map(|v| v.state.severity()).collect();
    severities.sort_unstable_by(|a, b| b.cmp(a));
    let Some(&agreed) = severities.get(needed - 1) else {
        return Verdict {
            state: ModelState::Unknown,
            counted: 0,
            needed,
            lowered: false,
            agreeing: Vec::new(),
            regional: Vec::new(),
            stale,
        };
    };
    let state = state_of(agreed);
    let severity = |v: &&VantageView| v.state.severity().unwrap_or(0);
    Verdict {
        state,
        counted: counted.len(),
        needed,
        lowered,
        agreeing: if agreed > 0 {
            counted
                .iter()
                .filter(|v| severity(v) >= agreed)
                .map(|v| (*v).clone())
                .collect()
        } else {
            Vec::new()
        },
        regional: counted
            .iter()
            .filter(|v| severity(v) > agreed)
            .map(|v| (*v).clone())
            .collect(),
        stale,
    }
}

/// The model's state as `region` sees it: a majority of that region's counted vantages, or
/// `None` when none of them counts (the decision for everyone applies there).
pub fn regional(views: &[VantageView], region: &str) -> Option<ModelState> {
    let mine: Vec<VantageView> = views
        .iter()
        .filter(|v| v.region == region)
        .cloned()
        .collect();
    let verdict = judge(&mine, None);
    (verdict.counted > 0).then_some(verdict.state)
}

fn state_of(severity: u8) -> ModelState {
    match severity {
        0 => ModelState::Operational,
        1 => ModelState::DegradedPerformance,
        2 => ModelState::PartialOutage,
        _ => ModelState::MajorOutage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModelState::*;

    fn v(name: &str, region: &str, state: ModelState) -> VantageView {
        VantageView {
            name: name.into(),
            region: region.into(),
            state,
            active: true,
        }
    }

    fn names(list: &[VantageView]) -> Vec<&str> {
        list.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn the_worst_state_a_quorum_shares_decides() {
        let three = |a, b, c| {
            vec![
                v("central", "local", a),
                v("a1", "eu-west", b),
                v("a2", "us-east", c),
            ]
        };
        // (views, quorum, state for everyone, agreeing, regional)
        type Row = (
            Vec<VantageView>,
            Option<u32>,
            ModelState,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let rows: Vec<Row> = vec![
            (
                three(Operational, MajorOutage, Operational),
                None,
                Operational,
                vec![],
                vec!["a1"],
            ),
            (
                three(Operational, MajorOutage, MajorOutage),
                None,
                MajorOutage,
                vec!["a1", "a2"],
                vec![],
            ),
            // Two agree on at least a partial outage: partial for everyone, major in one place.
            (
                three(Operational, MajorOutage, PartialOutage),
                None,
                PartialOutage,
                vec!["a1", "a2"],
                vec!["a1"],
            ),
            (
                three(MajorOutage, MajorOutage, MajorOutage),
                None,
                MajorOutage,
                vec!["central", "a1", "a2"],
                vec![],
            ),
            // A quorum of one: any vantage decides (one place is enough for this operator).
            (
                three(Operational, MajorOutage, Operational),
                Some(1),
                MajorOutage,
                vec!["a1"],
                vec![],
            ),
            // A quorum of three: two are not enough.
            (
                three(Operational, MajorOutage, MajorOutage),
                Some(3),
                Operational,
                vec![],
                vec!["a1", "a2"],
            ),
        ];
        for (views, quorum, want, agreeing, regional) in rows {
            let got = judge(&views, quorum);
            assert_eq!(got.state, want, "{views:?} quorum {quorum:?}");
            assert_eq!(names(&got.agreeing), agreeing, "{views:?}");
            assert_eq!(names(&got.regional), regional, "{views:?}");
        }
    }

    #[test]
    fn stale_and_unknown_vantages_do_not_count() {
        let mut views = vec![
            v("central", "local", Operational),
            v("a1", "eu-west", MajorOutage),
            v("a2", "us-east", MajorOutage),
        ];
        views[2].active = false;
        // Two count, a majority of two is two: a1 alone is regional.
        let got = judge(&views, None);
        assert_eq!((got.state, got.counted, got.needed), (Operational, 2, 2));
        assert_eq!(names(&got.stale), ["a2"]);
        views[0].state = Unknown;
        // Only a1 counts now: a majority of one.
        let got = judge(&views, None);
        assert_eq!((got.state, got.counted, got.needed), (MajorOutage, 1, 1));
        // A configured quorum larger than what reports is lowered, and says so.
        let got = judge(&views, Some(2));
        assert_eq!((got.state, got.needed, got.lowered), (MajorOutage, 1, true));
        views[1].active = false;
        assert_eq!(judge(&views, None).state, Unknown);
    }

    #[test]
    fn a_region_sees_what_its_own_vantages_see() {
        let views = vec![
            v("central", "local", Operational),
            v("a1", "eu-west", MajorOutage),
            v("a3", "eu-west", MajorOutage),
            v("a2", "us-east", Operational),
        ];
        assert_eq!(regional(&views, "eu-west"), Some(MajorOutage));
        assert_eq!(regional(&views, "us-east"), Some(Operational));
        assert_eq!(regional(&views, "ap-south"), None);
        // For everyone: two of four, a majority is three.
        assert_eq!(judge(&views, None).state, Operational);
    }

    #[test]
    fn majority_by_count() {
        assert_eq!(
            (1..=5).map(|n| needed(None, n)).collect::<Vec<_>>(),
            [1, 2, 2, 3, 3]
        );
    }
}
