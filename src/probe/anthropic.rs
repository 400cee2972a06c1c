//! PLACEHOLDER: being written.

use async_trait::async_trait;

use super::{Outcome, ProbeReport, ProbeTarget, Prober};

pub struct AnthropicProber {
    client: reqwest::Client,
}

impl AnthropicProber {
    pub fn new(client: reqwest::Client) -> Self {
        AnthropicProber { client }
    }
}

#[async_trait]
impl Prober for AnthropicProber {
    async fn probe(&self, _target: &ProbeTarget) -> ProbeReport {
        let _ = &self.client;
        ProbeReport::failed(Outcome::Malformed, "not yet implemented")
    }
}
