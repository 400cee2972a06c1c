//! Integration tests, in one binary so the crate links once. Fake providers and receivers
//! are real local servers on port 0; anything that waits runs in simulated time.

mod cli;
mod config_errors;
mod helpers;
mod probe_anthropic;
mod probe_bedrock;
mod probe_gemini;
mod probe_openai;
mod replay;
mod scheduler;
mod store_results;
mod web_site;
