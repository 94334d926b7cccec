//! Auto-assignment (SPEC §3, POST /tickets): the approved ENGINEER with the fewest OPEN
//! tickets, ties to the earliest approved; nobody when no engineer is approved; and the
//! load index kept exact as engineers are approved, rejected, set pending or change type.

use crm_shared::model::{TicketStatus, UserStatus, UserType};
use crm_shared::service::TicketFilter;
use crm_shared::store::{Store, keys::LOAD_STEP};
use crm_tests::desk::{Desk, status_patch};

crm_tests::on_both_backends!(
    auto_assigns_the_least_loaded_engineer_ties_to_the_earliest_approved,
    no_approved_engineer_leaves_the_ticket_unassigned,
    the_load_index_follows_approval_rejection_pending_and_type_changes,
    capacity_caps_auto_assignment_at_creation_but_not_an_admins_reassignment,
);

fn assignee(t: &crm_shared::model::TicketSnapshot) -> Option<&str> {
    t.assignee.as_deref()
}

async fn auto_assigns_the_least_loaded_engineer_ties_to_the_earliest_approved(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    // Approved first but sorting last by userId: the tie-break is approval time, not id.
    w.engineer("eng-z").await;
    w.engineer("eng-a").await;
    let t1 = w.create(&c, "one").await;
    assert_eq!(assignee(&t1), Some("eng-z"), "0-0 tie: earliest approved");
    let t2 = w.create(&c, "two").await;
    assert_eq!(assignee(&t2), Some("eng-a"), "eng-a has fewer");
    let t3 = w.create(&c, "three").await;
    assert_eq!(assignee(&t3), Some("eng-z"), "1-1 tie: earliest approved");
    // eng-z: t1, t3 open (2); eng-a: t2 (1). Closing t3 makes it 1-1 again.
    w.update(&w.admin, &t3.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let t4 = w.create(&c, "four").await;
    assert_eq!(assignee(&t4), Some("eng-z"), "1-1 after a close: earliest");
    let t5 = w.create(&c, "five").await;
    assert_eq!(assignee(&t5), Some("eng-a"), "2-1");
    // Blocking two of eng-z's makes eng-z the least loaded (0 vs 2).
    w.update(&w.admin, &t1.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    w.update(&w.admin, &t4.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    let t6 = w.create(&c, "six").await;
    assert_eq!(assignee(&t6), Some("eng-z"), "0 vs 2");
    let counts = w
        .assert_invariant(&["eng-z", "eng-a", "cust", "admin"])
        .await;
    assert_eq!(counts["eng-z"], 1);
    assert_eq!(counts["eng-a"], 2);
    // Every new ticket is OPEN, reported by the caller, priority 4 by default.
    for t in [&t1, &t2, &t5, &t6] {
        assert_eq!(t.reporter, "cust");
        assert_eq!(t.ticket_priority, 4);
    }
}

async fn no_approved_engineer_leaves_the_ticket_unassigned(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.signup("eng-pending", UserType::Engineer)
        .await
        .expect("signup");
    w.signup("eng-rejected", UserType::Engineer)
        .await
        .expect("signup");
    w.set_status("eng-rejected", UserStatus::Rejected).await;
    let t = w.create(&c, "Problem in printer").await;
    assert_eq!(t.assignee, None);
    assert_eq!(t.status, "OPEN");
    assert_eq!(t.reporter, "cust");
    assert_eq!(w.get(&c, &t.id).await.expect("get"), t);
    let unassigned = w
        .list_all(
            &w.admin,
            TicketFilter {
                assignee: Some(None),
                ..Default::default()
            },
            100,
        )
        .await;
    assert_eq!(unassigned, vec![t.id.clone()]);
    assert!(w.engineers_by_load().await.is_empty());
    w.assert_invariant(&["cust", "eng-pending", "eng-rejected", "admin"])
        .await;
}

/// Asserts the load index holds exactly these engineers in this order, each keyed by its
/// current count.
async fn assert_index(w: &Desk, want: &[&str]) {
    let idx = w.engineers_by_load().await;
    let ids: Vec<&str> = idx.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        ids,
        want,
        "engineers by load on {}",
        w.store().backend_name()
    );
    for (u, key) in &idx {
        assert_eq!(key / LOAD_STEP, w.count(u).await, "load key of {u}");
    }
}

async fn the_load_index_follows_approval_rejection_pending_and_type_changes(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.customer("cust2").await;
    w.engineer("eng1").await;
    w.engineer("eng2").await;
    assert_index(&w, &["eng1", "eng2"]).await;
    let t1 = w.create(&c, "t1").await;
    assert_eq!(assignee(&t1), Some("eng1"));
    assert_index(&w, &["eng2", "eng1"]).await;

    w.set_status("eng2", UserStatus::Rejected).await;
    assert_index(&w, &["eng1"]).await;
    assert_eq!(
        assignee(&w.create(&c, "t2").await),
        Some("eng1"),
        "rejected"
    );

    w.set_status("eng2", UserStatus::Pending).await;
    assert_index(&w, &["eng1"]).await;
    assert_eq!(assignee(&w.create(&c, "t3").await), Some("eng1"), "pending");

    w.set_status("eng2", UserStatus::Approved).await;
    assert_index(&w, &["eng2", "eng1"]).await;
    assert_eq!(
        assignee(&w.create(&c, "t4").await),
        Some("eng2"),
        "approved again"
    );

    // An engineer who becomes a customer leaves the index but keeps counting its tickets.
    w.set_type("eng1", UserType::Customer, None).await;
    assert_index(&w, &["eng2"]).await;
    assert_eq!(w.count("eng1").await, 3);
    assert_eq!(
        assignee(&w.create(&c, "t5").await),
        Some("eng2"),
        "eng1 left"
    );

    // A customer made an approved engineer in one request joins at its count (0).
    w.set_type("cust2", UserType::Engineer, Some(UserStatus::Approved))
        .await;
    assert_index(&w, &["cust2", "eng2"]).await;
    assert_eq!(assignee(&w.create(&c, "t6").await), Some("cust2"));

    // eng1 comes back as an engineer (pending, then approved) ranked by its 3 open tickets.
    w.set_type("eng1", UserType::Engineer, None).await;
    assert_eq!(w.user("eng1").await.user_status, UserStatus::Pending);
    assert_index(&w, &["cust2", "eng2"]).await;
    w.set_status("eng1", UserStatus::Approved).await;
    assert_index(&w, &["cust2", "eng2", "eng1"]).await;

    // An engineer made ADMIN leaves the index.
    w.set_type("eng2", UserType::Admin, Some(UserStatus::Approved))
        .await;
    assert_index(&w, &["cust2", "eng1"]).await;
    w.assert_invariant(&["cust", "cust2", "eng1", "eng2", "admin"])
        .await;
}

/// Issue 17 (SPEC §3 "Capacity"): with a capacity of 2, new tickets go to engineers below it
/// only; with every engineer full a ticket is created unassigned; an admin may still assign
/// beyond it.
async fn capacity_caps_auto_assignment_at_creation_but_not_an_admins_reassignment(store: Store) {
    let mut w = Desk::new(store).await;
    w.ctx.engineer_capacity = Some(2);
    let c = w.customer("cust").await;
    w.engineer("eng-a").await;
    w.engineer("eng-b").await;
    let mut got = Vec::new();
    for i in 0..5 {
        got.push(w.create(&c, &format!("t{i}")).await);
    }
    let names: Vec<Option<&str>> = got.iter().map(assignee).collect();
    assert_eq!(
        names,
        [
            Some("eng-a"),
            Some("eng-b"),
            Some("eng-a"),
            Some("eng-b"),
            None
        ]
    );
    let counts = w
        .assert_invariant(&["eng-a", "eng-b", "cust", "admin"])
        .await;
    assert_eq!((counts["eng-a"], counts["eng-b"]), (2, 2));
    // The admin's explicit reassignment may exceed the capacity.
    w.update(
        &w.admin,
        &got[4].id,
        crm_tests::desk::assignee_patch("eng-a"),
    )
    .await
    .expect("reassign beyond capacity");
    let counts = w
        .assert_invariant(&["eng-a", "eng-b", "cust", "admin"])
        .await;
    assert_eq!(counts["eng-a"], 3);
}
