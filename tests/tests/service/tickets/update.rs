//! PUT /tickets/{id} rules (SPEC §3): who may reassign, who may be assigned, status and
//! assignee never together, the updated ticket in the answer, and an update that changes
//! nothing writes nothing (no history entry, no event).

use crm_shared::model::{TicketStatus, UserStatus, UserType};
use crm_shared::service::{self, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{
    Desk, assert_err, assignee_patch, description, priority, status_patch, title,
};
use serde_json::json;

crm_tests::on_both_backends!(
    only_an_approved_admin_may_reassign,
    the_new_assignee_must_be_an_approved_engineer,
    status_and_assignee_together_are_refused,
    an_update_returns_the_updated_ticket_and_records_what_changed,
    an_update_that_changes_nothing_writes_nothing,
);

const REASSIGN_MESSAGE: &str = "Access Forbidden. Admin is only allowed to reassign a ticket.";

async fn only_an_approved_admin_may_reassign(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let eng1 = w.engineer("eng1").await;
    w.engineer("eng2").await;
    let t = w.create(&c, "t").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    let own = w.create(&eng1, "reported by eng1").await; // assigned to eng2
    assert_eq!(own.assignee.as_deref(), Some("eng2"));
    for (who, id, to) in [
        (&eng1, &t.id, "eng2"),
        (&c, &t.id, "eng2"),
        (&eng1, &own.id, "eng1"),
    ] {
        let e = assert_err(
            w.update(who, id, assignee_patch(to)).await,
            403,
            "FORBIDDEN",
        );
        assert_eq!(e.message, REASSIGN_MESSAGE);
    }
    // An admin who is no longer approved cannot either (nor do anything else).
    service::create_admin(
        &w.ctx.store,
        &w.ctx.passwords,
        crm_tests::desk::uid("admin2"),
        crm_shared::model::Name::parse("Second").expect("name"),
        crm_shared::model::Email::parse("admin2@email.com").expect("email"),
        &crm_shared::model::Password::parse(crm_tests::desk::PASSWORD).expect("password"),
    )
    .await
    .expect("second admin");
    w.set_status("admin2", UserStatus::Pending).await;
    let admin2 = w.as_user("admin2", UserType::Admin);
    assert_err(
        w.update(&admin2, &t.id, assignee_patch("eng2")).await,
        403,
        "USER_NOT_APPROVED",
    );
    assert_eq!(w.history(&w.admin, &t.id).await.len(), 1);
    w.assert_invariant(&["admin", "admin2", "cust", "eng1", "eng2"])
        .await;
    let done = w
        .update(&w.admin, &t.id, assignee_patch("eng2"))
        .await
        .expect("admin reassigns");
    assert_eq!(done.assignee.as_deref(), Some("eng2"));
    w.assert_invariant(&["admin", "admin2", "cust", "eng1", "eng2"])
        .await;
}

async fn the_new_assignee_must_be_an_approved_engineer(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    w.signup("eng-pending", UserType::Engineer)
        .await
        .expect("signup");
    w.engineer("eng-rejected").await;
    w.set_status("eng-rejected", UserStatus::Rejected).await;
    w.customer("other").await;
    let t = w.create(&c, "t").await;
    let outbox = w.outbox_len().await;
    for to in [
        "other",
        "cust",
        "eng-pending",
        "eng-rejected",
        "admin",
        "nobody",
    ] {
        let e = assert_err(
            w.update(&w.admin, &t.id, assignee_patch(to)).await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("assignee"), "{to}");
    }
    assert_eq!(w.ticket(&t.id).await.snapshot(), t, "unchanged");
    assert_eq!(w.history(&w.admin, &t.id).await.len(), 1);
    assert_eq!(w.outbox_len().await, outbox);
    w.assert_invariant(&[
        "admin",
        "cust",
        "eng1",
        "eng-pending",
        "eng-rejected",
        "other",
    ])
    .await;
}

async fn status_and_assignee_together_are_refused(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    w.engineer("eng2").await;
    let t = w.create(&c, "t").await;
    let patch = TicketPatch {
        status: Some(TicketStatus::Closed),
        assignee: Some(crm_tests::desk::uid("eng2")),
        ..Default::default()
    };
    assert_err(
        w.update(&w.admin, &t.id, patch).await,
        400,
        "STATUS_AND_ASSIGNEE",
    );
    assert_eq!(w.ticket(&t.id).await.snapshot(), t, "unchanged");
    let counts = w.assert_invariant(&["admin", "cust", "eng1", "eng2"]).await;
    assert_eq!((counts["eng1"], counts["eng2"]), (1, 0));
}

async fn an_update_returns_the_updated_ticket_and_records_what_changed(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let eng1 = w.engineer("eng1").await;
    let t = w.create(&c, "Problem in printer").await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let outbox = w.outbox_len().await;
    let patch = TicketPatch {
        title: Some(title("Printer on fire")),
        description: Some(description("Smoke everywhere")),
        priority: Some(priority(1)),
        status: Some(TicketStatus::Blocked),
        assignee: None,
        tags: None,
    };
    let u = w.update(&eng1, &t.id, patch).await.expect("update");
    assert_eq!(u.id, t.id);
    assert_eq!(u.title, "Printer on fire");
    assert_eq!(u.description, "Smoke everywhere");
    assert_eq!(u.ticket_priority, 1);
    assert_eq!(u.status, "BLOCKED");
    assert_eq!(u.reporter, "cust");
    assert_eq!(u.assignee.as_deref(), Some("eng1"));
    assert_eq!(u.created_at, t.created_at);
    assert!(
        u.updated_at > t.updated_at,
        "{} > {}",
        u.updated_at,
        t.updated_at
    );
    assert_eq!(
        w.get(&c, &t.id).await.expect("get"),
        u,
        "stored as returned"
    );
    let h = w.history(&c, &t.id).await;
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].version, 2);
    assert_eq!(h[1].actor, "eng1");
    assert_eq!(h[1].at, u.updated_at);
    let changes: Vec<_> = h[1]
        .changes
        .iter()
        .map(|c| json!([c.field, c.from, c.to]))
        .collect();
    assert_eq!(
        changes,
        vec![
            json!(["title", "Problem in printer", "Printer on fire"]),
            json!([
                "description",
                "About Problem in printer",
                "Smoke everywhere"
            ]),
            json!(["ticketPriority", 4, 1]),
            json!(["status", "OPEN", "BLOCKED"]),
        ]
    );
    assert_eq!(w.outbox_len().await, outbox + 1, "one event");
    w.assert_invariant(&["admin", "cust", "eng1"]).await;
}

async fn an_update_that_changes_nothing_writes_nothing(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    let t = w.create(&c, "t").await;
    let outbox = w.outbox_len().await;
    assert_eq!(outbox, 1, "the creation's event");
    let same = TicketPatch {
        title: Some(title("t")),
        description: Some(description("About t")),
        priority: Some(priority(4)),
        status: Some(TicketStatus::Open),
        assignee: None,
        tags: None,
    };
    for patch in [same, TicketPatch::default(), assignee_patch("eng1")] {
        let u = w
            .update(&w.admin, &t.id, patch)
            .await
            .expect("no-op update");
        assert_eq!(u, t, "the ticket as it is");
    }
    let u = w
        .update(&c, &t.id, status_patch(TicketStatus::Open))
        .await
        .expect("no-op by the reporter");
    assert_eq!(u, t);
    assert_eq!(
        w.history(&w.admin, &t.id).await.len(),
        1,
        "no history entry"
    );
    assert_eq!(w.outbox_len().await, outbox, "no event");
    assert_eq!(w.ticket(&t.id).await.version, 1);
}
