//! When a failed delivery is tried again, and when a subscription that only fails is disabled
//! (SPEC §7), as pure rules: the dispatcher brings the clock and the dice.

use crate::model::Timestamp;
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// The waits after the 1st, 2nd, … failed attempt (SPEC §7: about 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 14 h, 20 h and 24 h); after the last the delivery is `failed`.
pub const RETRY_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
    Duration::from_secs(24 * HOUR),
];

/// Attempts a delivery gets: the first and one per wait.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS.len() as u32 + 1;

/// ±20 % (SPEC §7), so the retries of many deliveries that failed together spread out.
pub const JITTER: f64 = 0.2;

/// A subscription whose every attempt has failed for this long is disabled (SPEC §7).
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * HOUR);

/// The wait before the next attempt of a delivery that has made `attempts_made` attempts, all
/// failed: none before the first, then [`RETRY_DELAYS`] with jitter; `None` once the schedule
/// is spent (the delivery is `failed`).
///
/// `random` is uniform in `[0, 1)` (`rand::random::<f64>()`): 0 gives the wait × 0.8, 0.5 the
/// wait itself, and towards 1 the wait × 1.2. Values outside `[0, 1]` are clamped, NaN is 0.5.
pub fn next_attempt(attempts_made: u32, random: f64) -> Option<Duration> {
    let Some(failed) = attempts_made.checked_sub(1) else {
        return Some(Duration::ZERO);
    };
    let base = RETRY_DELAYS.get(usize::try_from(failed).ok()?)?;
    let random = if random.is_nan() {
        0.5
    } else {
        random.clamp(0.0, 1.0)
    };
    Some(base.mul_f64(1.0 - JITTER + 2.0 * JITTER * random))
}

/// Since when every attempt to a subscription has failed, after an attempt at `at`: the first
/// failed attempt since the last success, or `None` after a success. The dispatcher keeps it
/// per subscription (and clears it when an admin enables the subscription again).
pub fn failing_since(
    before: Option<Timestamp>,
    attempt_succeeded: bool,
    at: Timestamp,
) -> Option<Timestamp> {
    if attempt_succeeded {
        None
    } else {
        Some(before.unwrap_or(at))
    }
}

/// Whether a subscription failing since `failing_since` is disabled at `now`: after 5 days of
/// nothing but failed attempts.
pub fn should_disable(failing_since: Option<Timestamp>, now: Timestamp) -> bool {
    let limit_ms = i64::try_from(DISABLE_AFTER.as_millis()).unwrap_or(i64::MAX);
    failing_since.is_some_and(|since| now.millis().saturating_sub(since.millis()) >= limit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1;
    const M: u64 = 60;
    const H: u64 = 3600;

    #[test]
    fn the_schedule_is_spec_s_with_its_jitter() {
        // (attempts made, random, wait in seconds)
        let table: &[(u32, f64, Option<f64>)] = &[
            (0, 0.0, Some(0.0)),
            (0, 0.99, Some(0.0)),
            (1, 0.5, Some(5.0)),
            (1, 0.0, Some(4.0)),
            (1, 1.0, Some(6.0)),
            (2, 0.5, Some((5 * M) as f64)),
            (3, 0.5, Some((30 * M) as f64)),
            (4, 0.5, Some((2 * H) as f64)),
            (5, 0.5, Some((5 * H) as f64)),
            (6, 0.5, Some((10 * H) as f64)),
            (7, 0.5, Some((14 * H) as f64)),
            (8, 0.5, Some((20 * H) as f64)),
            (9, 0.0, Some((24 * H) as f64 * 0.8)),
            (9, 0.5, Some((24 * H) as f64)),
            (9, 1.0, Some((24 * H) as f64 * 1.2)),
            (10, 0.5, None),
            (11, 0.5, None),
            (u32::MAX, 0.5, None),
            // Dice out of range are clamped; NaN is the middle.
            (1, -3.0, Some(4.0)),
            (1, 7.0, Some(6.0)),
            (1, f64::NAN, Some(5.0)),
        ];
        for &(made, random, want) in table {
            let got = next_attempt(made, random).map(|d| d.as_secs_f64());
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{made} {random}: {g} != {w}"),
                (g, w) => assert_eq!(g, w, "{made} {random}"),
            }
        }
        assert_eq!(MAX_ATTEMPTS, 10);
        assert_eq!(RETRY_DELAYS[0], Duration::from_secs(5 * S));
    }

    #[test]
    fn a_delivery_is_failed_about_three_days_after_its_first_attempt() {
        let total = |random| {
            (0..MAX_ATTEMPTS)
                .map_while(|n| next_attempt(n, random))
                .sum::<Duration>()
        };
        // 75 h 35 min 5 s without jitter: well within the 5 days before a subscription is
        // disabled, so one delivery's schedule alone never disables it.
        assert_eq!(total(0.5), Duration::from_secs(75 * H + 35 * M + 5 * S));
        assert!(total(1.0) < DISABLE_AFTER);
    }

    proptest! {
        #[test]
        fn every_wait_is_within_20_percent_of_the_schedule(made in 1u32..=9, random in 0.0f64..1.0) {
            let base = RETRY_DELAYS[made as usize - 1].as_secs_f64();
            let wait = next_attempt(made, random).unwrap().as_secs_f64();
            prop_assert!(wait >= base * 0.8 - 1e-6 && wait <= base * 1.2 + 1e-6, "{wait} vs {base}");
        }
    }

    fn t(hours: i64) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000 + hours * 3_600_000)
    }

    #[test]
    fn a_success_clears_the_failing_streak_and_a_failure_keeps_its_start() {
        let table = [
            (None, false, t(3), Some(t(3))),
            (Some(t(1)), false, t(3), Some(t(1))),
            (Some(t(1)), true, t(3), None),
            (None, true, t(3), None),
        ];
        for (before, ok, at, want) in table {
            assert_eq!(failing_since(before, ok, at), want, "{before:?} {ok}");
        }
    }

    #[test]
    fn a_subscription_is_disabled_after_five_days_of_failures_only() {
        let table = [
            (None, t(1000), false),
            (Some(t(0)), t(0), false),
            (Some(t(0)), t(5 * 24 - 1), false),
            (Some(t(0)), t(5 * 24), true),
            (Some(t(0)), t(30 * 24), true),
            // A clock stepped back.
            (Some(t(10)), t(0), false),
        ];
        for (since, now, disabled) in table {
            assert_eq!(should_disable(since, now), disabled, "{since:?} {now:?}");
        }
    }
}
