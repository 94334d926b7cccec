//! The push after the commit: one SendMessage and no further table write, whether the queue
//! takes it or not, and one short attempt when the queue is down.

use super::cloud::{Queues, unreachable_publisher};
use super::support::*;
use crm_shared::model::Title;
use crm_shared::queue::Publisher;
use crm_shared::service::{Authed, TicketPatch};
use crm_shared::store::{Cost, Stats};
use std::time::{Duration, Instant};

/// The store calls of one title change made with publisher `p`.
async fn cost_with(desk: &mut Desk, stats: &Stats, id: &str, p: Publisher, title: &str) -> Cost {
    desk.ctx.publisher = p;
    stats.take();
    let patch = TicketPatch {
        title: Some(Title::parse(title).expect("title")),
        ..Default::default()
    };
    desk.update(&desk.admin, id, patch)
        .await
        .expect("the ticket update");
    stats.take()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_adds_no_store_call_and_one_message() {
    let queues = Queues::new(5, 30).await;
    let (store, stats) = crm_tests::emulator::dynamo_store().await.with_stats();
    let mut desk = Desk::new(store).await;
    let customer = desk.customer("cust1").await;
    let id = desk.create(&customer, "Counting calls").await.id;

    let without = cost_with(&mut desk, &stats, &id, Publisher::Outbox, "First title").await;
    let with_queue = cost_with(&mut desk, &stats, &id, queues.publisher(), "Second title").await;
    let down = unreachable_publisher().await;
    let with_outage = cost_with(&mut desk, &stats, &id, down, "Third title").await;
    assert_eq!(
        (with_queue.writes, with_queue.total()),
        (without.writes, without.total()),
        "pushing to SQS costs no store call: {without:?} vs {with_queue:?}"
    );
    assert_eq!(
        (with_outage.writes, with_outage.total()),
        (without.writes, without.total()),
        "a failed push costs no store call: {without:?} vs {with_outage:?}"
    );
    let msgs = queues.receive_exactly(1).await;
    assert!(
        msgs[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains("Second title")),
        "the queue holds the pushed event"
    );
}

/// An SQS publisher built as a function builds it (`crm_shared::cloud`: the product's SDK
/// timeouts and retries), whose queue is at `endpoint`.
async fn product_publisher(endpoint: &str) -> Publisher {
    let sdk = crm_shared::cloud::sdk_config().await;
    let conf = aws_sdk_sqs::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    Publisher::Sqs {
        client: aws_sdk_sqs::Client::from_conf(conf),
        queue_url: format!("{endpoint}/123456789012/crm-events"),
    }
}

/// The median time of `n` ticket creations by `who` with `p` as the desk's publisher.
async fn creation_median(desk: &mut Desk, who: &Authed, p: &Publisher, n: usize) -> Duration {
    desk.ctx.publisher = p.clone();
    let mut times = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        desk.create(who, &format!("Timed creation {i}")).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

/// Issue 26 item 4: the push after the commit is one short attempt. With the queue's endpoint
/// refusing connections a creation takes about as long as with the queue up (within 2x, in
/// one run; before: the SDK's standard retries with backoff, about 1 s more per creation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_creation_with_the_queue_unreachable_is_within_twice_one_with_it_up() {
    let queues = Queues::new(5, 30).await;
    let up = queues.publisher();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").port()
    };
    let down = product_publisher(&format!("http://127.0.0.1:{port}")).await;
    let mut desk = Desk::new(crm_tests::emulator::sqlite_store()).await;
    let customer = desk.customer("cust1").await;
    // Warm both paths (connections, the SDK's first-request work), then alternate rounds.
    creation_median(&mut desk, &customer, &up, 2).await;
    creation_median(&mut desk, &customer, &down, 1).await;
    let (mut with_up, mut with_down) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with_up.push(creation_median(&mut desk, &customer, &up, 3).await);
        with_down.push(creation_median(&mut desk, &customer, &down, 3).await);
    }
    with_up.sort();
    with_down.sort();
    let (up_ms, down_ms) = (
        with_up[1].as_secs_f64() * 1000.0,
        with_down[1].as_secs_f64() * 1000.0,
    );
    println!(
        "FIGURE creation with the queue up {up_ms:.1} ms, unreachable {down_ms:.1} ms (x{:.2})",
        down_ms / up_ms
    );
    assert!(
        down_ms <= 2.0 * up_ms,
        "the queue being down slows a creation: {down_ms:.1} ms against {up_ms:.1} ms"
    );
}

/// Issue 26 item 4, a queue that takes the connection and never answers: the creation waits
/// for one short attempt, not the SDK's 5 s budget (the bound is generous: the attempt's
/// timeout is a few hundred milliseconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_creation_with_the_queue_hanging_waits_one_short_attempt() {
    let (endpoint, _connected) = crm_tests::server::unanswering_endpoint();
    let hung = product_publisher(&endpoint).await;
    let mut desk = Desk::new(crm_tests::emulator::sqlite_store()).await;
    let customer = desk.customer("cust1").await;
    let took = creation_median(&mut desk, &customer, &hung, 3).await;
    println!("FIGURE creation with the queue hanging: {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "a hung queue held the creation {took:?}"
    );
    assert_eq!(desk.outbox_len().await, 3, "the outbox keeps every event");
}
