//! PLACEHOLDER: being written.

use async_trait::async_trait;

use super::{Outcome, ProbeReport, ProbeTarget, Prober};

pub struct BedrockProber {
    client: reqwest::Client,
}

impl BedrockProber {
    pub fn new(client: reqwest::Client) -> Self {
        BedrockProber { client }
    }
}

#[async_trait]
impl Prober for BedrockProber {
    async fn probe(&self, _target: &ProbeTarget) -> ProbeReport {
        let _ = &self.client;
        ProbeReport::failed(Outcome::Malformed, "not yet implemented")
    }
}
