//! Webhook subscriptions and their delivery records (SPEC §7).
//!
//! | item | pk | sk | gsi1 |
//! |---|---|---|---|
//! | subscription | `WEBHOOKS` | `SUB#<id>` | |
//! | subscription counter | `META` | `WEBHOOKS` | |
//! | delivery | `WEBHOOK#<id>` | `DLV#<inverted event ULID>` | `WHDUE#<id>` / due ms#event ULID (pending only) |
//!
//! The subscriptions share one partition of the table, so the fan-out reads them all with one
//! strongly consistent query: a subscription made before an event's commit is never missed
//! for an index's lag. The counter caps them atomically (like the approved-admin counter).
//! A delivery is keyed by its subscription and its event, so the fan-out's conditional put
//! records an event at most once per subscription; its sort key is the event's ULID with every
//! character inverted, so the ascending key order of a query is newest first. A pending
//! delivery sits in its subscription's due index under the time the dispatcher's sweep should
//! next look at it; a finished one leaves the index.

use super::backend::{Cond, Item, Key, Query, Range, SortKey, StoreError, Write};
use super::paging::{Listing, Source, Spec};
use super::schema::{GSI1, Index, TABLE};
use super::{Store, from_item, to_item};
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// SPEC §7: at most this many subscriptions.
pub const MAX_SUBSCRIPTIONS: i64 = 20;
/// How long a delivery record is kept after it is made (its TTL): longer than its retries
/// (about 3 days), so the history of a month of deliveries can be read.
pub const DELIVERY_TTL_SECONDS: i64 = 30 * 24 * 3600;

const SUBSCRIPTIONS_PK: &str = "WEBHOOKS";
const SUBSCRIPTION_PREFIX: &str = "SUB#";
const DELIVERY_PREFIX: &str = "DLV#";
const DUE_PREFIX: &str = "WHDUE#";
const COUNT: &str = "count";

pub fn subscription_key(id: &str) -> Key {
    Key::new(SUBSCRIPTIONS_PK, format!("{SUBSCRIPTION_PREFIX}{id}"))
}

pub(crate) fn subscription_counter() -> Key {
    Key::new("META", "WEBHOOKS")
}

/// The partition of one subscription's deliveries.
pub(crate) fn deliveries_partition(subscription_id: &str) -> String {
    format!("WEBHOOK#{subscription_id}")
}

pub fn delivery_key(subscription_id: &str, delivery_id: &str) -> Key {
    Key::new(
        deliveries_partition(subscription_id),
        format!("{DELIVERY_PREFIX}{}", invert(delivery_id)),
    )
}

/// The due index partition of one subscription's pending deliveries.
pub(crate) fn due_partition(subscription_id: &str) -> String {
    format!("{DUE_PREFIX}{subscription_id}")
}

/// `<ms>#<delivery id>`: when the sweep should next look at a pending delivery.
pub(crate) fn due_key(at: Timestamp, delivery_id: &str) -> String {
    format!("{}#{delivery_id}", at.sort_key())
}

/// Each visible ASCII character mirrored within `!`..`~`, so that for strings of one length
/// (ULIDs) the order is reversed. Anything else is kept.
pub(crate) fn invert(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '!'..='~' => char::from(b'!' + b'~' - c as u8),
            other => other,
        })
        .collect()
}

/// A stored `whsec_…` secret: its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(redacted)")
    }
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    pub url: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: SecretText,
    /// The secret before the last rotation, and when it was replaced (epoch ms): it signs
    /// too for 24 hours after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<SecretText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// Why the dispatcher disabled it (`410 Gone`, or five days of failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (epoch ms); none after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since_ms: Option<i64>,
    /// +1 with every change: each write is conditional on the version it read.
    pub version: i64,
}

impl SubscriptionRecord {
    /// Whether events of `event_type` go to this subscription.
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == "*" || e == event_type)
    }

    fn item(&self) -> Result<Item, StoreError> {
        let k = subscription_key(&self.subscription_id);
        to_item(
            self,
            &[
                (TABLE.pk, Value::String(k.pk)),
                (TABLE.sk, Value::String(k.sk)),
            ],
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One event's delivery to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub subscription_id: String,
    /// The event's ULID (unique within the subscription).
    pub delivery_id: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, in our words (at most 1 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only), epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_ms: Option<i64>,
    /// The start of the receiver's last answer (at most 1 KiB): for operators reading the
    /// table; never rendered to an API client, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    pub created_at: String,
    /// The event's JSON as delivered: the signed body, the same on every attempt.
    pub body: String,
}

impl DeliveryRecord {
    fn item(&self, due: Option<Timestamp>, now: Timestamp) -> Result<Item, StoreError> {
        let k = delivery_key(&self.subscription_id, &self.delivery_id);
        let mut keys = vec![
            (TABLE.pk, Value::String(k.pk)),
            (TABLE.sk, Value::String(k.sk)),
            (
                TABLE.ttl_attribute,
                Value::from(now.seconds() + DELIVERY_TTL_SECONDS),
            ),
        ];
        if let Some(due) = due {
            keys.push((GSI1.pk, Value::String(due_partition(&self.subscription_id))));
            keys.push((GSI1.sk, Value::String(due_key(due, &self.delivery_id))));
        }
        to_item(self, &keys)
    }
}

/// Why a subscription was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateSubscriptionError {
    /// SPEC §7's 20 are there already.
    Limit,
    Store(StoreError),
}

