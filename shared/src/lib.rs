//! Everything the CRM functions have in common: configuration, the one error type, domain
//! types, authentication, the role policy, the single-table store with its two backends,
//! the use cases, the service-level clocks and the HTTP glue that every Lambda (and the local
//! server) shares.

pub mod assignment;
pub mod attachments;
pub mod auth;
pub mod cloud;
pub mod config;
pub mod counters;
pub mod error;
pub mod http;
#[cfg(test)]
mod layers;
pub mod mail;
pub mod model;
pub mod policy;
pub mod queue;
pub mod retry;
pub mod service;
pub mod sla;
pub mod store;
mod tls;
pub mod webhooks;

pub use error::{ApiError, ErrorCode};
