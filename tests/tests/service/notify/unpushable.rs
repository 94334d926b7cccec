//! SPEC §4: an event whose push fails for a reason that will not pass is parked and alarmed,
//! never retried silently forever. SQS refuses message bodies with characters outside its
//! allowed set (U+FFFF among them); moto does not, so the cloud case runs through the
//! stricter stand-in (`standin.rs`), and the local case through the in-process channel,
//! which enforces the same rule. The event is written into the outbox through the store,
//! not through POST /tickets (the API refuses such text at input).

use super::cloud::Queues;
use super::standin::{Rule, StandIn};
use super::support::*;
use crm_notifier::ALARM_PARKED;
use crm_shared::model::Event;
use crm_shared::queue::{Publisher, PushError};
use crm_shared::store::{Cond, Store, Write, keys};
use crm_tests::desk::ticket_event_channel;
use crm_tests::desk::ticket_of_mut;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The warnings and errors logged on this thread, as JSON lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Starts capturing (until the guard drops). The sweep runs on the test's own thread.
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let c = Captured::default();
        let w = c.clone();
        let sub = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || w.clone())
            .finish();
        (c, tracing::subscriber::set_default(sub))
    }

    /// The ERROR lines carrying the parking alarm for this event.
    fn alarms_for(&self, event_id: &str) -> Vec<Value> {
        let raw = self.0.lock().expect("log buffer").clone();
        String::from_utf8_lossy(&raw)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["level"] == "ERROR"
                    && v["fields"]["alarm"] == ALARM_PARKED
                    && v["fields"]["event_id"] == event_id
            })
            .collect()
    }
}

/// A created ticket whose outbox event now holds U+FFFF in its title (as an item written
/// before the input rule existed would), and a second, ordinary one.
async fn two_events(store: Store) -> (Desk, Event, Event) {
    let desk = Desk::new(store).await.with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    let bad = desk.create(&customer, "Will be poisoned").await;
    let good = desk.create(&customer, "An ordinary title").await;
    let mut ev = desk.outbox_events_of(&bad.id).await.pop().expect("event");
    ticket_of_mut(&mut ev).title = "Printer \u{FFFF} broken".into();
    desk.store()
        .transact(vec![Write::Update {
            key: keys::outbox(ev.key_id()),
            set: vec![("event", serde_json::to_value(&ev).expect("event json"))],
            add: vec![],
            remove: vec![],
            cond: Cond::Exists,
        }])
        .await
        .expect("rewriting the outbox event");
    let ok = desk.outbox_events_of(&good.id).await.pop().expect("event");
    // A sweep takes items last pushed strictly before its start.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    (desk, ev, ok)
}

/// Sweeps `n` more periods; returns what they pushed and failed in total.
async fn sweep_periods(n: &crm_notifier::Notifier, periods: usize) -> (usize, usize, usize) {
    let (mut stale, mut pushed, mut failed) = (0, 0, 0);
    for _ in 0..periods {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let r = n.sweep(0).await.expect("sweep");
        stale += r.stale;
        pushed += r.pushed;
        failed += r.push_failures + r.refused;
    }
    (stale, pushed, failed)
}

/// After the first sweep parked `bad`, it is neither stale nor lost: parked, still stored.
async fn assert_parked(desk: &Desk, bad: &Event) {
    assert!(
        desk.outbox().await.iter().all(|e| e.event.id != bad.id),
        "the parked item is out of the sweep's way"
    );
    let kept = desk
        .store()
        .outbox_entry(bad.key_id())
        .await
        .expect("outbox read")
        .expect("the parked item is kept for an operator");
    let raw = desk
        .store()
        .get(&keys::outbox(bad.key_id()))
        .await
        .expect("outbox item")
        .expect("exists");
    assert_eq!(
        raw.get("gsi1pk").and_then(Value::as_str),
        Some("OUTBOX#PARKED")
    );
    assert_eq!(kept.event, *bad);
}

crm_tests::on_both_backends!(concurrent: an_event_sqs_refuses_is_parked_at_once_and_alarmed);

async fn an_event_sqs_refuses_is_parked_at_once_and_alarmed(store: Store) {
    let queues = Queues::new(5, 30).await;
    let sqs = StandIn::start(Rule::SqsCharacters).await;
    let publisher = sqs.sqs_publisher(&queues.url).await;
    let (desk, bad, good) = two_events(store).await;

    // The publisher tells a refusal from an outage.
    match publisher.push(&bad).await {
        Err(PushError::Permanent(e)) => assert!(e.contains("InvalidMessageContents"), "{e}"),
        other => panic!("SQS refusing the body is permanent: {other:?}"),
    }
    let missing = sqs.sqs_publisher(&format!("{}-missing", queues.url)).await;
    assert!(
        matches!(missing.push(&good).await, Err(PushError::Transient(_))),
        "a missing queue may come back: transient"
    );

    let (logs, _guard) = Captured::start();
    let n = notifier(
        desk.store().clone(),
        crm_notifier::Transport::log(None),
        publisher,
    );
    let first = n.sweep(0).await.expect("sweep");
    assert_eq!(
        (
            first.stale,
            first.pushed,
            first.refused,
            first.parked,
            first.push_failures
        ),
        (2, 1, 1, 1, 0),
        "the refused event is parked at once, the other pushed: {first:?}"
    );
    assert_eq!(
        logs.alarms_for(&bad.id).len(),
        1,
        "one alarm-able error names the event"
    );
    assert_parked(&desk, &bad).await;
    let msgs = queues.receive_exactly(1).await;
    assert!(
        msgs[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains(&good.id)),
        "the ordinary event reached the queue"
    );

    // Later periods do not push it again.
    let (_, _, failed) = sweep_periods(&n, 5).await;
    assert_eq!(failed, 0, "nothing refused (or failed) again");
    let refused_pushes = sqs
        .seen()
        .iter()
        .filter(|s| s.message_body.contains(&bad.id))
        .inspect(|s| assert!(s.refused, "the stand-in refuses it"))
        .count();
    assert_eq!(
        refused_pushes, 2,
        "pushed twice in all (the check above and the first sweep), never again"
    );
    assert_eq!(logs.alarms_for(&bad.id).len(), 1, "alarmed once");
}

/// `crm serve`'s in-process queue refuses what SQS refuses, so the local sweep parks the
/// same event the cloud's would (local = cloud).
#[tokio::test]
async fn the_local_channel_parks_what_sqs_would_refuse() {
    let (publisher, mut rx) = ticket_event_channel();
    let (desk, bad, good) = two_events(crm_tests::emulator::sqlite_store()).await;
    let (logs, _guard) = Captured::start();
    let n = notifier(
        desk.store().clone(),
        crm_notifier::Transport::log(None),
        publisher,
    );
    let first = n.sweep(0).await.expect("sweep");
    assert_eq!(
        (first.pushed, first.refused, first.parked),
        (1, 1, 1),
        "{first:?}"
    );
    assert_eq!(logs.alarms_for(&bad.id).len(), 1);
    assert_parked(&desk, &bad).await;
    assert_eq!(rx.recv().await.expect("pushed").id, good.id);
    let (_, pushed, failed) = sweep_periods(&n, 5).await;
    assert_eq!(failed, 0, "nothing refused again");
    // Only the good one may come again (it is stale once more: nobody delivers it here).
    while let Ok(ev) = rx.try_recv() {
        assert_eq!(ev.id, good.id);
    }
    assert!(pushed >= 1);
}
