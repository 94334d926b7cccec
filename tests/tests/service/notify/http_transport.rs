//! The `http` transport against a real HTTP server on loopback standing in for the
//! notification API: the contract body, retries on 5xx, 429 and timeouts, 4xx refusals
//! that are permanent, and the tracking id kept in the delivery marker.

use super::notification_api::{NotificationApi, Reply};
use super::support::*;
use crm_notifier::{DeliveryError, Notifier, Outcome, Transport};
use crm_shared::model::Event;
use crm_shared::queue::Publisher;
use crm_shared::store::DeliveryState;
use crm_tests::desk::ticket_event_channel;
use crm_tests::desk::ticket_of;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A created (and auto-assigned) ticket's event on a fresh SQLite store, and a notifier
/// sending through the http transport to `api`.
async fn setup(api: &NotificationApi) -> (Desk, Notifier, Event) {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    desk.create(&customer, "Mailed through the API").await;
    let ev = rx.recv().await.expect("the creation event");
    let n = notifier(
        desk.store().clone(),
        Transport::http(api.url.clone()).expect("http transport"),
        Publisher::Outbox,
    );
    (desk, n, ev)
}

async fn marker(desk: &Desk, ev: &Event) -> Option<crm_shared::store::Delivery> {
    desk.store()
        .delivery(ev.key_id())
        .await
        .expect("marker read")
}

#[tokio::test]
async fn posts_the_notification_contract() {
    let api = NotificationApi::start().await;
    let (desk, n, ev) = setup(&api).await;
    let out = n.deliver(&ev).await;
    assert_eq!(
        out,
        Ok(Outcome::Sent {
            tracking_id: Some("trk-1".into()),
            recipients: 3
        })
    );
    let got = api.received();
    assert_eq!(got.len(), 1, "one request: {got:?}");
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/crmNotificationService/api/v1/notifications");
    assert!(
        r.content_type.starts_with("application/json"),
        "content-type {:?}",
        r.content_type
    );
    let keys: BTreeSet<&str> = r
        .body
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["subject", "recipientEmails", "content", "requester"]),
        "body {}",
        r.body
    );
    assert_eq!(r.body["requester"], json!("CRM Service API"));
    assert_recipients(
        &recipients_of(&r.body),
        &[&email_of("cust1"), &email_of("admin"), &email_of("eng1")],
    );
    assert_mail_describes(
        r.body["subject"].as_str().expect("subject"),
        r.body["content"].as_str().expect("content"),
        ticket_of(&ev),
        &[],
    );
    let m = marker(&desk, &ev).await.expect("a marker");
    assert_eq!(m.state, DeliveryState::Sent);
    assert_eq!(m.tracking_id.as_deref(), Some("trk-1"));
    // Delivered: a repeat sends nothing.
    assert_eq!(n.deliver(&ev).await, Ok(Outcome::AlreadySent));
    assert_eq!(api.count(), 1);
}

#[tokio::test]
async fn a_503_then_201_sends_once_and_keeps_the_tracking_id() {
    let api = NotificationApi::scripted(
        vec![Reply::Status(503, json!({"message": "try later"}))],
        None,
    )
    .await;
    let (desk, n, ev) = setup(&api).await;
    let out = n.deliver(&ev).await;
    assert_eq!(
        out,
        Ok(Outcome::Sent {
            tracking_id: Some("trk-2".into()),
            recipients: 3
        })
    );
    let got = api.received();
    assert_eq!(got.len(), 2, "the 503 was retried once");
    assert_eq!(got[0].body, got[1].body, "the retry sends the same mail");
    let m = marker(&desk, &ev).await.expect("a marker");
    assert_eq!(m.state, DeliveryState::Sent);
    assert_eq!(m.tracking_id.as_deref(), Some("trk-2"));
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_none()
    );
}

/// SPEC §4: every request carries `Idempotency-Key: <eventId>`, the retries inside one
/// delivery and a later redelivery alike, so the API can drop what it already accepted.
#[tokio::test]
async fn every_request_carries_the_event_id_as_idempotency_key() {
    let api = NotificationApi::scripted(
        vec![
            Reply::Status(503, json!({"message": "try later"})),
            Reply::Status(429, json!({"message": "slow down"})),
            Reply::Status(500, json!({"message": "down"})),
        ],
        None,
    )
    .await;
    let (desk, n, ev) = setup(&api).await;
    // Three failed attempts (503, 429, 500): the delivery gives up for now.
    assert!(matches!(n.deliver(&ev).await, Err(DeliveryError::Retry(_))));
    // The redelivery is accepted.
    assert!(matches!(n.deliver(&ev).await, Ok(Outcome::Sent { .. })));
    let got = api.received();
    assert_eq!(got.len(), 4, "{got:?}");
    for r in &got {
        assert_eq!(
            r.idempotency_key.as_deref(),
            Some(ev.id.as_str()),
            "request {r:?}"
        );
        assert_eq!(r.body, got[0].body, "every attempt sends the same body");
    }
    // Another event gets its own key.
    let customer = authed(&desk.ctx, "cust1", crm_shared::model::UserType::Customer);
    let other = desk.create(&customer, "A second ticket").await;
    let ev2 = desk
        .outbox_events_of(&other.id)
        .await
        .pop()
        .expect("its event");
    n.deliver(&ev2).await.expect("delivered");
    let last = api.received().pop().expect("a request");
    assert_eq!(last.idempotency_key.as_deref(), Some(ev2.id.as_str()));
    assert_ne!(ev2.id, ev.id);
}

