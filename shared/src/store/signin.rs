//! Failed sign-ins per userId, kept in the store (with a TTL) so the brute-force limit holds
//! across Lambda instances.

use super::backend::{Cond, StoreError, Write};
use super::schema::TABLE;
use super::{Store, from_item, keys, to_item};
use crate::model::{Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One userId's window of password checks. `count` is every check reserved in the window (in
/// flight or failed; a right password gives its reservation back), `failures` the wrong
/// passwords among them, so `count - failures` are checks still in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninFailures {
    pub count: i64,
    /// Items written before failures were told apart have none (0): their reservations are
    /// long past `IN_FLIGHT_MS`, so they count as failures (see `refusal`).
    #[serde(default)]
    pub failures: i64,
    pub window_start_ms: i64,
    /// When the last check of the window was reserved.
    #[serde(default)]
    pub last_reserved_ms: i64,
}

/// The attribute names of the failures item.
const COUNT: &str = "count";
const FAILURES: &str = "failures";
const WINDOW_START: &str = "windowStartMs";
const LAST_RESERVED: &str = "lastReservedMs";

/// What a reservation of one password check gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be checked: `record_signin_failure` if it is wrong,
    /// `release_signin_attempt` if it is right.
    Reserved,
    /// The window's checks are taken, but some are still in flight (no failures yet): try
    /// again in this many seconds, when they will have ended.
    Busy { retry_after: u64 },
    /// The window holds the limit of failures: refuse without checking, for this many
    /// seconds (never beyond the window's end).
    Locked { retry_after: u64 },
}

impl SigninFailures {
    pub const LIMIT: i64 = 5;
    pub const WINDOW_SECONDS: i64 = 15 * 60;
    /// How long a check may be in flight: bcrypt takes tens of milliseconds, and a request
    /// ends within the function's timeout (10 s). A reservation older than this whose check
    /// never said how it went (its instance died) counts as a failure.
    pub const IN_FLIGHT_MS: i64 = 15_000;
    /// What a sign-in that finds the checks in flight is told to wait.
    pub const BUSY_RETRY_SECONDS: u64 = 1;

    fn window_end(&self) -> Timestamp {
        Timestamp::from_millis(self.window_start_ms).plus_seconds(Self::WINDOW_SECONDS)
    }

    /// Why a sign-in at `now` may not check a password, if it may not: the window is open and
    /// at the limit. Checks still in flight are no failures (`Busy`, a short wait); otherwise
    /// the userId is locked until the window ends, however much later than `now` a
    /// concurrent sign-in opened it.
    pub fn refusal(&self, now: Timestamp) -> Option<Attempt> {
        let end = self.window_end();
        if self.count < Self::LIMIT || now >= end {
            return None;
        }
        let in_flight =
            self.count > self.failures && now.millis() - self.last_reserved_ms < Self::IN_FLIGHT_MS;
        if in_flight {
            return Some(Attempt::Busy {
                retry_after: Self::BUSY_RETRY_SECONDS,
            });
        }
        let seconds = ((end.millis() - now.millis() + 999) / 1000).clamp(1, Self::WINDOW_SECONDS);
        Some(Attempt::Locked {
            retry_after: seconds as u64,
        })
    }
}

