//! No notification is lost when the push to SQS fails: the request still succeeds, the
//! outbox keeps the event, and the sweep re-pushes it once per period, however many sweeps
//! run at once and beside deliveries. The concurrent cases run on SQLite and on the
//! serialized emulator (`crm_tests::on_both_backends!`).

use super::cloud::{Queues, event_of, one_mail_each, ses_transport, unreachable_publisher};
use super::support::*;
use crm_notifier::{Notifier, SweepReport};
use crm_shared::http::{BASE_PATH, answer};
use crm_shared::model::{Timestamp, UserType};
use crm_shared::queue::Publisher;
use crm_shared::store::{OutboxEntry, Store};
use crm_tests::desk::ticket_of;
use serde_json::{Value, json};

/// Moves every outbox item's last push `seconds` into the past (as if nobody had pushed it
/// for that long), the way the sweep itself marks an item.
async fn age_outbox(desk: &Desk, seconds: i64) {
    let past = Timestamp::now().plus_seconds(-seconds);
    for e in desk.outbox().await {
        assert!(
            desk.store()
                .mark_outbox_pushed(&e, past)
                .await
                .expect("aging an outbox item"),
            "aging {}",
            e.event.id
        );
    }
}

fn sweeper(desk: &Desk, queues: &Queues, transport: crm_notifier::Transport) -> Notifier {
    notifier(desk.store().clone(), transport, queues.publisher())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_queue_never_fails_a_create_and_the_sweep_delivers_later() {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(unreachable_publisher().await);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    let t = desk.create(&customer, "Created while SQS is down").await;
    let kept = desk.outbox_events_of(&t.id).await;
    assert_eq!(kept.len(), 1, "the outbox keeps the event");
    let event_id = kept[0].key_id().to_owned();
    assert!(
        desk.store()
            .outbox_entry(&event_id)
            .await
            .expect("outbox")
            .is_some()
    );
    assert!(queues.receive(0).await.is_empty());

    // Two minutes later the sweep (threshold 60 s) pushes it, and marks that it did: a
    // second sweep right after leaves it.
    age_outbox(&desk, 120).await;
    let n = sweeper(&desk, &queues, ses_transport().await);
    let first = n.sweep(60).await.expect("sweep");
    assert_eq!((first.stale, first.pushed), (1, 1), "{first:?}");
    let second = n.sweep(60).await.expect("sweep");
    assert_eq!(second, SweepReport::default(), "nothing is stale again yet");

    let ev = queues.deliver_next(&n).await;
    assert_eq!(ev.key_id(), event_id);
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&[email_of("cust1"), email_of("eng1"), email_of("admin")]),
        "one mail each"
    );
    assert!(
        desk.outbox().await.is_empty(),
        "delivered: the outbox is empty"
    );
    let after = n.sweep(0).await.expect("sweep");
    assert_eq!(after.pushed, 0, "{after:?}");
    assert!(queues.receive(0).await.is_empty(), "no copy was pushed");
}

