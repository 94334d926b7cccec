//! Comments (SPEC §3 "Comments") on both backends: who may write a comment or an internal
//! note, who sees what (a customer never an internal note), the reporter's reply that reopens
//! a CLOSED ticket in one write with exact counts and a history entry, nothing else changing
//! any status, pagination oldest first with the signed nextToken, and one event per comment.

use crm_shared::model::{CommentBody, CommentSnapshot, TicketStatus, UserStatus, UserType};
use crm_shared::service::{self, Authed, NewComment};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, status_patch, ticket_id, tid, uid};
use serde_json::json;

crm_tests::on_both_backends!(
    internal_notes_are_seen_by_staff_only,
    rights_per_caller_kind,
    a_reporters_reply_reopens_a_closed_ticket_with_exact_counts,
    no_other_comment_changes_any_status,
    a_reopening_reassigns_an_assignee_who_is_no_longer_an_approved_engineer,
    comments_page_oldest_first_with_the_next_token,
    a_customers_pages_skip_internal_notes,
    each_comment_is_one_event,
    bad_ids_change_nothing,
);

pub fn public(body: &str) -> NewComment {
    NewComment {
        body: CommentBody::parse(body).expect("valid body"),
        internal: false,
        attachments: Vec::new(),
    }
}

pub fn note(body: &str) -> NewComment {
    NewComment {
        internal: true,
        ..public(body)
    }
}

pub async fn comment(w: &Desk, who: &Authed, id: &str, c: NewComment) -> CommentSnapshot {
    service::add_comment(&w.ctx, who, &tid(id), c)
        .await
        .unwrap_or_else(|e| panic!("{} commenting on {id}: {e:?}", who.id))
}

/// Every page of a ticket's comments as `who` sees them, at `limit`: the bodies in order.
pub async fn thread(w: &Desk, who: &Authed, id: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..1000 {
        let page = service::list_comments(&w.ctx, who, &tid(id), next.as_deref(), limit)
            .await
            .unwrap_or_else(|e| panic!("comments of {id} as {}: {e:?}", who.id));
        assert!(page.items.len() <= limit);
        out.extend(page.items.into_iter().map(|c| c.body));
        match page.next {
            Some(n) => next = Some(n),
            None => return out,
        }
    }
    panic!("more than 1000 pages");
}

async fn internal_notes_are_seen_by_staff_only(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    // An engineer's own ticket: as its reporter they see notes too (staff).
    let own = w.create(&eng, "Laptop").await;
    let c1 = comment(&w, &cust, &t.id, public("It is on fire.")).await;
    let n1 = comment(&w, &eng, &t.id, note("Customer sounds upset.")).await;
    let c2 = comment(&w, &eng, &t.id, public("On my way.")).await;
    let n2 = comment(&w, &w.admin, &t.id, note("Escalated.")).await;
    assert_eq!(
        json!(c1),
        json!({"_id": c1.id, "ticketId": t.id, "author": "cust", "body": "It is on fire.",
               "internal": false, "createdAt": c1.created_at}),
        "the comment object"
    );
    assert!(n1.internal && n2.internal && !c2.internal);
    let everything = [
        "It is on fire.",
        "Customer sounds upset.",
        "On my way.",
        "Escalated.",
    ];
    assert_eq!(thread(&w, &eng, &t.id, 100).await, everything);
    assert_eq!(thread(&w, &w.admin, &t.id, 100).await, everything);
    assert_eq!(
        thread(&w, &cust, &t.id, 100).await,
        ["It is on fire.", "On my way."],
        "no internal note for the customer, neither listed nor counted"
    );
    let page = service::list_comments(&w.ctx, &cust, &tid(&t.id), None, 100)
        .await
        .expect("page");
    assert_eq!(page.items.len(), 2);
    assert!(page.next.is_none());
    comment(&w, &eng, &own.id, note("Mine.")).await;
    assert_eq!(thread(&w, &eng, &own.id, 100).await, ["Mine."]);
    // The token's user type is only a hint: a customer whose token says ENGINEER still
    // sees no note, and an engineer whose token says CUSTOMER sees them all.
    let lying = w.as_user("cust", UserType::Engineer);
    assert_eq!(
        thread(&w, &lying, &t.id, 100).await,
        ["It is on fire.", "On my way."]
    );
    let modest = w.as_user("eng1", UserType::Customer);
    assert_eq!(thread(&w, &modest, &t.id, 100).await, everything);
    // A customer promoted to a pending engineer is not approved: refused, not shown.
    w.set_type("cust", UserType::Engineer, None).await;
    assert_err(
        service::list_comments(&w.ctx, &cust, &tid(&t.id), None, 100).await,
        403,
        "USER_NOT_APPROVED",
    );
}

