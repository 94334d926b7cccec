//! bcrypt hashing with a configurable cost, run off the async threads (it is deliberate,
//! CPU-bound work). Inputs over 72 bytes never reach bcrypt: `Password` rejects them and
//! `verify` refuses them, so bcrypt's own truncation can never apply. (The crate's
//! "non-truncating" mode counts the C terminator and would refuse a 72-byte password.)

use crate::model::Password;
use std::sync::atomic::{AtomicU64, Ordering};

/// Salt and checksum of a fixed bcrypt hash. With the configured cost put in front, checking
/// a password against it costs exactly what checking a real user's hash costs, and nothing
/// has to be computed to make it (not even on a cold start).
const DECOY_SALT_AND_HASH: &str = "EgKGU0sQ6Zgo7FLsunwI3ey3Ju.tP4c/kqBBI9FtTAweA1UQsDhO6";

#[derive(Debug)]
pub struct PasswordHasher {
    cost: u32,
    /// Verified against when the user does not exist, so that an unknown userId costs the
    /// same time as a wrong password.
    decoy: String,
    /// Password checks run so far (decoys included): what the lock-out limits.
    checks: AtomicU64,
}

impl PasswordHasher {
    pub fn new(cost: u32) -> Self {
        Self {
            cost,
            decoy: format!("$2b${cost:02}${DECOY_SALT_AND_HASH}"),
            checks: AtomicU64::new(0),
        }
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// How many passwords this hasher has checked (tests and benchmarks).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: &Password) -> Result<String, String> {
        let pw = password.expose().to_owned();
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(pw, cost))
            .await
            .map_err(|e| format!("hash task failed: {e}"))?
            .map_err(|e| format!("bcrypt failed: {e}"))
    }

    /// Whether `password` matches `hash`. Any malformed hash or oversize input is a mismatch.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        if password.len() > Password::MAX_BYTES {
            return false;
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        let pw = password.to_owned();
        let hash = hash.to_owned();
        tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Spends the same time as `verify` against a real user, then says no.
    pub async fn verify_decoy(&self, password: &str) -> bool {
        let _ = self.verify(password, &self.decoy).await;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_the_configured_cost_and_verifies() {
        let h = PasswordHasher::new(4);
        let pw = Password::parse("crmService@1").unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(!hash.contains("crmService@1"));
        assert!(h.verify("crmService@1", &hash).await);
        assert!(!h.verify("crmService@2", &hash).await);
        assert!(!h.verify("crmService@1", "not a hash").await);
    }

    #[test]
    fn decoy_is_a_well_formed_hash_of_the_configured_cost() {
        for cost in [4, 10, 12] {
            let h = PasswordHasher::new(cost);
            assert!(h.decoy.starts_with(&format!("$2b${cost:02}$")));
            assert_eq!(h.decoy.len(), 60);
        }
        // bcrypt parses it (a mismatch, not a format error).
        assert_eq!(
            bcrypt::verify("x", &PasswordHasher::new(4).decoy).ok(),
            Some(false)
        );
    }

    #[tokio::test]
    async fn decoy_always_says_no() {
        let h = PasswordHasher::new(4);
        assert!(!h.verify_decoy("crmService@1").await);
        assert!(!h.verify_decoy("").await);
    }

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_never_match_a_prefix() {
        let h = PasswordHasher::new(4);
        let pw = Password::parse(&format!("Aa1@{}", "x".repeat(68))).unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(h.verify(pw.expose(), &hash).await);
        assert!(!h.verify(&format!("{}y", pw.expose()), &hash).await);
    }
}