/// The tickets function's routes, as the Lambda runs them, for one request.
async fn api(desk: &Desk, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{BASE_PATH}{path}"))
        .header("x-access-token", token)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("a request");
    let resp = answer(&desk.ctx, &crm_tickets::router(), req).await;
    let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status.as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_queue_never_fails_the_tickets_api() {
    let sdk = crm_tests::emulator::sdk_config().await;
    let missing = Publisher::Sqs {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url: format!(
            "{}/123456789012/{}",
            crm_tests::emulator::endpoint(),
            crm_tests::unique("no-such-queue")
        ),
    };
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(missing);
    desk.customer("cust1").await;
    let token = token(&desk.ctx, "cust1", UserType::Customer);
    let (status, body) = api(
        &desk,
        "POST",
        "/tickets",
        &token,
        json!({"title": "Queue is gone", "description": "Still works?"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["_id"].as_str().expect("ticket id").to_owned();
    let admin = token_for_admin(&desk);
    let (status, body) = api(
        &desk,
        "PUT",
        &format!("/tickets/{id}"),
        &admin,
        json!({"status": "CLOSED"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kept: Vec<OutboxEntry> = desk.outbox().await;
    let types: Vec<String> = kept
        .iter()
        .filter(|e| ticket_of(&e.event).id == id)
        .map(|e| {
            serde_json::to_value(e.event.event_type)
                .expect("type")
                .to_string()
        })
        .collect();
    assert_eq!(
        types,
        vec!["\"ticket.created\"", "\"ticket.updated\""],
        "both events wait in the outbox"
    );
}

fn token_for_admin(desk: &Desk) -> String {
    token(&desk.ctx, "admin", UserType::Admin)
}

/// `n` tickets whose events only reached the outbox, aged past the sweep threshold.
async fn stale_outbox(n: usize, store: Store) -> (Desk, Queues) {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(store).await.with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    for i in 0..n {
        desk.create(&customer, &format!("Lost push {i}")).await;
    }
    age_outbox(&desk, 600).await;
    (desk, queues)
}

async fn sweep_concurrently(desk: &Desk, queues: &Queues, sweeps: usize, age: i64) -> usize {
    let sweepers: Vec<Notifier> = (0..sweeps)
        .map(|_| sweeper(desk, queues, crm_notifier::Transport::log(None)))
        .collect();
    let reports = futures_util::future::join_all(sweepers.iter().map(|s| s.sweep(age))).await;
    reports.into_iter().map(|r| r.expect("sweep").pushed).sum()
}

/// The event ids of the messages now on the queue, sorted.
fn ids_of(msgs: &[aws_sdk_sqs::types::Message]) -> Vec<String> {
    let mut ids: Vec<String> = msgs
        .iter()
        .map(|m| {
            serde_json::from_str::<crm_shared::model::Event>(m.body.as_deref().expect("body"))
                .expect("an event")
                .id
        })
        .collect();
    ids.sort();
    ids
}

crm_tests::on_both_backends!(concurrent:
    concurrent_sweeps_push_each_stale_item_once,
    a_sweep_beside_a_delivery_sends_no_second_mail,
);

async fn concurrent_sweeps_push_each_stale_item_once(store: Store) {
    let (desk, queues) = stale_outbox(6, store).await;
    let mut want: Vec<String> = desk
        .outbox()
        .await
        .into_iter()
        .map(|e| e.event.id)
        .collect();
    want.sort();
    let pushed = sweep_concurrently(&desk, &queues, 4, 60).await;
    assert_eq!(pushed, 6, "each item pushed once across the sweeps");
    let msgs = queues.receive_exactly(6).await;
    assert_eq!(ids_of(&msgs), want);
    // Another round right after: nothing is stale.
    assert_eq!(sweep_concurrently(&desk, &queues, 3, 60).await, 0);
}

async fn a_sweep_beside_a_delivery_sends_no_second_mail(store: Store) {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(store).await.with_publisher(queues.publisher());
    let customer = desk.customer("cust1").await;
    let t = desk.create(&customer, "Swept while delivered").await;
    let msgs = queues.receive_exactly(1).await;
    queues.delete(&msgs[0]).await;
    age_outbox(&desk, 600).await;
    let n = sweeper(&desk, &queues, ses_transport().await);
    // The delivery of the pushed message and a sweep of the (stale) outbox item at once.
    let (resp, report) = tokio::join!(n.handle_sqs(event_of(&msgs)), n.sweep(60));
    assert_eq!(failed_ids(&resp), Vec::<String>::new());
    let report = report.expect("sweep");
    // Whatever the sweep pushed is a copy: delivering it sends nothing more.
    for _ in 0..report.pushed {
        queues.deliver_next(&n).await;
    }
    assert!(queues.receive(0).await.is_empty());
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&[email_of("cust1"), email_of("admin")]),
        "exactly one mail each"
    );
    assert!(desk.outbox().await.is_empty(), "the outbox is empty");
    assert_eq!(n.sweep(0).await.expect("sweep").stale, 0);
}

/// SPEC §4: when the push fails, "the event is pushed later by a sweep of the outbox: no
/// notification is ever lost". An SQS outage that spans many sweeps (each of whose pushes
/// fails) must not stop the sweep from pushing the event once the queue is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_sqs_outage_still_ends_in_a_pushed_and_mailed_event() {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    let t = desk.create(&customer, "Created during an outage").await;
    let event_id = desk.outbox_events_of(&t.id).await[0].key_id().to_owned();
    // Ten sweep periods of outage: every sweep finds the item stale and fails to push it.
    let down = notifier(
        desk.store().clone(),
        crm_notifier::Transport::log(None),
        unreachable_publisher().await,
    );
    let mut failed_pushes = 0;
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        failed_pushes += down.sweep(0).await.expect("sweep").push_failures;
    }
    assert!(failed_pushes >= 1, "the outage was noticed");
    assert!(
        queues.receive(0).await.is_empty(),
        "nothing reached the queue"
    );
    // The queue is back: the next sweep pushes the event, which is then mailed. (A sweep
    // takes items last pushed strictly before its start: let a millisecond pass first.)
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let n = sweeper(&desk, &queues, ses_transport().await);
    let report = n.sweep(0).await.expect("sweep");
    let entry = desk.store().outbox_entry(&event_id).await.expect("outbox");
    assert_eq!(
        report.pushed,
        1,
        "after the outage the sweep must push the event that never reached SQS: {report:?}; \
         its outbox item (sweeps counted: {:?}) is no longer swept",
        entry.map(|e| e.sweeps)
    );
    queues.deliver_next(&n).await;
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&[email_of("cust1"), email_of("admin")])
    );
}