#[tokio::test]
async fn a_400_is_permanent_without_retry_and_releases_the_marker() {
    let api = NotificationApi::scripted(
        Vec::new(),
        Some(Reply::Status(400, json!({"message": "bad recipients"}))),
    )
    .await;
    let (desk, n, ev) = setup(&api).await;
    match n.deliver(&ev).await {
        Err(DeliveryError::Permanent(_)) => {}
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_eq!(api.count(), 1, "a 400 is not retried");
    assert_eq!(marker(&desk, &ev).await, None, "the claim is released");
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_some(),
        "the outbox keeps the undelivered event"
    );
    // As an SQS record it is reported failed (so it ends in the DLQ after the retries).
    let body = serde_json::to_string(&ev).expect("json");
    let resp = n
        .handle_sqs(sqs_event(&[("m-refused", Some(body.as_str()))]))
        .await;
    assert_eq!(failed_ids(&resp), vec!["m-refused".to_owned()]);
}

#[tokio::test]
async fn a_429_is_retried() {
    let api = NotificationApi::scripted(
        vec![Reply::Status(429, json!({"message": "slow down"}))],
        None,
    )
    .await;
    let (desk, n, ev) = setup(&api).await;
    assert!(matches!(
        n.deliver(&ev).await,
        Ok(Outcome::Sent {
            tracking_id: Some(_),
            ..
        })
    ));
    assert_eq!(api.count(), 2);
    assert_eq!(
        marker(&desk, &ev).await.expect("marker").state,
        DeliveryState::Sent
    );
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let api = NotificationApi::scripted(vec![Reply::Stall(Duration::from_secs(30))], None).await;
    let (desk, n, ev) = setup(&api).await;
    let started = Instant::now();
    let out = n.deliver(&ev).await;
    assert!(
        matches!(out, Ok(Outcome::Sent { tracking_id: Some(ref t), .. }) if t == "trk-2"),
        "{out:?} after {:?}",
        started.elapsed()
    );
    assert_eq!(
        api.count(),
        2,
        "the stalled request was given up and retried"
    );
    assert_eq!(
        marker(&desk, &ev)
            .await
            .expect("marker")
            .tracking_id
            .as_deref(),
        Some("trk-2")
    );
}

#[tokio::test]
async fn a_failing_api_is_reported_so_the_message_is_retried() {
    let api = NotificationApi::scripted(
        Vec::new(),
        Some(Reply::Status(503, json!({"message": "down"}))),
    )
    .await;
    let (desk, n, ev) = setup(&api).await;
    let body = serde_json::to_string(&ev).expect("json");
    let batch = || sqs_event(&[("m-1", Some(body.as_str()))]);
    let resp = n.handle_sqs(batch()).await;
    assert_eq!(failed_ids(&resp), vec!["m-1".to_owned()]);
    assert!(api.count() >= 2, "5xx answers are retried in the call");
    assert_eq!(marker(&desk, &ev).await, None, "the claim is released");
    // The API recovers; SQS hands the message over again: one mail, then none.
    api.answer_from_now(None);
    let before = api.count();
    assert_eq!(
        failed_ids(&n.handle_sqs(batch()).await),
        Vec::<String>::new()
    );
    assert_eq!(api.count(), before + 1);
    assert_eq!(
        failed_ids(&n.handle_sqs(batch()).await),
        Vec::<String>::new()
    );
    assert_eq!(api.count(), before + 1, "a redelivery sends nothing");
}

#[tokio::test]
async fn an_unreachable_api_is_a_transient_failure() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let api = NotificationApi::start().await;
    let (desk, _, ev) = setup(&api).await;
    let n = notifier(
        desk.store().clone(),
        Transport::http(format!("http://127.0.0.1:{closed}/notifications")).expect("transport"),
        Publisher::Outbox,
    );
    match n.deliver(&ev).await {
        Err(DeliveryError::Retry(_)) => {}
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(marker(&desk, &ev).await, None);
}