async fn rights_per_caller_kind(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let t = w.create(&cust, "Printer").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    // The reporter and the assignee and the admin: both kinds of comment, except that a
    // customer may not write an internal note.
    comment(&w, &cust, &t.id, public("c")).await;
    let e = assert_err(
        service::add_comment(&w.ctx, &cust, &tid(&t.id), note("n")).await,
        403,
        "FORBIDDEN",
    );
    assert!(e.message.contains("internal note"), "{e:?}");
    comment(&w, &eng, &t.id, public("e")).await;
    comment(&w, &eng, &t.id, note("e note")).await;
    comment(&w, &w.admin, &t.id, public("a")).await;
    comment(&w, &w.admin, &t.id, note("a note")).await;
    // Not concerned: another customer, an engineer not assigned: 403 for both kinds and
    // for the listing.
    for who in [&other, &eng2] {
        for c in [public("x"), note("x")] {
            assert_err(
                service::add_comment(&w.ctx, who, &tid(&t.id), c).await,
                403,
                "FORBIDDEN",
            );
        }
        assert_err(
            service::list_comments(&w.ctx, who, &tid(&t.id), None, 10).await,
            403,
            "FORBIDDEN",
        );
    }
    // A rejected engineer, once concerned, may do nothing.
    w.set_status("eng1", UserStatus::Rejected).await;
    assert_err(
        service::add_comment(&w.ctx, &eng, &tid(&t.id), public("x")).await,
        403,
        "USER_NOT_APPROVED",
    );
    assert_err(
        service::list_comments(&w.ctx, &eng, &tid(&t.id), None, 10).await,
        403,
        "USER_NOT_APPROVED",
    );
    assert_eq!(
        thread(&w, &w.admin, &t.id, 100).await,
        ["c", "e", "e note", "a", "a note"],
        "the refused comments wrote nothing"
    );
}

async fn a_reporters_reply_reopens_a_closed_ticket_with_exact_counts(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    w.create(&cust, "Another").await;
    assert_eq!(w.count("eng1").await, 2);
    let closed = w
        .update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    assert_eq!(w.count("eng1").await, 1);
    let before = w.ticket(&t.id).await;
    let outbox = w.outbox_len().await;

    let c = comment(&w, &cust, &t.id, public("Still broken.")).await;
    let after = w.ticket(&t.id).await;
    assert_eq!(after.status, TicketStatus::Open);
    assert_eq!(
        after.assignee.as_ref(),
        Some(&uid("eng1")),
        "the assignee stays"
    );
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.updated_at, c.created_at);
    assert_eq!(
        (
            after.title.clone(),
            after.description.clone(),
            after.ticket_priority
        ),
        (
            before.title.clone(),
            before.description.clone(),
            before.ticket_priority
        ),
        "nothing but the status"
    );
    assert_eq!(w.count("eng1").await, 2, "the reopened ticket counts again");
    w.assert_invariant(&["eng1", "cust", "admin"]).await;
    let h = w.history(&cust, &t.id).await;
    let last = h.last().expect("an entry");
    assert_eq!(last.version, after.version);
    assert_eq!(last.actor, "cust");
    assert_eq!(last.at, c.created_at);
    assert_eq!(
        json!(last.changes),
        json!([{"field": "status", "from": "CLOSED", "to": "OPEN"}])
    );
    assert_eq!(
        w.outbox_len().await,
        outbox + 2,
        "two events: comment.created, and ticket.updated for the reopening"
    );
    assert_eq!(thread(&w, &cust, &t.id, 10).await, ["Still broken."]);
    // Replying again to the now OPEN ticket changes nothing more.
    comment(&w, &cust, &t.id, public("Hello?")).await;
    assert_eq!(w.ticket(&t.id).await, after);
    assert_eq!(w.count("eng1").await, 2);
    assert_eq!(w.history(&cust, &t.id).await.len(), h.len());
    assert_eq!(closed.status, "CLOSED");
}

