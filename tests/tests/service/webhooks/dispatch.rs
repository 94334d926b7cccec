//! The fan-out and the dispatcher in-process, on the embedded store, with receivers on loopback
//! ports: a resolver stand-in that answers a public name with private addresses (the attempt
//! is recorded failed and nothing is sent), a redelivered event recorded once, a deleted
//! subscription's pending delivery dropped, a stale message that does nothing, and the
//! five-day rule.

use crm_dispatcher::resolve::Resolved;
use crm_dispatcher::{Dispatcher, Handled, Outcome, Policy, Resolve, WebhookClient};
use crm_notifier::integrations::Integrations;
use crm_shared::model::{Event, Timestamp};
use crm_shared::store::{DeliveryStatus, SecretText, Store, SubscriptionRecord};
use crm_shared::webhooks::address::AddressPolicy;
use crm_shared::webhooks::queue::{DeliveryRef, Queued, WebhookQueue};
use crm_shared::webhooks::signature::Secret;
use crm_tests::receiver::{Receiver, Reply};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Answers every name with the same addresses.
struct StandIn(Vec<IpAddr>);

impl Resolve for StandIn {
    fn resolve<'a>(&'a self, _host: &'a str) -> Resolved<'a> {
        let ips = self.0.clone();
        Box::pin(async move { Ok(ips) })
    }
}

fn event(n: u32) -> Event {
    serde_json::from_value(serde_json::json!({
        "id": format!("evt_01JD6E2Q7M00000000000000{n:02}"), "type": "ticket.created",
        "timestamp": "2026-12-06T12:00:00.000Z",
        "data": {"actor": "cust1",
            "ticket": {"_id": "01T", "title": "t", "ticketPriority": 4,
                "description": "d", "status": "OPEN", "reporter": "cust1",
                "assignee": null, "createdAt": "a", "updatedAt": "a", "version": 1}}
    }))
    .unwrap()
}

async fn subscription(store: &Store, url: &str) -> SubscriptionRecord {
    let now = Timestamp::now().rfc3339();
    let s = SubscriptionRecord {
        subscription_id: crm_shared::model::new_ulid().to_string(),
        url: url.to_owned(),
        events: vec!["*".into()],
        description: None,
        enabled: true,
        secret: SecretText(Secret::generate().reveal()),
        previous_secret: None,
        rotated_at_ms: None,
        created_at: now.clone(),
        updated_at: now,
        disabled_reason: None,
        failing_since_ms: None,
        version: 1,
    };
    store.create_subscription(&s).await.unwrap();
    s
}

struct World {
    store: Store,
    integrations: Integrations,
    queued: mpsc::UnboundedReceiver<Queued>,
}

fn world() -> World {
    let (tx, rx) = mpsc::unbounded_channel();
    World {
        store: crm_tests::emulator::sqlite_store(),
        integrations: Integrations {
            webhooks: WebhookQueue::Channel(tx),
            bus: None,
        },
        queued: rx,
    }
}

fn dispatcher(store: &Store, resolver: Arc<dyn Resolve>, allow_private: bool) -> Dispatcher {
    Dispatcher {
        store: store.clone(),
        client: WebhookClient::new().unwrap(),
        resolver,
        policy: Policy {
            addresses: AddressPolicy {
                allow_http: true,
                allow_private,
            },
            timeout: Duration::from_secs(5),
        },
        queue: WebhookQueue::Table,
        retry_scale: 0.001,
    }
}

#[tokio::test]
async fn a_public_name_resolving_to_private_addresses_is_recorded_failed_and_nothing_is_sent() {
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    let port = receiver.addr.port();
    let mut w = world();
    let sub = subscription(&w.store, &format!("http://hooks.example.com:{port}/h")).await;
    for (n, answer) in [
        "169.254.169.254",
        "10.0.0.7",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "127.0.0.1",
    ]
    .iter()
    .enumerate()
    {
        let ip: IpAddr = answer.parse().unwrap();
        let e = event(n as u32);
        w.integrations.handle(&w.store, &e).await.unwrap();
        let q = w
            .queued
            .try_recv()
            .expect("the new delivery is handed over");
        let d = dispatcher(&w.store, Arc::new(StandIn(vec![ip])), false);
        let handled = d.handle(&q.delivery).await.unwrap();
        assert_eq!(
            handled,
            Handled::Attempted {
                outcome: Outcome::Failed,
                status: DeliveryStatus::Pending
            },
            "{answer}"
        );
        let rec = w
            .store
            .get_delivery(&sub.subscription_id, e.key_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.attempts, 1);
        assert_eq!(rec.last_status_code, None);
        let err = rec.last_error.unwrap_or_default();
        assert!(err.contains("address refused"), "{answer}: {err}");
    }
    assert_eq!(receiver.connections(), 0, "nothing was sent");
    // The same delivery with private addresses allowed (crm serve's default) reaches it.
    let e = event(40);
    w.integrations.handle(&w.store, &e).await.unwrap();
    let q = w.queued.try_recv().unwrap();
    let d = dispatcher(
        &w.store,
        Arc::new(StandIn(vec!["127.0.0.1".parse().unwrap()])),
        true,
    );
    assert!(matches!(
        d.handle(&q.delivery).await.unwrap(),
        Handled::Attempted {
            outcome: Outcome::Succeeded,
            ..
        }
    ));
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_redelivered_event_records_nothing_twice() {
    let mut w = world();
    subscription(&w.store, "http://127.0.0.1:9/a").await;
    subscription(&w.store, "http://127.0.0.1:9/b").await;
    let e = event(1);
    let first = w.integrations.handle(&w.store, &e).await.unwrap();
    assert_eq!((first.wanted, first.recorded), (2, 2));
    let again = w.integrations.handle(&w.store, &e).await.unwrap();
    assert_eq!((again.wanted, again.recorded), (2, 0));
    let mut n = 0;
    while w.queued.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, 2, "each new delivery handed over once");
}

