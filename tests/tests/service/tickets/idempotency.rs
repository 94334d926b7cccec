//! `Idempotency-Key` on ticket creation (SPEC §3, issue 16), on both backends: a retry
//! replays the original answer (also when the first answer was lost after the commit), the
//! same key with another body is 422, keys are per caller, concurrent requests with one key
//! make one ticket, and a key is free again once it expired.

use crm_shared::ErrorCode;
use crm_shared::model::IdempotencyKey;
use crm_shared::service::{self, Created, NewTicket};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, new_ticket, tid};
use std::sync::Arc;

crm_tests::on_both_backends!(
    a_retry_replays_the_original_answer,
    a_retry_after_a_lost_answer_replays_the_commit,
    the_same_key_with_another_body_is_422_and_writes_nothing,
    keys_are_per_caller,
    an_expired_key_is_free_again,
    a_retried_comment_replays_and_another_body_is_422,
);

mod burst {
    use super::ten_concurrent_requests_with_one_key_make_one_ticket;
    crm_tests::on_both_backends!(concurrent: ten_concurrent_requests_with_one_key_make_one_ticket);
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).expect("key")
}

async fn create(
    w: &Desk,
    who: &service::Authed,
    new: NewTicket,
    k: &IdempotencyKey,
) -> Result<Created<crm_shared::model::TicketSnapshot>, crm_shared::ApiError> {
    service::create_ticket_once(&w.ctx, who, new, Some(k)).await
}

async fn a_retry_replays_the_original_answer(store: Store) {
    let w = Desk::new(store).await;
    w.engineer("eng1").await;
    let c = w.customer("cust").await;
    let k = key("order-7f3c");
    let Created::New(first) = create(&w, &c, new_ticket("t"), &k).await.expect("first") else {
        panic!("the first request is not a replay")
    };
    let events = w.outbox_len().await;
    let (stats_store, stats) = w.ctx.store.clone().with_stats();
    let mut again = Desk::attach(stats_store);
    again.admin = w.admin.clone();
    match create(&again, &c, new_ticket("t"), &k)
        .await
        .expect("retry")
    {
        Created::Replayed { data, location } => {
            assert_eq!(data, first);
            assert_eq!(location, format!("tickets/{}", first.id));
        }
        other => panic!("not replayed: {other:?}"),
    }
    // A replay is one round of reads (the record beside the caller and the load index):
    // no transaction, no event.
    let cost = stats.take();
    assert_eq!((cost.writes, cost.depth), (0, 1), "{cost:?}");
    assert_eq!(w.all_tickets().await.len(), 1);
    assert_eq!(w.outbox_len().await, events, "no second event");
    w.assert_invariant(&["admin", "cust", "eng1"]).await;
}

async fn a_retry_after_a_lost_answer_replays_the_commit(store: Store) {
    let (lossy, left) = store.clone().with_lost_answers(1);
    let w = Desk::new(store).await;
    w.engineer("eng1").await;
    let c = w.customer("cust").await;
    let mut lossy_w = Desk::attach(lossy);
    lossy_w.admin = w.admin.clone();
    let k = key("lost-answer-1");
    // The creation commits, and its answer is lost: the client sees a 503.
    let e = create(&lossy_w, &c, new_ticket("t"), &k)
        .await
        .expect_err("the answer is lost");
    assert_eq!(e.status(), 503);
    assert_eq!(left.load(std::sync::atomic::Ordering::SeqCst), 0);
    let committed = w.all_tickets().await;
    assert_eq!(committed.len(), 1, "it did commit");
    // The client's retry with the key gets the ticket that was made, not a second one.
    match create(&w, &c, new_ticket("t"), &k).await.expect("retry") {
        Created::Replayed { data, .. } => assert_eq!(data, committed[0]),
        other => panic!("not replayed: {other:?}"),
    }
    assert_eq!(w.all_tickets().await.len(), 1);
    assert_eq!(w.outbox_len().await, 1, "one event, so one mail");
}

async fn the_same_key_with_another_body_is_422_and_writes_nothing(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let k = key("k1");
    create(&w, &c, new_ticket("t"), &k).await.expect("first");
    let e = create(&w, &c, new_ticket("another title"), &k)
        .await
        .expect_err("reused");
    assert_eq!(e.code, ErrorCode::IdempotencyKeyReused);
    let mut other_priority = new_ticket("t");
    other_priority.priority = Some(crm_shared::model::Priority::from_int(1).expect("p"));
    let e = create(&w, &c, other_priority, &k)
        .await
        .expect_err("reused");
    assert_eq!(e.status(), 422);
    // The default priority spelled out is the same request.
    let mut explicit = new_ticket("t");
    explicit.priority = Some(crm_shared::model::Priority::LOW);
    assert!(matches!(
        create(&w, &c, explicit, &k).await,
        Ok(Created::Replayed { .. })
    ));
    assert_eq!(w.all_tickets().await.len(), 1);
    assert_eq!(w.outbox_len().await, 1);
}

