//! One mail per event however often SQS hands the message over: one after the other, or
//! two deliveries at once. The delivery marker ends SENT with a TTL, the outbox item gone.
//! Concurrent deliveries run on SQLite and on the serialized emulator (`crm_tests::on_both_backends!`).

use super::cloud::{Queues, event_of, mails_about, one_mail_each, ses_transport};
use super::support::*;
use crm_notifier::Notifier;
use crm_shared::model::{Event, Timestamp};
use crm_shared::store::{DeliveryState, MARKER_TTL_SECONDS, Store, keys};
use crm_tests::desk::ticket_of;

/// A created ticket on `store` whose event waits on a real queue; the notifier on SES.
async fn one_event(store: Store) -> (Desk, Notifier, Vec<aws_sdk_sqs::types::Message>, Event) {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(store).await.with_publisher(queues.publisher());
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    desk.create(&customer, "Delivered more than once").await;
    let msgs = queues.receive_exactly(1).await;
    let ev: Event =
        serde_json::from_str(msgs[0].body.as_deref().expect("body")).expect("a ticket event");
    let n = notifier(
        desk.store().clone(),
        ses_transport().await,
        queues.publisher(),
    );
    (desk, n, msgs, ev)
}

/// Exactly one mail went out for `ev` to each recipient; its marker is SENT with the SES
/// message ids and a TTL; the outbox item is gone.
async fn assert_delivered_once(desk: &Desk, ev: &Event) {
    assert_eq!(
        one_mail_each(&ticket_of(ev).id).await,
        set(&[email_of("cust1"), email_of("eng1"), email_of("admin")]),
        "exactly one mail to each recipient"
    );
    let mails = mails_about(&ticket_of(ev).id).await;
    let marker = desk
        .store()
        .delivery(ev.key_id())
        .await
        .expect("marker read")
        .expect("a delivery marker");
    assert_eq!(marker.state, DeliveryState::Sent);
    let mut tracked: Vec<&str> = marker
        .tracking_id
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .collect();
    tracked.sort_unstable();
    let mut ids: Vec<&str> = mails.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(tracked, ids, "the marker keeps every message id");
    let raw = desk
        .store()
        .get(&keys::delivery(ev.key_id()))
        .await
        .expect("marker item")
        .expect("marker item exists");
    let ttl = raw
        .get("ttl")
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("the marker has no numeric ttl: {raw:?}"));
    let expected = Timestamp::now().seconds() + MARKER_TTL_SECONDS;
    assert!(
        (expected - 900..=expected).contains(&ttl),
        "ttl {ttl} is not about now + {MARKER_TTL_SECONDS} s"
    );
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox read")
            .is_none(),
        "the outbox item is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_message_sends_one_mail() {
    let (desk, n, msgs, ev) = one_event(crm_tests::emulator::dynamo_store().await).await;
    for round in 0..3 {
        let resp = n.handle_sqs(event_of(&msgs)).await;
        assert_eq!(
            failed_ids(&resp),
            Vec::<String>::new(),
            "delivery {round} failed"
        );
    }
    assert_delivered_once(&desk, &ev).await;
    // The notifier's own answer for a repeat.
    assert_eq!(n.deliver(&ev).await, Ok(crm_notifier::Outcome::AlreadySent));
}

/// The finish is two standard writes, the SENT marker first: a crash between them leaves the
/// outbox item, which the sweep pushes again. That copy finds the event sent, mails nobody
/// again and removes the item.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_after_a_crash_between_the_finish_writes_removes_the_outbox_item_and_mails_nobody() {
    let (desk, n, msgs, ev) = one_event(crm_tests::emulator::dynamo_store().await).await;
    assert_eq!(
        failed_ids(&n.handle_sqs(event_of(&msgs)).await),
        Vec::<String>::new()
    );
    // What the crash leaves: the outbox item as the change committed it, beside SENT.
    let outbox = keys::outbox(ev.key_id());
    let put = desk
        .store()
        .event_writes(&ev)
        .expect("event writes")
        .into_iter()
        .find(|w| {
            matches!(w, crm_shared::store::Write::Put { item, .. }
                if item.get("pk").and_then(|v| v.as_str()) == Some(outbox.pk.as_str())
                    && item.get("sk").and_then(|v| v.as_str()) == Some(outbox.sk.as_str()))
        })
        .expect("the outbox write");
    desk.store()
        .transact(vec![put])
        .await
        .expect("outbox item back");
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(n.deliver(&ev).await, Ok(crm_notifier::Outcome::AlreadySent));
    assert_delivered_once(&desk, &ev).await;
}

crm_tests::on_both_backends!(concurrent:
    concurrent_deliveries_of_one_message_send_one_mail,
    concurrent_deliver_calls_of_one_event_send_one_mail,
);

async fn concurrent_deliveries_of_one_message_send_one_mail(store: Store) {
    let (desk, n, msgs, ev) = one_event(store).await;
    let batch = || event_of(&msgs);
    let (a, b, c) = tokio::join!(
        n.handle_sqs(batch()),
        n.handle_sqs(batch()),
        n.handle_sqs(batch())
    );
    let failures = [a, b, c]
        .iter()
        .filter(|r| !r.batch_item_failures.is_empty())
        .count();
    assert!(failures <= 2, "at least one delivery succeeds");
    // SQS hands a failed message over again later: it is then already sent.
    let again = n.handle_sqs(batch()).await;
    assert_eq!(failed_ids(&again), Vec::<String>::new());
    assert_delivered_once(&desk, &ev).await;
}

async fn concurrent_deliver_calls_of_one_event_send_one_mail(store: Store) {
    let (desk, n, _msgs, ev) = one_event(store).await;
    let outcomes = futures_util::future::join_all((0..6).map(|_| n.deliver(&ev))).await;
    let sent = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(crm_notifier::Outcome::Sent { .. })))
        .count();
    assert_eq!(sent, 1, "outcomes: {outcomes:?}");
    for o in &outcomes {
        assert!(
            matches!(o, Ok(_) | Err(crm_notifier::DeliveryError::Retry(_))),
            "a concurrent copy either waits or finds it sent: {o:?}"
        );
    }
    assert_delivered_once(&desk, &ev).await;
}

/// The marker's TTL attribute is the one the table expires items by.
#[tokio::test]
async fn the_marker_ttl_attribute_is_the_tables_ttl() {
    let sdk = crm_tests::emulator::sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = crm_tests::unique("crm-ttl");
    let backend = crm_shared::store::DynamoBackend::new(ddb.clone(), table.clone());
    backend.ensure_table().await.expect("table");
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("describe ttl")
        .time_to_live_description
        .expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}
