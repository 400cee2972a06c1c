//! HTTP pieces shared by the public and the admin handlers, so that neither side imports
//! the other:
//!
//! - [`error`]: [`ApiError`], the JSON error and its status codes, written once;
//! - [`rejections`]: every refusal under `/api/v1` in that shape (path, query and body
//!   extractors, and the middleware that reshapes what axum answers by itself);
//! - [`rate_limit`]: [`RateLimiter`], requests per client address per window;
//! - [`credentials`]: bearer tokens and cookies read from request headers;
//! - [`security`]: the security headers of every response, by surface;
//! - [`origin`]: cross-site state changes on the admin surface refused.

//!
//! **Architecture invariant:** nothing here imports `web::admin` or `web::subscriptions`.

pub mod credentials;
pub mod error;
pub mod origin;
pub mod rate_limit;
pub mod rejections;
pub mod scoped_token;
pub mod security;

pub use error::{retry_later, ApiError, RetryLater};
pub use rate_limit::RateLimiter;
