//! Messages that are not ticket events: the batch response names exactly them (the rest of
//! the batch is delivered), and on a real queue the redrive policy moves them to the DLQ.

use super::cloud::{Queues, one_mail_each, ses_transport};
use super::support::*;
use crm_notifier::Transport;
use crm_shared::model::Event;
use crm_shared::queue::Publisher;
use crm_tests::desk::ticket_event_channel;
use std::time::{Duration, Instant};

/// A desk on a fresh SQLite store whose events land in a channel, a notifier logging mail
/// to a file, and one created ticket's event.
async fn local_event() -> (Desk, crm_notifier::Notifier, std::path::PathBuf, Event) {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let customer = desk.customer("cust1").await;
    desk.create(&customer, "Poison neighbour").await;
    let ev = rx.recv().await.expect("the creation event");
    let log = crm_tests::server::temp_dir("notify-mail").join("mail.log");
    let n = notifier(
        desk.store().clone(),
        Transport::log(Some(log.clone())),
        Publisher::Outbox,
    );
    (desk, n, log, ev)
}

#[tokio::test]
async fn a_batch_reports_exactly_the_garbage_message() {
    let (desk, n, log, ev) = local_event().await;
    let body = serde_json::to_string(&ev).expect("event json");
    let resp = n
        .handle_sqs(sqs_event(&[
            ("msg-valid", Some(body.as_str())),
            ("msg-garbage", Some("}{ definitely not an event")),
        ]))
        .await;
    assert_eq!(failed_ids(&resp), vec!["msg-garbage".to_owned()]);
    let lines = mail_log(&log);
    assert_eq!(lines.len(), 1, "the valid event is mailed once: {lines:?}");
    assert_eq!(lines[0]["eventId"], serde_json::json!(ev.id));
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_none()
    );
}

#[tokio::test]
async fn a_batch_reports_every_kind_of_bad_message() {
    let (_desk, n, log, ev) = local_event().await;
    let body = serde_json::to_string(&ev).expect("event json");
    let mut wrong_version = serde_json::to_value(&ev).expect("event json");
    wrong_version["type"] = serde_json::json!("TICKET_EXPLODED");
    let wrong_version = wrong_version.to_string();
    let resp = n
        .handle_sqs(sqs_event(&[
            ("a-no-body", None),
            ("b-json-not-event", Some(r#"{"hello":"world"}"#)),
            ("c-valid", Some(body.as_str())),
            ("d-unknown-type", Some(wrong_version.as_str())),
            ("e-empty", Some("")),
        ]))
        .await;
    assert_eq!(
        failed_ids(&resp),
        vec!["a-no-body", "b-json-not-event", "d-unknown-type", "e-empty"]
    );
    assert_eq!(mail_log(&log).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_ends_in_the_dead_letter_queue() {
    let queues = Queues::new(2, 0).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(queues.publisher());
    let customer = desk.customer("cust1").await;
    let t = desk.create(&customer, "Beside a poison message").await;
    let garbage = format!("not an event {}", crm_tests::unique("poison"));
    let garbage_id = queues
        .sqs
        .send_message()
        .queue_url(&queues.url)
        .message_body(&garbage)
        .send()
        .await
        .expect("sending the garbage")
        .message_id
        .expect("message id");
    let n = notifier(
        desk.store().clone(),
        ses_transport().await,
        queues.publisher(),
    );

    // Act as the SQS trigger until the queue is empty: failed messages stay (visibility
    // timeout 0 makes them visible again at once) until the redrive policy moves them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut garbage_failures = 0;
    loop {
        assert!(Instant::now() < deadline, "the queue never drained");
        let (received, failed) = queues.pump(&n).await;
        if received == 0 {
            break;
        }
        for id in &failed {
            assert_eq!(id, &garbage_id, "only the garbage may fail");
            garbage_failures += 1;
        }
    }
    assert_eq!(
        garbage_failures, 2,
        "the garbage is tried maxReceiveCount times"
    );
    let dead = queues.dead_letters().await;
    assert_eq!(dead, vec![garbage], "the garbage is in the DLQ, alone");
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&[email_of("cust1"), email_of("admin")]),
        "the valid event is mailed once to each"
    );
    assert!(desk.outbox().await.is_empty());
}
