//! Idempotency records (SPEC §3): what a creation answered, kept 24 hours under the caller's
//! key, written in the creation's own transaction (`attribute_not_exists`, or an expired
//! one), so a key can never be taken without the ticket (or comment) being written.

use super::backend::{Cond, StoreError, Write};
use super::schema::TABLE;
use super::{Store, from_item, keys, to_item};
use crate::model::{IdempotencyKey, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a key is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

/// The original answer to replay, and what the request was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// SHA-256 of the request as parsed (hex): the same key with another body is refused.
    pub fingerprint: String,
    /// The `Location` of the original `201`.
    pub location: String,
    /// The original response's `data`.
    pub data: Value,
    /// Epoch seconds after which the key is free again (also the table's TTL attribute).
    pub expires_at: i64,
}

impl IdempotencyRecord {
    /// When a key taken at `now` is free again: the first whole second at least `ttl_seconds`
    /// after `now` (rounded up, so a key is never remembered for less than its TTL: rounded
    /// down, a one-second TTL taken at .999 would lapse a millisecond later).
    pub fn expiry(now: Timestamp, ttl_seconds: i64) -> i64 {
        now.plus_seconds(ttl_seconds)
            .millis()
            .saturating_add(999)
            .div_euclid(1000)
    }
}

impl Store {
    /// The caller's live record for this key, if any (an expired one that the TTL has not
    /// removed yet counts as none).
    pub async fn get_idempotency(
        &self,
        caller: &UserId,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .get(&keys::idempotency(caller, key.as_str()))
            .await?
            .map(from_item::<IdempotencyRecord>)
            .transpose()?
            .filter(|r| r.expires_at > now.seconds()))
    }

    /// The write that takes the key, for the creation's transaction: it fails when a live
    /// record holds the key.
    pub fn idempotency_write(
        &self,
        caller: &UserId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: Timestamp,
    ) -> Result<Write, StoreError> {
        let k = keys::idempotency(caller, key.as_str());
        Ok(Write::Put {
            item: to_item(
                record,
                &[
                    (TABLE.pk, Value::String(k.pk)),
                    (TABLE.sk, Value::String(k.sk)),
                    (TABLE.ttl_attribute, Value::from(record.expires_at)),
                ],
            )?,
            cond: Cond::Any(vec![
                Cond::NotExists,
                Cond::Lt("expiresAt", now.seconds() + 1),
            ]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_remembered_at_least_its_ttl() {
        for ms in [10_000, 10_001, 10_500, 10_999] {
            let now = Timestamp::from_millis(ms);
            let expires = IdempotencyRecord::expiry(now, 1);
            // Live until `expires` (exclusive, as `get_idempotency` reads it)...
            assert!(expires * 1000 >= ms + 1000, "{ms}: {expires}");
            // ...and not beyond the next whole second.
            assert!(expires * 1000 < ms + 2000, "{ms}: {expires}");
        }
    }
}
