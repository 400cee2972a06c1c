//! PLACEHOLDER: being written.

use async_trait::async_trait;

use super::{Outcome, ProbeReport, ProbeTarget, Prober};

pub struct OpenAiProber {
    client: reqwest::Client,
}

impl OpenAiProber {
    pub fn new(client: reqwest::Client) -> Self {
        OpenAiProber { client }
    }
}

#[async_trait]
impl Prober for OpenAiProber {
    async fn probe(&self, _target: &ProbeTarget) -> ProbeReport {
        let _ = &self.client;
        ProbeReport::failed(Outcome::Malformed, "not yet implemented")
    }
}
