//! Failed sign-ins per userId, kept in the store (with a TTL) so the brute-force limit holds
//! across Lambda instances.

use super::backend::{Cond, StoreError, Write};
use super::schema::TABLE;
use super::{Store, from_item, keys, to_item};
use crate::model::{Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninFailures {
    pub count: i64,
    pub window_start_ms: i64,
}

/// The attribute names of the failures item.
const COUNT: &str = "count";
const WINDOW_START: &str = "windowStartMs";

/// What a reservation of one password check gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be checked; a failure keeps the reservation as its count.
    Reserved,
    /// The window is at the limit: refuse without checking, for this many seconds.
    Locked { retry_after: u64 },
}

impl SigninFailures {
    pub const LIMIT: i64 = 5;
    pub const WINDOW_SECONDS: i64 = 15 * 60;

    fn window_end(&self) -> Timestamp {
        Timestamp::from_millis(self.window_start_ms).plus_seconds(Self::WINDOW_SECONDS)
    }

    /// Seconds until sign-in may be tried again, if this userId is locked now.
    pub fn locked_for(&self, now: Timestamp) -> Option<u64> {
        let end = self.window_end();
        (self.count >= Self::LIMIT && now < end)
            .then(|| ((end.millis() - now.millis() + 999) / 1000).max(1) as u64)
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
    /// passwords are checked per window. A wrong password keeps its reservation (it is the
    /// failure count); a right one gives it back with `release_signin_attempt`. One write
    /// when no window is open, two in an open one, and a read only when both are refused.
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
            window_start_ms: now.millis(),
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
                set: vec![],
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
            // Neither: an open window at the limit (locked), or the item changed between the
            // two writes (cleared by a password change, say: try again).
            if let Some(f) = self.get_signin_failures(id).await?
                && let Some(wait) = f.locked_for(now)
            {
                return Ok(Attempt::Locked { retry_after: wait });
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

    #[test]
    fn locks_after_five_within_the_window_only() {
        let t0 = Timestamp::from_millis(1_000_000);
        let f = SigninFailures {
            count: 5,
            window_start_ms: t0.millis(),
        };
        assert_eq!(f.locked_for(t0), Some(900));
        assert_eq!(f.locked_for(t0.plus_seconds(899)), Some(1));
        assert_eq!(f.locked_for(t0.plus_seconds(900)), None);
        let four = SigninFailures { count: 4, ..f };
        assert_eq!(four.locked_for(t0), None);
    }
}
