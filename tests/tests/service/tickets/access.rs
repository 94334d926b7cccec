//! Ticket ids and visibility (SPEC §3): a malformed id is 400, a well-formed id that matches
//! no ticket 404, a ticket that exists but is not the caller's 403 — for GET, PUT and the
//! history alike. Admins see every ticket, engineers what they reported or are assigned,
//! customers what they reported.

use crm_shared::model::{TicketId, TicketStatus};
use crm_shared::service::{Authed, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, status_patch, ticket_id, tid};

crm_tests::on_both_backends!(
    malformed_ids_are_400_and_unknown_ids_404,
    tickets_that_are_not_the_callers_are_403,
    concerned_users_read_and_update,
);

/// Which of GET, PUT (a harmless status change) and history answer `status` with `code`.
async fn assert_all(w: &Desk, who: &Authed, id: &str, status: u16, code: &str) {
    assert_err(w.get(who, id).await, status, code);
    assert_err(
        w.update(who, id, status_patch(TicketStatus::Blocked)).await,
        status,
        code,
    );
    assert_err(
        crm_shared::service::ticket_history(&w.ctx, who, &tid(id), None, 10).await,
        status,
        code,
    );
}

async fn malformed_ids_are_400_and_unknown_ids_404(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let t = w.create(&c, "t").await;
    for bad in [
        "62ed134ee134ad67c6c61e68", // the seed's Mongo ObjectId
        "",
        "x",
        "01ARZ3NDEKTSV4RRFFQ69G5FA!",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX", // 27 characters
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",  // overflows 128 bits
        &format!("{} ", t.id),
    ] {
        for who in [&w.admin, &c] {
            let e = assert_err(w.get(who, bad).await, 400, "VALIDATION_FAILED");
            assert_eq!(e.field, Some("ticketId"), "{bad:?}");
            assert_err(
                w.update(who, bad, TicketPatch::default()).await,
                400,
                "VALIDATION_FAILED",
            );
            assert_err(
                async {
                    crm_shared::service::ticket_history(&w.ctx, who, &ticket_id(bad)?, None, 10)
                        .await
                }
                .await,
                400,
                "VALIDATION_FAILED",
            );
        }
    }
    let unknown = TicketId::new();
    for who in [&w.admin, &c] {
        assert_all(&w, who, unknown.as_str(), 404, "TICKET_NOT_FOUND").await;
    }
    assert_eq!(w.get(&c, &t.id).await.expect("own ticket"), t);
}

async fn tickets_that_are_not_the_callers_are_403(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let t = w.create(&c, "t").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    for who in [&other, &eng2] {
        assert_all(&w, who, &t.id, 403, "FORBIDDEN").await;
    }
    // Reassigned away, eng1 loses the ticket.
    w.update(&w.admin, &t.id, crm_tests::desk::assignee_patch("eng2"))
        .await
        .expect("reassign");
    assert_all(&w, &eng1, &t.id, 403, "FORBIDDEN").await;
    w.get(&eng2, &t.id).await.expect("the new assignee sees it");
    // The refused calls changed nothing.
    assert_eq!(w.history(&w.admin, &t.id).await.len(), 2);
    w.assert_invariant(&["admin", "cust", "other", "eng1", "eng2"])
        .await;
}

async fn concerned_users_read_and_update(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let t = w.create(&c, "t").await; // eng1
    let by_eng2 = w.create(&eng2, "reported by eng2").await; // eng2 (1-0 → eng2)
    assert_eq!(by_eng2.assignee.as_deref(), Some("eng2"));
    let by_eng1 = w.create(&eng1, "reported by eng1").await; // 1-1 → eng1
    w.update(
        &w.admin,
        &by_eng1.id,
        crm_tests::desk::assignee_patch("eng2"),
    )
    .await
    .expect("reassign");
    // Reporter, assignee, admin: each reads and changes the ticket.
    let cases: [(&Authed, &str); 5] = [
        (&c, &t.id),
        (&eng1, &t.id),
        (&w.admin, &t.id),
        (&eng1, &by_eng1.id), // reporter, no longer assignee
        (&eng2, &by_eng2.id), // reporter and assignee
    ];
    for (who, id) in cases {
        w.get(who, id)
            .await
            .unwrap_or_else(|e| panic!("{} reads: {e:?}", who.id));
        w.update(who, id, status_patch(TicketStatus::Blocked))
            .await
            .unwrap_or_else(|e| panic!("{} blocks: {e:?}", who.id));
        w.update(who, id, status_patch(TicketStatus::Open))
            .await
            .unwrap_or_else(|e| panic!("{} reopens: {e:?}", who.id));
    }
    assert_err(w.get(&c, &by_eng1.id).await, 403, "FORBIDDEN");
    w.assert_invariant(&["admin", "cust", "eng1", "eng2"]).await;
}
