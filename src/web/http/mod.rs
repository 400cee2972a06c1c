//! HTTP pieces shared by the public and the admin handlers.
//!
//! - [`rejections`]: every refusal under `/api/v1` in the one documented JSON shape.

pub mod rejections;
