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

    fn current(&self, now: Timestamp) -> bool {
        now < self.window_end()
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

    /// Counts one failed sign-in: starts a new window when there is none (or it is over),
    /// else adds one to the current window. Safe under concurrent failures.
    pub async fn record_signin_failure(
        &self,
        id: &UserId,
        mut seen: Option<SigninFailures>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = keys::signin_failures(id);
        for _ in 0..5 {
            let write = match seen.filter(|s| s.current(now)) {
                Some(s) => Write::Update {
                    key: key.clone(),
                    set: vec![],
                    add: vec![("count", 1)],
                    remove: vec![],
                    cond: Cond::Eq("windowStartMs", Value::from(s.window_start_ms)),
                },
                None => {
                    let fresh = SigninFailures {
                        count: 1,
                        window_start_ms: now.millis(),
                    };
                    Write::Put {
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
                        cond: match seen {
                            Some(s) => Cond::Eq("windowStartMs", Value::from(s.window_start_ms)),
                            None => Cond::NotExists,
                        },
                    }
                }
            };
            match self.transact(vec![write]).await {
                Ok(()) => return Ok(()),
                Err(StoreError::ConditionFailed(_) | StoreError::Contention) => {
                    seen = self.get_signin_failures(id).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "sign-in failure count contended".into(),
        ))
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
