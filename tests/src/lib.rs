//! The test harness: a `crm serve` process per test on a free port with its own data dir,
//! a small client with one helper per endpoint, and access to the AWS emulator that
//! `scripts/test` starts (missing emulator = failure, never a skip); below HTTP, the
//! service fixture (`desk`) and the run-on-both-backends macro (`backends`).

pub mod backends;
pub mod client;
pub mod desk;
pub mod emulator;
pub mod server;

pub use client::{Client, Resp, assert_error, assert_invalid, enc, keys};
pub use server::{Server, ServerOptions};

/// A unique suffix for names (tables, users) so tests can share one emulator.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
