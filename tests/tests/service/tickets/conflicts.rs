//! Conflicts that never resolve (SPEC §3, one atomic write with version conditions): a
//! creation retries a bounded number of times, then answers 503 with Retry-After; an update
//! then answers 409. Nothing is half-written either way. The endless conflict is staged
//! with items the API cannot make: an index entry for an approved engineer whose own item
//! the load index lacks (as if the chosen engineer stopped being assignable before every
//! commit; a consistent re-read still shows them approved), and an approved engineer the
//! load index lacks as an admin's new assignee.

use crm_shared::store::{Cond, Key, Store, Write};
use crm_tests::desk::{Desk, assert_err, assignee_patch, staged_user_item};

crm_tests::on_both_backends!(
    a_create_that_keeps_conflicting_is_503_with_retry_after,
    a_colliding_pick_spreads_to_another_engineer,
    an_update_that_keeps_conflicting_is_409,
);

/// `ghost` ranks first (load 0) in the index, but its own item, though approved engineer, is
/// not in the index, so a commit's condition fails on it every time.
async fn stage_ghost(w: &Desk) {
    w.put_raw(staged_user_item("ghost", "USER#ghost-decoy", true, 0))
        .await;
    w.put_raw(staged_user_item("ghost", "USER#ghost", false, 0))
        .await;
}

async fn a_create_that_keeps_conflicting_is_503_with_retry_after(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    // The ghost is the only candidate (with an engineer beside it, the picks spread after the
    // first collision: `a_colliding_pick_spreads_to_another_engineer`).
    stage_ghost(&w).await;
    let started = std::time::Instant::now();
    let e = assert_err(
        crm_shared::service::create_ticket(&w.ctx, &c, crm_tests::desk::new_ticket("t")).await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(e.retry_after, Some(1), "{e:?}");
    assert!(started.elapsed().as_secs() < 10, "bounded retries");
    assert!(w.all_tickets().await.is_empty(), "nothing written");
    assert_eq!(w.outbox_len().await, 0, "no event");
    w.assert_invariant(&["admin", "cust"]).await;

    w.engineer("eng1").await;
    w.store()
        .transact(vec![Write::Delete {
            key: Key::new("USER#ghost", "PROFILE"),
            cond: Cond::Exists,
        }])
        .await
        .expect("removing the staged engineer");
    // A stale index entry of a user who no longer exists is skipped after one re-read.
    let t = w.create(&c, "t").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    w.assert_invariant(&["admin", "cust", "eng1"]).await;
}

/// After a collision the context spreads its picks (assignment::Contention): a candidate
/// whose commit always fails no longer blocks creation while another engineer has room.
async fn a_colliding_pick_spreads_to_another_engineer(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    stage_ghost(&w).await;
    let t = w.create(&c, "t").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    w.assert_invariant(&["admin", "cust", "eng1"]).await;
}

async fn an_update_that_keeps_conflicting_is_409(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    let t = w.create(&c, "t").await;
    w.put_raw(staged_user_item("eng-x", "USER#eng-x", false, 0))
        .await;
    assert!(w.user("eng-x").await.is_assignable());
    assert_err(
        w.update(&w.admin, &t.id, assignee_patch("eng-x")).await,
        409,
        "CONFLICT",
    );
    assert_eq!(w.ticket(&t.id).await.snapshot(), t, "unchanged");
    assert_eq!(
        w.history(&w.admin, &t.id).await.len(),
        1,
        "no history entry"
    );
    assert_eq!(w.outbox_len().await, 1, "only the creation's event");
    assert_eq!(w.count("eng-x").await, 0);
    w.assert_invariant(&["admin", "cust", "eng1", "eng-x"])
        .await;
}