/// What a conditional write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The item was not as read (changed, or gone): nothing was written.
    Stale,
}

fn written(r: Result<(), StoreError>) -> Result<Written, StoreError> {
    match r {
        Ok(()) => Ok(Written::Done),
        Err(StoreError::ConditionFailed(_) | StoreError::Contention) => Ok(Written::Stale),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Stores a new subscription and counts it, refused once there are 20: one transaction,
    /// so concurrent creations never pass the limit.
    pub async fn create_subscription(
        &self,
        s: &SubscriptionRecord,
    ) -> Result<(), CreateSubscriptionError> {
        let writes = vec![
            Write::Put {
                item: s.item().map_err(CreateSubscriptionError::Store)?,
                cond: Cond::NotExists,
            },
            Write::Update {
                key: subscription_counter(),
                set: vec![],
                add: vec![(COUNT, 1)],
                remove: vec![],
                cond: Cond::Any(vec![Cond::NotExists, Cond::Lt(COUNT, MAX_SUBSCRIPTIONS)]),
            },
        ];
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed(w)) if w.contains(&1) => {
                Err(CreateSubscriptionError::Limit)
            }
            Err(e) => Err(CreateSubscriptionError::Store(e)),
        }
    }

    pub async fn subscription_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .get(&subscription_counter())
            .await?
            .and_then(|i| i.get(COUNT).and_then(Value::as_i64))
            .unwrap_or(0))
    }

    pub async fn get_subscription(
        &self,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.get(&subscription_key(id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// A page of subscriptions in creation order (their ids are ULIDs).
    pub async fn list_subscriptions(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<SubscriptionRecord>, StoreError> {
        self.list(Spec {
            sources: vec![Source {
                index: Index::Table,
                pk: SUBSCRIPTIONS_PK.into(),
                prefix: Some(SUBSCRIPTION_PREFIX.into()),
            }],
            after,
            limit,
            keep: None,
            max_rounds: 1,
        })
        .await?
        .decode()
    }

    /// Every subscription (at most 20): one strongly consistent query of their partition.
    pub async fn all_subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let page = self
            .query(&Query {
                index: Index::Table,
                pk: SUBSCRIPTIONS_PK.into(),
                range: Range::Prefix(SUBSCRIPTION_PREFIX.into()),
                // More than the limit: a page is never cut short of them.
                limit: 100,
            })
            .await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Replaces a subscription if it is still at `expected_version` (the caller bumped
    /// `s.version`).
    pub async fn replace_subscription(
        &self,
        s: &SubscriptionRecord,
        expected_version: i64,
    ) -> Result<Written, StoreError> {
        written(
            self.transact(vec![Write::Put {
                item: s.item()?,
                cond: Cond::Eq("version", Value::from(expected_version)),
            }])
            .await,
        )
    }

    /// Deletes a subscription and uncounts it. False when there was none. Its delivery
    /// records stay until their TTL; the dispatcher drops the pending ones when it meets
    /// them, and the sweep no longer looks for them.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let writes = vec![
            Write::Delete {
                key: subscription_key(id),
                cond: Cond::Exists,
            },
            Write::Update {
                key: subscription_counter(),
                set: vec![],
                add: vec![(COUNT, -1)],
                remove: vec![],
                cond: Cond::Always,
            },
        ];
        Ok(written(self.transact(writes).await)? == Written::Done)
    }

    /// Records a new pending delivery unless this event already has one for this
    /// subscription (a redelivered event). `due`: when the sweep should look at it if no
    /// queue message comes first. True when it is new.
    pub async fn record_delivery(
        &self,
        d: &DeliveryRecord,
        due: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let w = written(
            self.transact(vec![Write::Put {
                item: d.item(Some(due), now)?,
                cond: Cond::NotExists,
            }])
            .await,
        )?;
        Ok(w == Written::Done)
    }

    pub async fn get_delivery(
        &self,
        subscription_id: &str,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get(&delivery_key(subscription_id, delivery_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// A page of a subscription's deliveries, newest first, with only `status` when given
    /// (read past within a bounded number of rounds, so a filtered page may come back short
    /// with a cursor).
    pub async fn list_deliveries(
        &self,
        subscription_id: &str,
        status: Option<DeliveryStatus>,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<DeliveryRecord>, StoreError> {
        let want = status.map(|s| Value::String(s.as_str().to_owned()));
        let keep = |item: &Item| want.as_ref().is_none_or(|w| item.get("status") == Some(w));
        self.list(Spec {
            sources: vec![Source {
                index: Index::Table,
                pk: deliveries_partition(subscription_id),
                prefix: Some(DELIVERY_PREFIX.into()),
            }],
            after,
            limit,
            keep: status
                .is_some()
                .then_some(&keep as &(dyn Fn(&Item) -> bool + Sync)),
            max_rounds: 5,
        })
        .await?
        .decode()
    }

    /// Writes a delivery's new state if it still has `expected_attempts` attempts (so of
    /// two copies of one attempt only one records it). `due`: its place in the due index
    /// while pending, None to leave it.
    pub async fn save_delivery(
        &self,
        d: &DeliveryRecord,
        expected_attempts: u32,
        due: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Written, StoreError> {
        written(
            self.transact(vec![Write::Put {
                item: d.item(due, now)?,
                cond: Cond::Eq("attempts", Value::from(expected_attempts)),
            }])
            .await,
        )
    }

    /// Moves a pending delivery's due key from `seen` to `to` if nobody did since it was
    /// read: the sweep's claim on enqueueing it.
    pub async fn move_delivery_due(
        &self,
        subscription_id: &str,
        delivery_id: &str,
        seen: &str,
        to: Timestamp,
    ) -> Result<bool, StoreError> {
        let w = written(
            self.transact(vec![Write::Update {
                key: delivery_key(subscription_id, delivery_id),
                set: vec![(GSI1.sk, Value::String(due_key(to, delivery_id)))],
                add: vec![],
                remove: vec![],
                cond: Cond::Eq(GSI1.sk, Value::String(seen.to_owned())),
            }])
            .await,
        )?;
        Ok(w == Written::Done)
    }

    /// Removes a delivery (its subscription is gone).
    pub async fn drop_delivery(
        &self,
        subscription_id: &str,
        delivery_id: &str,
    ) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete {
            key: delivery_key(subscription_id, delivery_id),
            cond: Cond::Always,
        }])
        .await
    }

    /// A subscription's pending deliveries due before `before`, soonest first, with the due
    /// key each was read at (for `move_delivery_due`).
    pub async fn due_deliveries(
        &self,
        subscription_id: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRecord)>, StoreError> {
        let page = self
            .query(&Query {
                index: Index::Gsi1,
                pk: due_partition(subscription_id),
                range: Range::Before(SortKey::S(before.sort_key())),
                limit,
            })
            .await?;
        page.items
            .into_iter()
            .map(|item| {
                let seen = item
                    .get(GSI1.sk)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                Ok((seen, from_item(item)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_ulids_sort_newest_first() {
        let a = ulid::Ulid::from_parts(1_700_000_000_000, 5).to_string();
        let b = ulid::Ulid::from_parts(1_700_000_000_001, 1).to_string();
        assert!(a < b);
        assert!(invert(&a) > invert(&b));
        assert_eq!(invert(&invert(&a)), a);
        assert!(invert(&a).bytes().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn a_subscription_wants_its_types_or_all_and_nothing_when_disabled() {
        let mut s = SubscriptionRecord {
            subscription_id: "s".into(),
            url: "https://example.com/h".into(),
            events: vec!["ticket.created".into()],
            description: None,
            enabled: true,
            secret: SecretText("whsec_x".into()),
            previous_secret: None,
            rotated_at_ms: None,
            created_at: String::new(),
            updated_at: String::new(),
            disabled_reason: None,
            failing_since_ms: None,
            version: 1,
        };
        assert!(s.wants("ticket.created"));
        assert!(!s.wants("ticket.updated"));
        s.events = vec!["*".into()];
        assert!(s.wants("user.updated"));
        s.enabled = false;
        assert!(!s.wants("ticket.created"));
        assert!(!format!("{s:?}").contains("whsec_x"));
    }

    #[test]
    fn the_data_model_doc_lists_the_webhook_keys() {
        let doc = include_str!("../../../docs/data-model.md");
        for literal in [
            "`WEBHOOKS`",
            "`SUB#",
            "`META`",
            "`WEBHOOK#",
            "`DLV#",
            "`WHDUE#",
        ] {
            assert!(doc.contains(literal), "docs/data-model.md lacks {literal}");
        }
    }
}
