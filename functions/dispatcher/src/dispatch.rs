//! One attempt of one delivery, recorded (SPEC §7), and the sweep that queues what is due.
//!
//! A queued message names a delivery and the attempts it had made when the message was sent;
//! a message whose count no longer matches the record is a stale copy and does nothing. The
//! attempt is signed at its own time, sent with the delivery client, and its result written
//! to the record under the same count (so of two copies of one attempt only one records it).
//! A failed attempt's next one is due after SPEC's wait: a wait within SQS's 15-minute delay
//! is queued at once with that delay; a longer one stays in the subscription's due index,
//! where the sweep (every minute in the cloud) finds it within 15 minutes of its time and
//! queues it with the delay left. A queued delivery's due key moves past its time by a lease,
//! so a message lost with its attempt is found again by the sweep.

use crate::deliver::{Attempt, Outcome, Policy, WebhookClient};
use crate::resolve::Resolve;
use bytes::Bytes;
use crm_shared::model::Timestamp;
use crm_shared::store::{DeliveryRecord, DeliveryStatus, Store, StoreError, SubscriptionRecord};
use crm_shared::webhooks::address::WebhookUrl;
use crm_shared::webhooks::queue::{DeliveryRef, MAX_QUEUE_DELAY, Queued, WebhookQueue};
use crm_shared::webhooks::schedule;
use crm_shared::webhooks::signature::{self, Secret, Signers};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// A queued attempt not recorded within this long is queued again by the sweep (longer than
/// an attempt's 15 s and a batch's processing).
pub const LEASE: Duration = Duration::from_secs(120);
/// How far ahead the sweep queues (SQS delays go to 15 minutes).
pub const HORIZON: Duration = MAX_QUEUE_DELAY;
/// Deliveries one sweep queues per subscription.
const SWEEP_BATCH: usize = 100;
/// A delivery's `lastError` is ours and short (SPEC: at most 1 KiB).
const MAX_ERROR_BYTES: usize = 1024;

/// What handling one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The attempt was made and recorded.
    Attempted {
        outcome: Outcome,
        /// The delivery's state after it.
        status: DeliveryStatus,
    },
    /// The message was a stale copy (the delivery moved on, or is gone): nothing done.
    Stale,
    /// The subscription is gone: the delivery was dropped.
    Dropped,
    /// The subscription is disabled: the delivery is failed without an attempt.
    Disabled,
}

/// What a sweep found and queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub subscriptions: usize,
    pub due: usize,
    pub queued: usize,
    /// Due deliveries another sweep took first.
    pub taken_by_others: usize,
}

