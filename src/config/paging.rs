//! `[paging]` settings: how the on-call is paged when an automatic incident opens.

use std::time::Duration;

use toml::Spanned;

use super::raw::RawPaging;
use super::Secret;
use crate::vocabulary::Format;

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty Events API v2: the routing (integration) key and where events go.
#[derive(Debug, Clone)]
pub struct PagerDutyChannel {
    pub routing_key: Secret,
    /// `https://events.pagerduty.com/v2/enqueue` unless configured (tests use a local one).
    pub url: String,
}

/// A chat or native webhook paged with a message built by `notify::formats`.
#[derive(Debug, Clone, PartialEq)]
pub struct PagingWebhook {
    pub url: String,
    pub format: Format,
}

#[derive(Debug, Clone)]
pub struct PagingConfig {
    /// Defaults to true when any channel is configured.
    pub enabled: bool,
    pub pagerduty: Option<PagerDutyChannel>,
    pub webhooks: Vec<PagingWebhook>,
    /// An incident still unacknowledged this long after its last page is paged again.
    pub repage_after: Duration,
}

impl Default for PagingConfig {
    fn default() -> Self {
        PagingConfig {
            enabled: false,
            pagerduty: None,
            webhooks: Vec::new(),
            repage_after: Duration::from_secs(15 * 60),
        }
    }
}

impl PagingConfig {
    pub fn has_channels(&self) -> bool {
        self.pagerduty.is_some() || !self.webhooks.is_empty()
    }
}

fn http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
}

/// Validates `[paging]`; problems come with the byte offset of the value at fault (`None`:
/// the table itself), located by the caller.
pub fn parse(
    raw: &RawPaging,
    env: &dyn Fn(&str) -> Option<String>,
) -> (PagingConfig, Vec<(Option<usize>, String)>) {
    let mut c = PagingConfig::default();
    let mut problems = Vec::new();
    let at = |s: &Spanned<String>| Some(s.span().start);
    let url = match &raw.pagerduty_url {
        Some(u) if !http_url(u.get_ref()) => {
            problems.push((
                at(u),
                format!(
                    "`pagerduty_url` must be an http(s) URL, not `{}`",
                    u.get_ref()
                ),
            ));
            PAGERDUTY_EVENTS_URL.to_string()
        }
        Some(u) => u.get_ref().clone(),
        None => PAGERDUTY_EVENTS_URL.to_string(),
    };
    match &raw.pagerduty_routing_key_env {
        Some(var) => match env(var.get_ref()).filter(|v| !v.trim().is_empty()) {
            Some(key) => {
                c.pagerduty = Some(PagerDutyChannel {
                    routing_key: Secret::new(key.trim()),
                    url,
                })
            }
            None => problems.push((
                at(var),
                format!(
                    "environment variable `{}` (the PagerDuty routing key) is not set",
                    var.get_ref()
                ),
            )),
        },
        None => {
            if let Some(u) = &raw.pagerduty_url {
                problems.push((
                    at(u),
                    "`pagerduty_url` needs `pagerduty_routing_key_env` (the variable holding the routing key)".into(),
                ));
            }
        }
    }
    for w in &raw.webhooks {
        if !http_url(w.url.get_ref()) {
            problems.push((
                at(&w.url),
                format!(
                    "paging webhook `url` must be an http(s) URL, not `{}`",
                    w.url.get_ref()
                ),
            ));
            continue;
        }
        let format = match &w.format {
            None => Format::Native,
            Some(f) => match Format::parse(f.get_ref()) {
                Some(
                    format @ (Format::Native | Format::Slack | Format::Discord | Format::Teams),
                ) => format,
                _ => {
                    problems.push((
                        at(f),
                        format!(
                            "paging webhook `format` must be \"slack\", \"discord\", \"teams\" or \"native\", not `{}` (PagerDuty is `pagerduty_routing_key_env`)",
                            f.get_ref()
                        ),
                    ));
                    continue;
                }
            },
        };
        c.webhooks.push(PagingWebhook {
            url: w.url.get_ref().clone(),
            format,
        });
    }
    if let Some(r) = &raw.repage_after {
        match humantime::parse_duration(r.get_ref()) {
            Ok(d) if d >= Duration::from_secs(60) => c.repage_after = d,
            _ => problems.push((
                at(r),
                format!(
                    "`repage_after` = `{}` must be a duration of at least 1m, e.g. \"15m\"",
                    r.get_ref()
                ),
            )),
        }
    }
    let configured = raw.pagerduty_routing_key_env.is_some() || !raw.webhooks.is_empty();
    c.enabled = match raw.enabled {
        Some(true) if !configured => {
            problems.push((
                None,
                "`enabled = true` but no channel: set `pagerduty_routing_key_env` or `webhooks`"
                    .into(),
            ));
            false
        }
        Some(e) => e,
        None => configured,
    };
    (c, problems)
}