async fn keys_are_per_caller(store: Store) {
    let w = Desk::new(store).await;
    let (a, b) = (w.customer("cust-a").await, w.customer("cust-b").await);
    let k = key("shared-key");
    let ta = create(&w, &a, new_ticket("t"), &k)
        .await
        .expect("a")
        .into_inner();
    let tb = create(&w, &b, new_ticket("t"), &k).await.expect("b");
    let Created::New(tb) = tb else {
        panic!("another caller's key replayed")
    };
    assert_ne!(ta.id, tb.id);
    assert_eq!(
        (ta.reporter.as_str(), tb.reporter.as_str()),
        ("cust-a", "cust-b")
    );
    assert_eq!(w.all_tickets().await.len(), 2);
}

async fn an_expired_key_is_free_again(store: Store) {
    let mut w = Desk::new(store).await;
    w.ctx.idempotency_ttl_seconds = 1;
    let c = w.customer("cust").await;
    let k = key("short-lived");
    let first = create(&w, &c, new_ticket("t"), &k)
        .await
        .expect("first")
        .into_inner();
    assert!(matches!(
        create(&w, &c, new_ticket("t"), &k).await,
        Ok(Created::Replayed { .. })
    ));
    // A one-second key lapses at the first whole second at least one second on (at most
    // two seconds after it was taken, so 2.1 s after the replay it has).
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let Created::New(second) = create(&w, &c, new_ticket("t"), &k).await.expect("again") else {
        panic!("an expired key replayed")
    };
    assert_ne!(first.id, second.id);
    assert_eq!(w.all_tickets().await.len(), 2);
}

async fn ten_concurrent_requests_with_one_key_make_one_ticket(store: Store) {
    let w = Arc::new(Desk::new(store.clone()).await);
    let other = Arc::new(Desk::attach(store));
    w.engineer("eng1").await;
    let c = w.customer("cust").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (w, c, b) = (
            if i % 2 == 0 { w.clone() } else { other.clone() },
            c.clone(),
            barrier.clone(),
        );
        set.spawn(async move {
            b.wait().await;
            create(&w, &c, new_ticket("t"), &key("burst")).await
        });
    }
    let mut ids = Vec::new();
    let mut new = 0;
    while let Some(r) = set.join_next().await {
        match r.expect("task") {
            Ok(Created::New(t)) => {
                new += 1;
                ids.push(t.id);
            }
            Ok(Created::Replayed { data, .. }) => ids.push(data.id),
            Err(e) => assert_eq!((e.status(), e.retry_after), (503, Some(1)), "{e:?}"),
        }
    }
    assert_eq!(new, 1, "exactly one request created");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every success carries the one ticket's id");
    assert_eq!(w.all_tickets().await.len(), 1);
    assert_eq!(w.outbox_len().await, 1, "one event, so one mail");
    w.assert_invariant(&["admin", "cust", "eng1"]).await;
}

/// SPEC §3: the same applies to POST /tickets/{ticketId}/comments.
async fn a_retried_comment_replays_and_another_body_is_422(store: Store) {
    let w = Desk::new(store).await;
    w.engineer("eng").await;
    let c = w.customer("cust").await;
    let t = w.create(&c, "t").await;
    let k = key("comment-1");
    let say = |body: &str| crate::tickets::comments::public(body);
    let first = service::add_comment_once(&w.ctx, &c, &tid(&t.id), say("More detail."), Some(&k))
        .await
        .expect("first");
    let Created::New(first) = first else {
        panic!("the first request is not a replay")
    };
    let events = w.outbox_len().await;
    match service::add_comment_once(&w.ctx, &c, &tid(&t.id), say("More detail."), Some(&k)).await {
        Ok(Created::Replayed { data, location }) => {
            assert_eq!(data, first);
            assert_eq!(location, format!("tickets/{}/comments", t.id));
        }
        other => panic!("not replayed: {other:?}"),
    }
    let e = service::add_comment_once(&w.ctx, &c, &tid(&t.id), say("Something else."), Some(&k))
        .await
        .expect_err("reused");
    assert_eq!(e.code, ErrorCode::IdempotencyKeyReused);
    assert_eq!(w.outbox_len().await, events, "no second event");
    let thread = service::list_comments(&w.ctx, &c, &tid(&t.id), None, 100)
        .await
        .expect("thread");
    assert_eq!(thread.items.len(), 1);
}
