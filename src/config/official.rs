//! `[[providers]] official = { kind, url, components }`: where a provider publishes its own
//! status, and which of its published components speak for which of our models.
//!
//! The published page is coarse (one component for a whole API) and late, so it never
//! decides routing: it is polled, stored and shown beside our own state, and the gap between
//! the two is measured (`crate::official`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// `official = { … }` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOfficial {
    pub kind: Spanned<String>,
    pub url: Option<Spanned<String>>,
    /// `"<published component name or id>" = ["model-id", …]`.
    #[serde(default)]
    pub components: BTreeMap<String, Vec<Spanned<String>>>,
    pub poll: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub adopt_maintenance: Option<bool>,
    /// `simulated` kind: how long after a simulated fault starts (and ends) the simulated
    /// page acknowledges (and resolves) it.
    pub delay: Option<Spanned<String>>,
}

/// The format a provider's official page is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficialKind {
    /// Atlassian Statuspage API v2 (`/api/v2/summary.json` and `incidents.json`).
    Statuspage,
    /// incident.io's public status page widget API.
    IncidentIo,
    /// An Atom or RSS incident feed.
    Feed,
    /// Google Cloud's public `incidents.json`.
    GoogleCloud,
    /// The demo's page, derived from the simulated provider's fault windows.
    Simulated,
}

impl OfficialKind {
    pub const ALL: [OfficialKind; 5] = [
        OfficialKind::Statuspage,
        OfficialKind::IncidentIo,
        OfficialKind::Feed,
        OfficialKind::GoogleCloud,
        OfficialKind::Simulated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OfficialKind::Statuspage => "statuspage",
            OfficialKind::IncidentIo => "incidentio",
            OfficialKind::Feed => "feed",
            OfficialKind::GoogleCloud => "google_cloud",
            OfficialKind::Simulated => "simulated",
        }
    }

    pub fn parse(text: &str) -> Option<OfficialKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A provider's validated official source.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialSource {
    pub kind: OfficialKind,
    /// The page's address (`None` for `simulated`).
    pub url: Option<String>,
    /// Published component (name or id, as written) → the `provider/model` keys it covers.
    pub components: BTreeMap<String, Vec<String>>,
    /// Time between two polls while the page answers.
    pub poll: Duration,
    /// One poll's deadline (DNS, connection and body together).
    pub timeout: Duration,
    /// Whether a published maintenance of a mapped component becomes our maintenance window.
    pub adopt_maintenance: bool,
    /// `simulated`: the simulated page's delay behind the fault.
    pub delay: Duration,
}

/// The shortest poll interval accepted: status pages are CDN-cached for about a minute and
/// their operators ask clients not to hammer them.
pub const MIN_POLL: Duration = Duration::from_secs(10);
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_DELAY: Duration = Duration::from_secs(180);

/// A problem at a position of the file (the byte offset of the value), or at the provider.
pub type Problem = (Option<usize>, String);

/// Validates `raw` for provider `provider` whose model ids are `models`.
pub fn parse(
    raw: &RawOfficial,
    provider: &str,
    models: &[String],
) -> (OfficialSource, Vec<Problem>) {
    let mut problems: Vec<Problem> = Vec::new();
    let at = |s: &Spanned<String>| Some(s.span().start);
    let kind = OfficialKind::parse(raw.kind.get_ref()).unwrap_or_else(|| {
        problems.push((
            at(&raw.kind),
            format!(
                "unknown official kind `{}`: use statuspage, incidentio, feed, google_cloud or simulated",
                raw.kind.get_ref()
            ),
        ));
        OfficialKind::Simulated
    });
    let url = match (&raw.url, kind) {
        (Some(u), OfficialKind::Simulated) => {
            problems.push((at(u), "a `simulated` official source has no `url`".into()));
            None
        }
        (Some(u), _) => {
            let ok = reqwest::Url::parse(u.get_ref())
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
            if !ok {
                problems.push((
                    at(u),
                    format!(
                        "official `url` must be an http(s) URL, not `{}`",
                        u.get_ref()
                    ),
                ));
            }
            Some(u.get_ref().trim_end_matches('/').to_string())
        }
        (None, OfficialKind::Simulated) => None,
        (None, k) => {
            problems.push((
                at(&raw.kind),
                format!("an official source of kind `{}` needs a `url`", k.as_str()),
            ));
            None
        }
    };
    let mut components = BTreeMap::new();
    for (component, ids) in &raw.components {
        let mut keys = Vec::new();
        for id in ids {
            if models.iter().any(|m| m == id.get_ref()) {
                keys.push(format!("{provider}/{}", id.get_ref()));
            } else {
                problems.push((
                    at(id),
                    format!(
                        "official component `{component}` names `{}`, which is not a model of provider `{provider}`",
                        id.get_ref()
                    ),
                ));
            }
        }
        components.insert(component.clone(), keys);
    }
    if raw.components.is_empty() {
        problems.push((
            at(&raw.kind),
            "an official source needs `components = { \"<published component>\" = [\"model-id\", …] }`: without them nothing it says can be set beside a model".into(),
        ));
    }
    let mut duration =
        |value: &Option<Spanned<String>>, name: &str, default: Duration, least: Duration| {
            let Some(v) = value else { return default };
            match humantime::parse_duration(v.get_ref()) {
                Ok(d) if d >= least => d,
                Ok(_) => {
                    problems.push((
                        at(v),
                        format!(
                            "official `{name}` = `{}` is too short; at least {}",
                            v.get_ref(),
                            humantime::format_duration(least)
                        ),
                    ));
                    default
                }
                Err(_) => {
                    problems.push((
                        at(v),
                        format!(
                            "official `{name}` = `{}` is not a duration; write e.g. \"60s\"",
                            v.get_ref()
                        ),
                    ));
                    default
                }
            }
        };
    let poll = duration(&raw.poll, "poll", DEFAULT_POLL, MIN_POLL);
    let timeout = duration(
        &raw.timeout,
        "timeout",
        DEFAULT_TIMEOUT,
        Duration::from_secs(1),
    );
    let delay = duration(&raw.delay, "delay", DEFAULT_DELAY, Duration::ZERO);
    if let Some(d) = raw
        .delay
        .as_ref()
        .filter(|_| kind != OfficialKind::Simulated)
    {
        problems.push((
            at(d),
            "`delay` applies only to a `simulated` official source".into(),
        ));
    }
    let source = OfficialSource {
        kind,
        url,
        components,
        poll,
        timeout,
        adopt_maintenance: raw.adopt_maintenance.unwrap_or(false),
        delay,
    };
    (source, problems)
}
