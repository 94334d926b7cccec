//! What else happens to an event beside the mail: the webhook fan-out and the bus (SPEC §7).
//! It runs while the notifier holds the event's delivery claim, beside the mail's send, and the
//! outbox item goes only once both are done, so an event that crashes or fails here is handled
//! again (the queue's redelivery; locally the outbox sweep at start).
//!
//! The fan-out records one delivery per subscription that wants the event's type (a put
//! conditional on the subscription and the event: a redelivered event records nothing twice)
//! and hands each new one to the dispatcher. It sends nothing to a receiver: a slow or hostile
//! receiver costs it nothing, and the mail never waits for a receiver.

use crate::bus::Bus;
use crm_shared::model::{Event, Timestamp};
use crm_shared::store::{DeliveryRecord, DeliveryStatus, Store, StoreError};
use crm_shared::webhooks::queue::{DeliveryRef, Queued, WebhookQueue};
use futures_util::future::try_join_all;
use std::time::Duration;

/// A recorded delivery whose message never came is queued again by the dispatcher's sweep
/// after this long (the dispatcher's lease).
pub const HANDOFF_LEASE: Duration = Duration::from_secs(120);

/// The event's other readers: the dispatcher (through its queue) and the bus.
#[derive(Clone, Default)]
pub struct Integrations {
    /// Where new deliveries are handed to the dispatcher (none: they wait for its sweep).
    pub webhooks: WebhookQueue,
    /// The EventBridge bus (the cloud only).
    pub bus: Option<Bus>,
}

/// What the fan-out did with one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Subscriptions that want the event.
    pub wanted: usize,
    /// Deliveries recorded now (the others were recorded by an earlier copy).
    pub recorded: usize,
}

impl Integrations {
    /// The fan-out and the bus at once. Fails (and the event is handled again) when a record
    /// or the bus put failed; a hand-off that failed is only logged: its record is due and
    /// the dispatcher's sweep queues it.
    pub async fn handle(&self, store: &Store, e: &Event) -> Result<FanOut, String> {
        let bus = async {
            match &self.bus {
                Some(b) => b.put(e).await,
                None => Ok(()),
            }
        };
        let (fan_out, ()) = tokio::try_join!(
            async { self.fan_out(store, e).await.map_err(|x| x.to_string()) },
            bus
        )?;
        Ok(fan_out)
    }

    async fn fan_out(&self, store: &Store, e: &Event) -> Result<FanOut, StoreError> {
        let subs = store.all_subscriptions().await?;
        let wanted: Vec<_> = subs
            .iter()
            .filter(|s| s.wants(e.event_type.as_str()))
            .collect();
        if wanted.is_empty() {
            return Ok(FanOut::default());
        }
        let body = serde_json::to_string(e).map_err(|x| StoreError::Internal(x.to_string()))?;
        let now = Timestamp::now();
        let lease = Timestamp::from_millis(
            now.millis()
                .saturating_add(i64::try_from(HANDOFF_LEASE.as_millis()).unwrap_or(0)),
        );
        let recorded = try_join_all(wanted.iter().map(|s| {
            let d = DeliveryRecord {
                subscription_id: s.subscription_id.clone(),
                delivery_id: e.key_id().to_owned(),
                event_id: e.id.clone(),
                event_type: e.event_type.as_str().to_owned(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_attempt_at: None,
                last_status_code: None,
                last_error: None,
                next_attempt_ms: Some(now.millis()),
                response_excerpt: None,
                created_at: now.rfc3339(),
                body: body.clone(),
            };
            async move {
                let new = store.record_delivery(&d, lease, now).await?;
                Ok::<_, StoreError>(new.then_some(d))
            }
        }))
        .await?;
        let messages: Vec<Queued> = recorded
            .into_iter()
            .flatten()
            .map(|d| Queued {
                delivery: DeliveryRef {
                    subscription_id: d.subscription_id,
                    delivery_id: d.delivery_id,
                    attempts: 0,
                },
                delay: Duration::ZERO,
            })
            .collect();
        let report = FanOut {
            wanted: wanted.len(),
            recorded: messages.len(),
        };
        if let Err(x) = self.webhooks.send(messages).await {
            tracing::warn!(event_id = %e.id, error = %x, "deliveries recorded but not queued; the dispatcher's sweep takes them");
        }
        if report.recorded > 0 {
            tracing::info!(event_id = %e.id, wanted = report.wanted, recorded = report.recorded, "webhook deliveries recorded");
        }
        Ok(report)
    }
}
