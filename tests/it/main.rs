//! Integration tests, in one binary so the crate links once. Fake providers and receivers
//! are real local servers on port 0; anything that waits runs in simulated time.

mod admin_auth;
mod admin_helpers;
mod admin_incidents;
mod admin_ops;
mod admin_pages_ops;
mod admin_reopen;
mod admin_subscriptions;
mod api_errors;
mod api_v1;
mod cli;
mod client_ip;
mod config_errors;
mod email;
mod email_subscription;
mod feeds_badges;
mod helpers;
mod maintenance_public;
mod metrics;
mod notify_crash;
mod openapi_coverage;
mod paging;
mod probe_anthropic;
mod probe_bedrock;
mod probe_gemini;
mod probe_openai;
mod replay;
mod scheduler;
mod smtp_sink;
mod status_page;
mod statuspage_api;
mod store_results;
mod subscription_forms;
mod subscriptions_api;
mod web_site;
mod webhooks;