async fn no_other_comment_changes_any_status(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    // An engineer who reported a ticket may note on it: their internal note never reopens.
    let own = w.create(&eng, "Own").await;
    let t = w.create(&cust, "Printer").await;
    let blocked = w.create(&cust, "Blocked").await;
    w.update(&eng, &blocked.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    for id in [&t.id, &own.id] {
        w.update(&eng, id, status_patch(TicketStatus::Closed))
            .await
            .expect("close");
    }
    let counts = w.assert_invariant(&["eng1", "cust", "admin"]).await;
    let ids = [t.id.clone(), own.id.clone(), blocked.id.clone()];
    let before = tickets(&w, &ids).await;
    // Not the reporter; an internal note; a status other than CLOSED.
    comment(&w, &eng, &t.id, public("Closed as fixed.")).await;
    comment(&w, &eng, &t.id, note("Fixed, I think.")).await;
    comment(&w, &w.admin, &t.id, public("Admin here.")).await;
    comment(&w, &eng, &own.id, note("Own note on my closed ticket.")).await;
    comment(&w, &cust, &blocked.id, public("Any news?")).await;
    comment(&w, &eng, &blocked.id, public("Waiting for parts.")).await;
    assert_eq!(
        tickets(&w, &ids).await,
        before,
        "no status, version or field changed"
    );
    assert_eq!(w.assert_invariant(&["eng1", "cust", "admin"]).await, counts);
    assert_eq!(w.history(&w.admin, &t.id).await.len(), 2);
    assert_eq!(w.history(&w.admin, &blocked.id).await.len(), 2);
}

async fn tickets(w: &Desk, ids: &[String]) -> Vec<crm_shared::store::TicketRecord> {
    let mut out = Vec::new();
    for id in ids {
        out.push(w.ticket(id).await);
    }
    out
}

async fn a_reopening_reassigns_an_assignee_who_is_no_longer_an_approved_engineer(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    w.engineer("eng2").await;
    let t = w.create(&cust, "Printer").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    w.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    w.set_status("eng1", UserStatus::Rejected).await;
    comment(&w, &cust, &t.id, public("Broken again.")).await;
    // SPEC §3 "Leaving": reopened while its assignee cannot work on it, it is assigned in
    // the same write like a new ticket.
    let after = w.ticket(&t.id).await;
    assert_eq!(after.status, TicketStatus::Open);
    assert_eq!(after.assignee.as_ref(), Some(&uid("eng2")), "handed on");
    w.assert_invariant(&["eng1", "eng2", "cust", "admin"]).await;
    assert_eq!(w.count("eng1").await, 0);
    assert_eq!(w.count("eng2").await, 1);
}

async fn comments_page_oldest_first_with_the_next_token(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    // History entries share the partition: several of them after the comments.
    for s in [
        TicketStatus::Blocked,
        TicketStatus::Open,
        TicketStatus::Blocked,
    ] {
        w.update(&eng, &t.id, status_patch(s)).await.expect("flip");
    }
    let want: Vec<String> = (0..7).map(|i| format!("comment {i}")).collect();
    for (i, b) in want.iter().enumerate() {
        let who = if i % 2 == 0 { &cust } else { &eng };
        comment(&w, who, &t.id, public(b)).await;
    }
    for limit in [1, 2, 3, 6, 7, 8, 100] {
        assert_eq!(thread(&w, &cust, &t.id, limit).await, want, "limit {limit}");
        assert_eq!(thread(&w, &eng, &t.id, limit).await, want, "limit {limit}");
    }
    let p1 = service::list_comments(&w.ctx, &cust, &tid(&t.id), None, 3)
        .await
        .expect("page 1");
    assert_eq!(p1.items.len(), 3);
    let token = p1.next.expect("more");
    let p2 = service::list_comments(&w.ctx, &cust, &tid(&t.id), Some(&token), 3)
        .await
        .expect("page 2");
    assert_eq!(p2.items[0].body, "comment 3");
    assert!(
        p1.items
            .iter()
            .all(|c| c.created_at <= p2.items[0].created_at)
    );
    // The token belongs to this ticket's comments: not another listing, not another ticket.
    let other = w.create(&cust, "Other").await;
    for (id, tok) in [
        (other.id.as_str(), token.clone()),
        (t.id.as_str(), format!("{token}x")),
        (t.id.as_str(), "garbage".into()),
    ] {
        assert_err(
            service::list_comments(&w.ctx, &cust, &tid(id), Some(&tok), 3).await,
            400,
            "INVALID_NEXT_TOKEN",
        );
    }
    assert_err(
        service::ticket_history(&w.ctx, &cust, &tid(&t.id), Some(&token), 3).await,
        400,
        "INVALID_NEXT_TOKEN",
    );
    // A ticket without comments: an empty page.
    let empty = service::list_comments(&w.ctx, &cust, &tid(&other.id), None, 10)
        .await
        .expect("empty");
    assert!(empty.items.is_empty() && empty.next.is_none());
}

async fn a_customers_pages_skip_internal_notes(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    let mut all = Vec::new();
    let mut public_only = Vec::new();
    for i in 0..12 {
        let b = format!("c{i}");
        if i % 3 == 0 {
            comment(&w, &cust, &t.id, public(&b)).await;
            public_only.push(b.clone());
        } else {
            comment(&w, &eng, &t.id, note(&b)).await;
        }
        all.push(b);
    }
    for limit in [1, 2, 3, 5, 100] {
        assert_eq!(
            thread(&w, &cust, &t.id, limit).await,
            public_only,
            "limit {limit}"
        );
        assert_eq!(thread(&w, &eng, &t.id, limit).await, all, "limit {limit}");
    }
}

async fn each_comment_is_one_event(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    let n = w.outbox_len().await;
    comment(&w, &cust, &t.id, public("a")).await;
    comment(&w, &eng, &t.id, note("b")).await;
    assert_eq!(w.outbox_len().await, n + 2);
    // Refused comments record nothing.
    let _ = service::add_comment(&w.ctx, &cust, &tid(&t.id), note("c")).await;
    assert_eq!(w.outbox_len().await, n + 2);
}

async fn bad_ids_change_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    let n = w.outbox_len().await;
    for bad in [
        "not-a-ulid",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        &t.id.to_lowercase(),
    ] {
        let e = assert_err(
            async { service::add_comment(&w.ctx, &cust, &ticket_id(bad)?, public("x")).await }
                .await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("ticketId"));
        assert_err(
            async { service::list_comments(&w.ctx, &cust, &ticket_id(bad)?, None, 10).await }.await,
            400,
            "VALIDATION_FAILED",
        );
    }
    for who in [&cust, &w.admin] {
        assert_err(
            service::add_comment(&w.ctx, who, &tid("01ARZ3NDEKTSV4RRFFQ69G5FAV"), public("x"))
                .await,
            404,
            "TICKET_NOT_FOUND",
        );
    }
    assert_eq!(w.outbox_len().await, n);
    assert!(thread(&w, &cust, &t.id, 10).await.is_empty());
}
