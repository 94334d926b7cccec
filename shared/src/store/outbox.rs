//! The outbox and delivery markers. Every change writes an outbox item in its own
//! transaction (with its change feed item: `event_writes`); the notifier claims the event with a delivery marker (a lease, so two
//! copies of one message never both send), sends, then records the marker as SENT and
//! deletes the outbox item in one write. The sweep finds outbox items nobody delivered.
//! Where each recipient gets their own message (SES), a recipient marker per address
//! records who was mailed, so a retry after a partial failure mails only the others.

use super::backend::{Cond, Item, Query, Range, SortKey, StoreError, Write};
use super::keys::{self, OUTBOX};
use super::schema::{GSI1, Index, TABLE};
use super::{Store, from_item, to_item};
use crate::model::{Event, StoredEvent, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a SENT marker is kept: longer than a message can live in SQS (14 days).
pub const MARKER_TTL_SECONDS: i64 = 15 * 24 * 3600;

/// An outbox item: an event committed with its ticket change and not yet delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub event: Event,
    /// `<ms of the last push>#<eventId>`: the sweep's age key.
    pub order: String,
    /// How many times the sweep has re-pushed it.
    pub sweeps: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    Sending,
    Sent,
}

/// The delivery marker of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub state: DeliveryState,
    pub claim: String,
    pub lease_until_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

/// A recipient marker: this address got its own message about the event, or (`refused`) the
/// mail service refused the address for good, so it is not tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mailed {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    pub sent_at: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// What records an event in the transaction of the change it describes: its outbox item
/// (for the mail, the webhooks and the bus) and its change feed item (`feed.rs`). The one
/// way an event is written, so none can miss the feed.
pub(super) fn event_writes(e: &Event) -> Result<Vec<Write>, StoreError> {
    Ok(vec![outbox_item(e)?, super::feed::feed_write(e)?])
}

/// The outbox item of an event.
fn outbox_item(e: &Event) -> Result<Write, StoreError> {
    let k = keys::outbox(e.key_id());
    let event = serde_json::to_value(e).map_err(|x| StoreError::Internal(x.to_string()))?;
    let mut item = Item::new();
    item.insert(TABLE.pk.into(), Value::String(k.pk));
    item.insert(TABLE.sk.into(), Value::String(k.sk));
    item.insert(GSI1.pk.into(), Value::String(OUTBOX.into()));
    item.insert(
        GSI1.sk.into(),
        Value::String(keys::age_key(Timestamp::now(), e.key_id())),
    );
    item.insert("event".into(), event);
    Ok(Write::Put {
        item,
        cond: Cond::NotExists,
    })
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller may send. `recovered`: an earlier claim's lease ran out (its holder died
    /// or gave up), so the mail may already have gone out once.
    Granted { recovered: bool },
    /// Delivered before: nothing to send.
    AlreadySent,
    /// Another delivery of the same event is in progress.
    Busy,
}

fn marker_item(event_id: &str, d: &Delivery, now: Timestamp) -> Result<Item, StoreError> {
    let k = keys::delivery(event_id);
    to_item(
        d,
        &[
            (TABLE.pk, Value::String(k.pk)),
            (TABLE.sk, Value::String(k.sk)),
            (
                TABLE.ttl_attribute,
                Value::from(now.seconds() + MARKER_TTL_SECONDS),
            ),
        ],
    )
}

fn entry(item: Item) -> Result<OutboxEntry, StoreError> {
    let order = item
        .get(GSI1.sk)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let sweeps = item.get("sweeps").and_then(Value::as_i64).unwrap_or(0);
    let event = item
        .get("event")
        .cloned()
        .ok_or_else(|| StoreError::Internal("outbox item without event".into()))?;
    let event = serde_json::from_value::<StoredEvent>(event)
        .map_err(|e| StoreError::Internal(format!("outbox event: {e}")))?
        .into();
    Ok(OutboxEntry {
        event,
        order,
        sweeps,
    })
}

impl Store {
    /// The writes that record `e` (its outbox item and its change feed item), for the
    /// transaction of the change it describes.
    pub fn event_writes(&self, e: &Event) -> Result<Vec<Write>, StoreError> {
        event_writes(e)
    }