pub struct Dispatcher {
    pub store: Store,
    pub client: WebhookClient,
    pub resolver: Arc<dyn Resolve>,
    /// Where an attempt may connect, and its deadline.
    pub policy: Policy,
    /// Where the next attempts are queued.
    pub queue: WebhookQueue,
    /// Multiplies SPEC's retry waits (1 but in tests).
    pub retry_scale: f64,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// At most `MAX_ERROR_BYTES`, cut at a character.
fn short(mut s: String) -> String {
    if s.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Dispatcher {
    /// Handles one queued message now. A store error leaves everything as it was (the queue
    /// delivers the message again).
    pub async fn handle(&self, r: &DeliveryRef) -> Result<Handled, StoreError> {
        let (sub, delivery) = tokio::try_join!(
            self.store.get_subscription(&r.subscription_id),
            self.store.get_delivery(&r.subscription_id, &r.delivery_id)
        )?;
        let Some(delivery) = delivery else {
            return Ok(Handled::Stale);
        };
        if delivery.status != DeliveryStatus::Pending || delivery.attempts != r.attempts {
            return Ok(Handled::Stale);
        }
        let Some(sub) = sub else {
            // SPEC §7: deleting a subscription drops its pending deliveries.
            self.store
                .drop_delivery(&r.subscription_id, &r.delivery_id)
                .await?;
            tracing::info!(subscription_id = %r.subscription_id, delivery_id = %r.delivery_id, "subscription deleted; pending delivery dropped");
            return Ok(Handled::Dropped);
        };
        let now = Timestamp::now();
        if !sub.enabled {
            let after = DeliveryRecord {
                status: DeliveryStatus::Failed,
                last_error: Some("not attempted: the subscription is disabled".into()),
                next_attempt_ms: None,
                ..delivery.clone()
            };
            self.store
                .save_delivery(&after, delivery.attempts, None, now)
                .await?;
            return Ok(Handled::Disabled);
        }
        let attempt = self.attempt(&sub, &delivery, now).await;
        self.record(&sub, &delivery, &attempt, now).await
    }

    /// Signs and sends; never fails (a failure is the attempt's).
    async fn attempt(
        &self,
        sub: &SubscriptionRecord,
        d: &DeliveryRecord,
        now: Timestamp,
    ) -> Attempt {
        let prepared = (|| {
            let url = WebhookUrl::parse(&sub.url, self.policy.addresses)
                .map_err(|e| format!("URL refused: {e}"))?;
            let current = Secret::parse(&sub.secret.0)
                .map_err(|e| format!("the subscription's secret is unusable: {e}"))?;
            let previous = match (&sub.previous_secret, sub.rotated_at_ms) {
                (Some(p), Some(at)) => Secret::parse(&p.0)
                    .ok()
                    .map(|s| (s, Timestamp::from_millis(at))),
                _ => None,
            };
            let signers = Signers::at(&current, previous.as_ref().map(|(s, at)| (s, *at)), now);
            let headers = signature::sign(signers, &d.event_id, now, d.body.as_bytes())
                .map_err(|e| e.to_string())?;
            let mut map = HeaderMap::new();
            for (name, value) in headers.pairs() {
                let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
                map.insert(HeaderName::from_static(name), value);
            }
            Ok::<_, String>((url, map))
        })();
        match prepared {
            Ok((url, headers)) => {
                self.client
                    .deliver(
                        &url,
                        &headers,
                        Bytes::from(d.body.clone()),
                        self.resolver.as_ref(),
                        &self.policy,
                    )
                    .await
            }
            Err(reason) => Attempt {
                status: None,
                error: Some(reason),
                response_excerpt: String::new(),
            },
        }
    }

    /// The wait before the next attempt after `made` failed ones, scaled, or None (failed).
    fn wait_after(&self, made: u32) -> Option<Duration> {
        schedule::next_attempt(made, rand::random::<f64>()).map(|w| w.mul_f64(self.retry_scale))
    }

    async fn record(
        &self,
        sub: &SubscriptionRecord,
        d: &DeliveryRecord,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Handled, StoreError> {
        let outcome = attempt.outcome();
        let made = d.attempts.saturating_add(1);
        let wait = match outcome {
            Outcome::Failed => self.wait_after(made),
            Outcome::Succeeded | Outcome::Gone => None,
        };
        let status = match (outcome, wait) {
            (Outcome::Succeeded, _) => DeliveryStatus::Succeeded,
            (Outcome::Failed, Some(_)) => DeliveryStatus::Pending,
            _ => DeliveryStatus::Failed,
        };
        let next = wait.map(|w| now.millis().saturating_add(ms(w)));
        let after = DeliveryRecord {
            status,
            attempts: made,
            last_attempt_at: Some(now.rfc3339()),
            last_status_code: attempt.status,
            last_error: attempt.error.clone().map(short),
            next_attempt_ms: next,
            response_excerpt: Some(attempt.response_excerpt.clone()).filter(|e| !e.is_empty()),
            ..d.clone()
        };
        // A wait within SQS's delay is queued now; a longer one waits in the due index.
        let queue_now = wait.filter(|w| *w <= HORIZON);
        let due = next.map(|n| {
            if queue_now.is_some() {
                Timestamp::from_millis(n.saturating_add(ms(LEASE)))
            } else {
                Timestamp::from_millis(n)
            }
        });
        if self
            .store
            .save_delivery(&after, d.attempts, due, now)
            .await?
            == crm_shared::store::Written::Stale
        {
            return Ok(Handled::Stale);
        }
        tracing::info!(
            subscription_id = %sub.subscription_id,
            delivery_id = %d.delivery_id,
            event_id = %d.event_id,
            attempt = made,
            status_code = attempt.status,
            error = attempt.error.as_deref().unwrap_or(""),
            delivery_status = status.as_str(),
            "webhook attempt"
        );
        if let Some(w) = queue_now {
            let message = Queued {
                delivery: DeliveryRef {
                    subscription_id: sub.subscription_id.clone(),
                    delivery_id: d.delivery_id.clone(),
                    attempts: made,
                },
                delay: w,
            };
            if let Err(e) = self.queue.send(vec![message]).await {
                tracing::warn!(delivery_id = %d.delivery_id, error = %e, "retry not queued; the sweep takes it");
            }
        }
        self.follow_subscription(sub, outcome, now).await?;
        Ok(Handled::Attempted { outcome, status })
    }

    /// Keeps the subscription's failing streak and disables it on `410 Gone` or after five
    /// days of nothing but failures. Writes only when something changes; a concurrent change
    /// of the subscription wins (the next attempt looks again).
    async fn follow_subscription(
        &self,
        sub: &SubscriptionRecord,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let since = sub.failing_since_ms.map(Timestamp::from_millis);
        let streak = schedule::failing_since(since, outcome == Outcome::Succeeded, now);
        let reason = match outcome {
            Outcome::Gone => Some(format!(
                "The receiver answered 410 Gone at {}.",
                now.rfc3339()
            )),
            _ if schedule::should_disable(streak, now) => Some(format!(
                "Every delivery failed for 5 days (since {}).",
                streak.map(Timestamp::rfc3339).unwrap_or_default()
            )),
            _ => None,
        };
        let streak_ms = streak.map(Timestamp::millis);
        if streak_ms == sub.failing_since_ms && reason.is_none() {
            return Ok(());
        }
        let mut after = sub.clone();
        after.failing_since_ms = streak_ms;
        if let Some(reason) = &reason {
            after.enabled = false;
            after.disabled_reason = Some(reason.clone());
            after.updated_at = now.rfc3339();
        }
        after.version = sub.version + 1;
        self.store.replace_subscription(&after, sub.version).await?;
        if let Some(reason) = reason {
            tracing::warn!(subscription_id = %sub.subscription_id, reason = %reason, "webhook subscription disabled");
        }
        Ok(())
    }

    /// Queues every pending delivery due within `horizon` (the cloud: 15 minutes, every
    /// minute; `crm serve` at start: all of them), each with the delay left, and moves its due
    /// key past that by the lease. Safe beside other sweeps: the move is conditional.
    pub async fn sweep(&self, horizon: Duration) -> Result<SweepReport, StoreError> {
        let now = Timestamp::now();
        let before = Timestamp::from_millis(now.millis().saturating_add(ms(horizon)));
        let subs = self.store.all_subscriptions().await?;
        let mut report = SweepReport {
            subscriptions: subs.len(),
            ..SweepReport::default()
        };
        let found = futures_util::future::try_join_all(subs.iter().map(|s| {
            self.store
                .due_deliveries(&s.subscription_id, before, SWEEP_BATCH)
        }))
        .await?;
        let mut messages = Vec::new();
        for (seen, d) in found.into_iter().flatten() {
            report.due += 1;
            let at = d.next_attempt_ms.unwrap_or(now.millis());
            let delay = Duration::from_millis(u64::try_from(at - now.millis()).unwrap_or(0));
            let lease_end = Timestamp::from_millis(
                now.millis()
                    .saturating_add(ms(delay))
                    .saturating_add(ms(LEASE)),
            );
            if !self
                .store
                .move_delivery_due(&d.subscription_id, &d.delivery_id, &seen, lease_end)
                .await?
            {
                report.taken_by_others += 1;
                continue;
            }
            messages.push(Queued {
                delivery: DeliveryRef {
                    subscription_id: d.subscription_id.clone(),
                    delivery_id: d.delivery_id.clone(),
                    attempts: d.attempts,
                },
                delay: delay.min(MAX_QUEUE_DELAY),
            });
        }
        report.queued = messages.len();
        if let Err(e) = self.queue.send(messages).await {
            // Their due keys moved by the lease: the sweep after it finds them again.
            tracing::warn!(error = %e, "due deliveries not queued; a later sweep takes them");
            report.queued = 0;
        }
        if report.due > 0 {
            tracing::info!(?report, "webhook sweep");
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_kept_to_a_kibibyte_at_a_character() {
        let long = "é".repeat(700);
        let s = short(long);
        assert!(s.len() <= MAX_ERROR_BYTES);
        assert!(s.len() >= MAX_ERROR_BYTES - 1);
        assert_eq!(short("short".into()), "short");
    }

    #[test]
    fn the_lease_outlasts_an_attempt_and_the_horizon_is_sqs_s_delay() {
        assert!(LEASE > crate::deliver::TIMEOUT * 4);
        assert_eq!(HORIZON, Duration::from_secs(900));
    }
}
