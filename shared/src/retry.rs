//! The one retry policy for a write that lost a race: a failed version or load condition, or
//! a transaction DynamoDB cancelled for a concurrent one. The caller re-reads what it needs
//! and tries again, at most [`ATTEMPTS`] times, after a pause with full jitter that grows
//! 1, 2, 4, ... ms up to 50 ms, so racing writers spread out instead of colliding again.
//! Used by the service (tickets, comments, users, workload jobs) and the store (user
//! creation, the sign-in reservation). Throttling and timeouts are not retried here: they
//! become 503s with `Retry-After`, which the client retries.

use std::time::Duration;

pub const ATTEMPTS: u32 = 8;
const CAP_MS: u64 = 50;

/// The tries of one retried operation, numbered from 0.
pub fn attempts() -> std::ops::Range<u32> {
    0..ATTEMPTS
}

/// Waits before the try after `attempt`.
pub async fn pause(attempt: u32) {
    tokio::time::sleep(jitter(attempt)).await;
}

/// Uniform in 0..=min(2^attempt, 50) ms.
fn jitter(attempt: u32) -> Duration {
    let cap = 2u64.saturating_pow(attempt.min(6)).min(CAP_MS);
    Duration::from_millis(rand::random_range(0..=cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_then_stay_under_the_cap() {
        for attempt in attempts() {
            let cap = Duration::from_millis(2u64.pow(attempt).min(CAP_MS));
            for _ in 0..200 {
                assert!(jitter(attempt) <= cap, "attempt {attempt}");
            }
        }
        assert!((0..200).any(|_| jitter(7) > Duration::from_millis(2)));
        assert_eq!(ATTEMPTS, attempts().count() as u32);
    }
}