impl Store {
    pub async fn get_signin_failures(
        &self,
        id: &UserId,
    ) -> Result<Option<SigninFailures>, StoreError> {
        self.get(&keys::signin_failures(id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Reserves one password check for this userId before bcrypt runs (SPEC §2): a
    /// conditional ADD that holds only while the window has fewer than `LIMIT` attempts, so
    /// however many sign-ins arrive at once, on however many instances, at most `LIMIT`
    /// passwords are checked per window. A wrong password keeps its reservation and says so
    /// (`record_signin_failure`); a right one gives it back (`release_signin_attempt`). One
    /// write when no window is open, two in an open one, and a read only when both are
    /// refused (to tell checks in flight from failures, and how long to wait).
    pub async fn reserve_signin_attempt(
        &self,
        id: &UserId,
        now: Timestamp,
    ) -> Result<Attempt, StoreError> {
        let key = keys::signin_failures(id);
        // The window still open at `now` started after this.
        let open_since = now.millis() - SigninFailures::WINDOW_SECONDS * 1000;
        let fresh = SigninFailures {
            count: 1,
            failures: 0,
            window_start_ms: now.millis(),
            last_reserved_ms: now.millis(),
        };
        let start_window = Write::Put {
            item: to_item(
                &fresh,
                &[
                    (TABLE.pk, Value::String(key.pk.clone())),
                    (TABLE.sk, Value::String(key.sk.clone())),
                    (
                        TABLE.ttl_attribute,
                        Value::from(fresh.window_end().seconds() + 60),
                    ),
                ],
            )?,
            // No window yet, or the last one is over.
            cond: Cond::Any(vec![
                Cond::NotExists,
                Cond::Lt(WINDOW_START, open_since + 1),
            ]),
        };
        for attempt in crate::retry::attempts() {
            let add = Write::Update {
                key: key.clone(),
                set: vec![(LAST_RESERVED, Value::from(now.millis()))],
                add: vec![(COUNT, 1)],
                remove: vec![],
                cond: Cond::All(vec![
                    Cond::Ge(WINDOW_START, open_since + 1),
                    Cond::Lt(COUNT, SigninFailures::LIMIT),
                ]),
            };
            // A new window first: a sign-in opens one unless failures (or checks in flight)
            // hold one open, since a right password that was its window's only check
            // deletes it; so that is one write, and adding to an open window the second.
            match self.transact(vec![start_window.clone()]).await {
                Ok(()) => return Ok(Attempt::Reserved),
                Err(StoreError::ConditionFailed(_)) => {}
                Err(e) => return Err(e),
            }
            match self.transact(vec![add]).await {
                Ok(()) => return Ok(Attempt::Reserved),
                Err(StoreError::ConditionFailed(_)) => {}
                Err(e) => return Err(e),
            }
            // Neither: an open window at the limit (checks in flight, or locked), or the item
            // changed between the two writes (cleared by a password change, say: try again).
            if let Some(f) = self.get_signin_failures(id).await?
                && let Some(refused) = f.refusal(now)
            {
                return Ok(refused);
            }
            crate::retry::pause(attempt).await;
        }
        Err(StoreError::Unavailable(
            "sign-in attempt reservation contended".into(),
        ))
    }

    /// Gives back a reservation after a right password, so only failures count. When it was
    /// the window's only check (count 1: no failure, nothing else in flight) the window is
    /// deleted, so the next sign-in opens a new one in one write again: a user who signs in
    /// every few minutes never pays for an open window. With failures in the window, one is
    /// taken off and the rest are kept (a second write). Nothing to do when the window is
    /// already over. (A reservation made in the last moment of a window that another request
    /// then replaced would give back one of the new window's: at worst one more check in that
    /// window, never a lock-out.)
    pub async fn release_signin_attempt(
        &self,
        id: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = keys::signin_failures(id);
        let open_since = now.millis() - SigninFailures::WINDOW_SECONDS * 1000;
        let in_window = Cond::Ge(WINDOW_START, open_since + 1);
        let only_this_check = Write::Delete {
            key: key.clone(),
            cond: Cond::All(vec![
                in_window.clone(),
                Cond::Ge(COUNT, 1),
                Cond::Lt(COUNT, 2),
                Cond::Lt(FAILURES, 1),
            ]),
        };
        match self.transact(vec![only_this_check]).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed(_)) => {}
            Err(e) => return Err(e),
        }
        let one_of_several = Write::Update {
            key,
            set: vec![],
            add: vec![(COUNT, -1)],
            remove: vec![],
            cond: Cond::All(vec![in_window, Cond::Ge(COUNT, 1)]),
        };
        match self.transact(vec![one_of_several]).await {
            Ok(()) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Says that a reserved check found a wrong password: its reservation stays (it is one of
    /// the window's checks) and is a failure now, no longer in flight. Nothing to do when the
    /// window is gone (over, or cleared by a password change meanwhile).
    pub async fn record_signin_failure(
        &self,
        id: &UserId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let open_since = now.millis() - SigninFailures::WINDOW_SECONDS * 1000;
        match self
            .transact(vec![Write::Update {
                key: keys::signin_failures(id),
                set: vec![],
                add: vec![(FAILURES, 1)],
                remove: vec![],
                cond: Cond::Ge(WINDOW_START, open_since + 1),
            }])
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn clear_signin_failures(&self, id: &UserId) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete {
            key: keys::signin_failures(id),
            cond: Cond::Always,
        }])
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(count: i64, failures: i64, start: Timestamp, last: Timestamp) -> SigninFailures {
        SigninFailures {
            count,
            failures,
            window_start_ms: start.millis(),
            last_reserved_ms: last.millis(),
        }
    }

    #[test]
    fn locks_after_five_failures_within_the_window_only() {
        let t0 = Timestamp::from_millis(1_000_000);
        let f = window(5, 5, t0, t0);
        let locked = |s| Some(Attempt::Locked { retry_after: s });
        assert_eq!(f.refusal(t0), locked(900));
        assert_eq!(f.refusal(t0.plus_seconds(899)), locked(1));
        assert_eq!(f.refusal(t0.plus_seconds(900)), None);
        assert_eq!(window(4, 4, t0, t0).refusal(t0), None);
    }

    /// Issue 26 item 2: checks in flight are no failures. A window full of them asks for a
    /// short wait; one whose checks never ended (their instance died) counts them as failures.
    #[test]
    fn checks_in_flight_ask_for_a_short_wait_not_a_lock() {
        let t0 = Timestamp::from_millis(1_000_000);
        let busy = Some(Attempt::Busy { retry_after: 1 });
        assert_eq!(window(5, 0, t0, t0).refusal(t0), busy);
        assert_eq!(window(5, 4, t0, t0).refusal(t0.plus_seconds(1)), busy);
        assert_eq!(
            window(5, 0, t0, t0).refusal(t0.plus_seconds(15)),
            Some(Attempt::Locked { retry_after: 885 })
        );
        // Items from before failures were told apart: every check a failure.
        let old: SigninFailures =
            serde_json::from_value(serde_json::json!({"count": 5, "windowStartMs": t0.millis()}))
                .unwrap();
        assert_eq!(old.refusal(t0), Some(Attempt::Locked { retry_after: 900 }));
    }

    /// Issue 26 item 2: a window that a concurrent sign-in opened just after this one's `now`
    /// still ends at most 900 s from now (before: `Retry-After: 901`).
    #[test]
    fn retry_after_never_exceeds_the_window() {
        let t0 = Timestamp::from_millis(1_000_000);
        let opened_later = window(5, 5, Timestamp::from_millis(t0.millis() + 7), t0);
        assert_eq!(
            opened_later.refusal(t0),
            Some(Attempt::Locked { retry_after: 900 })
        );
    }
}
