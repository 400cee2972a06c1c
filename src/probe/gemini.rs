//! PLACEHOLDER: being written.

use async_trait::async_trait;

use super::{Outcome, ProbeReport, ProbeTarget, Prober};

pub struct GeminiProber {
    client: reqwest::Client,
}

impl GeminiProber {
    pub fn new(client: reqwest::Client) -> Self {
        GeminiProber { client }
    }
}

#[async_trait]
impl Prober for GeminiProber {
    async fn probe(&self, _target: &ProbeTarget) -> ProbeReport {
        let _ = &self.client;
        ProbeReport::failed(Outcome::Malformed, "not yet implemented")
    }
}
