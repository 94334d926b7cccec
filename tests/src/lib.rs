//! The test harness: a `crm serve` process per test on a free port with its own data dir,
//! a small client with one helper per endpoint, and access to the AWS emulator that
//! `scripts/test` starts (missing emulator = failure, never a skip); below HTTP, the
//! service fixture (`desk`) and the run-on-both-backends macro (`backends`); and S3's POST
//! policy checks in front of moto, which does not make them (`s3_policy`).

pub mod attach;
pub mod backends;
pub mod client;
pub mod desk;
pub mod emulator;
pub mod followers;
pub mod receiver;
pub mod s3_policy;
pub mod satisfaction;
pub mod server;

pub use client::{Client, Resp, assert_error, assert_invalid, enc, keys};
pub use server::{Server, ServerOptions};

/// The test venv's python (moto's venv, with the tests' pinned Python packages): $CRM_VENV
/// (scripts/test and scripts/with-emulators export it), else the cache dir's venv. A missing
/// venv fails the test, it never skips it.
pub fn venv_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf();
    let venv = std::env::var_os("CRM_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CRM_CACHE_DIR").map(|d| PathBuf::from(d).join("venv")))
        .unwrap_or_else(|| root.join(".cache/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "the test venv's python is missing at {} (run scripts/test, which installs it, or set CRM_VENV)",
        py.display()
    );
    py
}

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