#[tokio::test]
async fn a_deleted_subscription_s_pending_delivery_is_dropped_and_a_stale_copy_does_nothing() {
    let receiver = Receiver::start(vec![Reply::Status(500)]).await;
    let mut w = world();
    let sub = subscription(&w.store, &receiver.url("/x")).await;
    let d = dispatcher(&w.store, crm_tests_resolver(), true);
    w.integrations.handle(&w.store, &event(1)).await.unwrap();
    let q = w.queued.try_recv().unwrap();
    assert!(matches!(
        d.handle(&q.delivery).await.unwrap(),
        Handled::Attempted {
            outcome: Outcome::Failed,
            ..
        }
    ));
    // The same message again (SQS redelivered it): the record moved on, nothing is sent.
    assert_eq!(d.handle(&q.delivery).await.unwrap(), Handled::Stale);
    assert_eq!(receiver.received().len(), 1);
    assert!(
        w.store
            .delete_subscription(&sub.subscription_id)
            .await
            .unwrap()
    );
    let next = DeliveryRef {
        attempts: 1,
        ..q.delivery.clone()
    };
    assert_eq!(d.handle(&next).await.unwrap(), Handled::Dropped);
    assert_eq!(receiver.received().len(), 1, "deliveries stop");
    assert!(
        w.store
            .get_delivery(&sub.subscription_id, &next.delivery_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_subscription_whose_every_delivery_failed_for_five_days_is_disabled() {
    let receiver = Receiver::start(vec![Reply::Status(500)]).await;
    let mut w = world();
    let mut sub = subscription(&w.store, &receiver.url("/five")).await;
    let d = dispatcher(&w.store, crm_tests_resolver(), true);
    // Failing for a little less than five days: still enabled after one more failure.
    let since = Timestamp::now().millis() - 5 * 24 * 3600 * 1000 + 60_000;
    let mut s2 = sub.clone();
    s2.failing_since_ms = Some(since);
    s2.version = 2;
    w.store.replace_subscription(&s2, 1).await.unwrap();
    w.integrations.handle(&w.store, &event(1)).await.unwrap();
    let q = w.queued.try_recv().unwrap();
    d.handle(&q.delivery).await.unwrap();
    sub = w
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap()
        .unwrap();
    assert!(sub.enabled);
    assert_eq!(
        sub.failing_since_ms,
        Some(since),
        "the streak keeps its start"
    );
    // Past five days: the next failure disables it.
    let mut s3 = sub.clone();
    s3.failing_since_ms = Some(since - 120_000);
    s3.version = sub.version + 1;
    w.store
        .replace_subscription(&s3, sub.version)
        .await
        .unwrap();
    w.integrations.handle(&w.store, &event(2)).await.unwrap();
    let q = w.queued.try_recv().unwrap();
    d.handle(&q.delivery).await.unwrap();
    let sub = w
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!sub.enabled);
    assert!(sub.disabled_reason.unwrap().contains("5 days"));
    // A success clears a streak.
    let ok = Receiver::start(vec![Reply::Status(200)]).await;
    let mut healthy = subscription(&w.store, &ok.url("/ok")).await;
    let mut h2 = healthy.clone();
    h2.failing_since_ms = Some(since);
    h2.version = 2;
    w.store.replace_subscription(&h2, 1).await.unwrap();
    w.integrations.handle(&w.store, &event(3)).await.unwrap();
    while let Ok(q) = w.queued.try_recv() {
        d.handle(&q.delivery).await.unwrap();
    }
    healthy = w
        .store
        .get_subscription(&healthy.subscription_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(healthy.failing_since_ms, None);
    assert!(healthy.enabled);
}

#[tokio::test]
async fn the_sweep_queues_due_deliveries_once_with_the_delay_left() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut w = world();
    let sub = subscription(&w.store, "http://127.0.0.1:9/s").await;
    w.integrations.handle(&w.store, &event(1)).await.unwrap();
    let _ = w.queued.try_recv();
    let mut d = dispatcher(&w.store, crm_tests_resolver(), true);
    d.queue = WebhookQueue::Channel(tx);
    // Just recorded: its message is in flight, the lease keeps the sweep away.
    assert_eq!(d.sweep(Duration::from_secs(60)).await.unwrap().queued, 0);
    // At start (everything is due), it is queued, once.
    let r = d.sweep(Duration::from_secs(3600)).await.unwrap();
    assert_eq!((r.subscriptions, r.due, r.queued), (1, 1, 1));
    let q = rx.try_recv().unwrap();
    assert_eq!(q.delivery.subscription_id, sub.subscription_id);
    assert_eq!(q.delay, Duration::ZERO, "due since its creation");
    assert_eq!(d.sweep(Duration::from_secs(60)).await.unwrap().queued, 0);
}

fn crm_tests_resolver() -> Arc<dyn Resolve> {
    Arc::new(crm_dispatcher::SystemResolver)
}