    /// Outbox items last pushed before `before`, oldest first.
    pub async fn stale_outbox(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let page = self
            .query(&Query {
                index: Index::Gsi1,
                pk: OUTBOX.into(),
                range: Range::Before(SortKey::S(before.sort_key())),
                limit,
            })
            .await?;
        page.items.into_iter().map(entry).collect()
    }

    pub async fn outbox_entry(&self, event_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.get(&keys::outbox(event_id))
            .await?
            .map(entry)
            .transpose()
    }

    /// Takes the right to re-push an outbox item now: moves its age key to `now` if nobody
    /// else did since it was read. False: another sweep took it (or it was delivered). Only
    /// a push that then succeeds counts towards parking (`record_outbox_push`), so a queue
    /// that is down for hours parks nothing.
    pub async fn mark_outbox_pushed(
        &self,
        e: &OutboxEntry,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let age = keys::age_key(now, e.event.key_id());
        self.move_queued(
            keys::outbox(e.event.key_id()),
            &e.order,
            (GSI1.sk, Value::String(age)),
        )
        .await
    }

    /// Takes an undeliverable item out of the sweep's way (into `OUTBOX#PARKED`).
    pub async fn park_outbox(&self, e: &OutboxEntry) -> Result<bool, StoreError> {
        self.move_queued(
            keys::outbox(e.event.key_id()),
            &e.order,
            (GSI1.pk, Value::String(keys::OUTBOX_PARKED.into())),
        )
        .await
    }

