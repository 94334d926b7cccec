//! The push after the commit: one SendMessage and no further table write, whether the queue
//! takes it or not.

use super::cloud::{Queues, unreachable_publisher};
use super::support::*;
use crm_shared::model::Title;
use crm_shared::queue::Publisher;
use crm_shared::service::TicketPatch;
use crm_shared::store::{Cost, Stats};

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