    /// Sets one index attribute of a queued item (an outbox event, a job) if its age key is
    /// still the one read; false when another sweep or delivery got there first.
    pub(super) async fn move_queued(
        &self,
        key: super::Key,
        order: &str,
        set: (&'static str, Value),
    ) -> Result<bool, StoreError> {
        let write = Write::Update {
            key,
            set: vec![set],
            add: vec![],
            remove: vec![],
            cond: Cond::Eq(GSI1.sk, Value::String(order.to_owned())),
        };
        match self.transact(vec![write]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed(_) | StoreError::Contention) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Counts one successful re-push of an outbox item (unless it was delivered meanwhile).
    pub async fn record_outbox_push(&self, event_id: &str) -> Result<(), StoreError> {
        let write = Write::Update {
            key: keys::outbox(event_id),
            set: vec![],
            add: vec![("sweeps", 1)],
            remove: vec![],
            cond: Cond::Exists,
        };
        match self.transact(vec![write]).await {
            Ok(()) | Err(StoreError::ConditionFailed(_) | StoreError::Contention) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn delivery(&self, event_id: &str) -> Result<Option<Delivery>, StoreError> {
        self.get(&keys::delivery(event_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Claims the delivery of an event for `lease_seconds`. The first delivery of an event
    /// (nearly all of them) costs one conditional put: the marker is read only when the put
    /// is refused, that is for a copy of an event delivered or being delivered, or a claim
    /// whose holder died (its lease ran out: taken over under a condition on its claim).
    pub async fn claim_delivery(
        &self,
        event_id: &str,
        claim: &str,
        now: Timestamp,
        lease_seconds: i64,
    ) -> Result<Claim, StoreError> {
        let marker = Delivery {
            state: DeliveryState::Sending,
            claim: claim.to_owned(),
            lease_until_ms: now.plus_seconds(lease_seconds).millis(),
            tracking_id: None,
            sent_at: None,
        };
        let item = marker_item(event_id, &marker, now)?;
        if self.put_delivery(item.clone(), Cond::NotExists).await? {
            return Ok(Claim::Granted { recovered: false });
        }
        let cond = match self.delivery(event_id).await? {
            // Released between the put and the read: the event is free again.
            None => Cond::NotExists,
            Some(d) if d.state == DeliveryState::Sent => return Ok(Claim::AlreadySent),
            Some(d) if d.lease_until_ms > now.millis() => return Ok(Claim::Busy),
            Some(d) => Cond::Eq("claim", Value::String(d.claim)),
        };
        let recovered = !matches!(cond, Cond::NotExists);
        if self.put_delivery(item, cond).await? {
            return Ok(Claim::Granted { recovered });
        }
        match self.delivery(event_id).await? {
            Some(d) if d.state == DeliveryState::Sent => Ok(Claim::AlreadySent),
            _ => Ok(Claim::Busy),
        }
    }

    /// Puts a delivery marker under `cond`; false when the condition did not hold.
    async fn put_delivery(&self, item: super::Item, cond: Cond) -> Result<bool, StoreError> {
        match self.transact(vec![Write::Put { item, cond }]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed(_) | StoreError::Contention) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records the event as sent, then removes its outbox item: two standard writes (half
    /// the units of one transaction, the outbox item's index entry with them). Safe apart: a
    /// crash between them leaves an outbox item whose re-push finds the SENT marker, and the
    /// delivery of that copy only deletes it (`Claim::AlreadySent`). False when the claim was
    /// lost meanwhile (its lease ran out and another delivery took over): the outbox item is
    /// then the other delivery's to remove.
    pub async fn finish_delivery(
        &self,
        event_id: &str,
        claim: &str,
        tracking_id: Option<String>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let marker = Delivery {
            state: DeliveryState::Sent,
            claim: claim.to_owned(),
            lease_until_ms: now.millis(),
            tracking_id,
            sent_at: Some(now.rfc3339()),
        };
        let item = marker_item(event_id, &marker, now)?;
        if !self
            .put_delivery(item, Cond::Eq("claim", Value::String(claim.to_owned())))
            .await?
        {
            return Ok(false);
        }
        self.delete_outbox(event_id).await?;
        Ok(true)
    }

    /// Removes an event's outbox item (delivered: its SENT marker is written).
    pub async fn delete_outbox(&self, event_id: &str) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete {
            key: keys::outbox(event_id),
            cond: Cond::Always,
        }])
        .await
    }

    /// Gives a claim back after a failed send, so a retry can claim at once.
    pub async fn release_delivery(&self, event_id: &str, claim: &str) -> Result<(), StoreError> {
        match self
            .transact(vec![Write::Delete {
                key: keys::delivery(event_id),
                cond: Cond::All(vec![
                    Cond::Eq("claim", Value::String(claim.to_owned())),
                    Cond::Eq("state", Value::String("SENDING".into())),
                ]),
            }])
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The recipient markers of an event: who already got their own message (all pages of
    /// one key range of the event's partition, read strongly consistent like any get).
    pub async fn mailed(&self, event_id: &str) -> Result<Vec<Mailed>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .query(&Query {
                    index: Index::Table,
                    pk: keys::event_partition(event_id),
                    range: match &after {
                        Some(a) => Range::After(SortKey::S(a.clone())),
                        None => Range::Prefix(keys::MAILED_PREFIX.into()),
                    },
                    limit: 100,
                })
                .await?;
            let mut last = None;
            for item in page.items {
                let sk = item
                    .get(TABLE.sk)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                // `After` runs to the partition's end: stop at the first key past the markers.
                if !sk
                    .as_deref()
                    .is_some_and(|k| k.starts_with(keys::MAILED_PREFIX))
                {
                    return Ok(out);
                }
                last = sk;
                out.push(from_item(item)?);
            }
            if !page.more || last.is_none() {
                return Ok(out);
            }
            after = last;
        }
    }

    /// Records that `address` got its own message about the event (kept as long as the
    /// delivery marker). Unconditional: the mail went out, whoever holds the claim now.
    pub async fn record_mailed(
        &self,
        event_id: &str,
        address: &str,
        tracking_id: Option<String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.put_marker(
            Mailed {
                address: address.to_owned(),
                tracking_id,
                sent_at: now.rfc3339(),
                refused: false,
            },
            event_id,
            now,
        )
        .await
    }

    /// Records that the mail service refused `address` for good for this event: a retry of
    /// the event does not try it again.
    pub async fn record_refused(
        &self,
        event_id: &str,
        address: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.put_marker(
            Mailed {
                address: address.to_owned(),
                tracking_id: None,
                sent_at: now.rfc3339(),
                refused: true,
            },
            event_id,
            now,
        )
        .await
    }

    async fn put_marker(
        &self,
        marker: Mailed,
        event_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let k = keys::mailed(event_id, &marker.address);
        let item = to_item(
            &marker,
            &[
                (TABLE.pk, Value::String(k.pk)),
                (TABLE.sk, Value::String(k.sk)),
                (
                    TABLE.ttl_attribute,
                    Value::from(now.seconds() + MARKER_TTL_SECONDS),
                ),
            ],
        )?;
        self.transact(vec![Write::Put {
            item,
            cond: Cond::Always,
        }])
        .await
    }
}
