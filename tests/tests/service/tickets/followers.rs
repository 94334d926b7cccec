//! Followers (SPEC §11) on both backends: who adds and removes them (the reporter or
//! concerned staff; anyone themself), who may follow (approved users not yet concerned, at
//! most 20), what a follower may do (read the ticket, its history and its public comments,
//! comment; a staff follower also the internal notes), the loss of access at once on
//! removal, the follower's listing (`following=true` narrows it), and that following is a
//! ticket change (history, event, version) that changes no count and no assignment.

use crate::tickets::comments::{comment, note, public, thread};
use crm_shared::model::{EventType, TicketStatus, UserStatus, UserType};
use crm_shared::service::{self, TicketFilter, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, status_patch, tid};
use crm_tests::followers::tags_patch;
use serde_json::json;

crm_tests::on_both_backends!(
    the_reporter_and_concerned_staff_add_followers,
    who_may_follow_and_bad_input_changes_nothing,
    at_most_20_followers,
    a_follower_reads_and_comments_a_staff_follower_also_internal_notes,
    a_customer_follower_may_not_change_the_ticket_a_staff_follower_may,
    anyone_removes_themself_and_loses_access_at_once,
    removing_another_follower_rights_before_existence,
    following_is_a_ticket_change_that_moves_no_count,
    a_followers_listing_includes_what_they_follow,
    following_true_narrows_and_other_values_are_refused_by_the_handler,
);

fn following() -> TicketFilter {
    TicketFilter {
        following: true,
        ..Default::default()
    }
}

async fn the_reporter_and_concerned_staff_add_followers(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    for u in ["colleague", "boss", "third"] {
        w.customer(u).await;
    }
    w.engineer("specialist").await;
    let t = w.create(&cust, "Printer").await;
    assert_eq!(t.followers, Vec::<String>::new());
    // The reporter adds a colleague; the assignee a specialist; an admin a third.
    let a = w.follow(&cust, &t.id, "colleague").await;
    assert_eq!(a.followers, ["colleague"]);
    let a = w.follow(&eng, &t.id, "specialist").await;
    assert_eq!(a.followers, ["colleague", "specialist"]);
    // A staff follower is concerned staff: they add another.
    let specialist = w.as_user("specialist", UserType::Engineer);
    let a = w.follow(&specialist, &t.id, "boss").await;
    assert_eq!(a.followers, ["colleague", "specialist", "boss"]);
    let a = w.follow(&w.admin, &t.id, "third").await;
    assert_eq!(a.followers, ["colleague", "specialist", "boss", "third"]);
    assert_eq!(w.ticket(&t.id).await.snapshot(), a);
    // Adding one who follows already changes nothing.
    let events = w.outbox_events_of(&t.id).await.len();
    let again = w.follow(&cust, &t.id, "colleague").await;
    assert_eq!(again, a);
    assert_eq!(w.outbox_events_of(&t.id).await.len(), events);
    // A customer follower may not add anyone.
    let colleague = w.as_user("colleague", UserType::Customer);
    w.customer("fourth").await;
    let e = assert_err(
        w.add_follower(&colleague, &t.id, "fourth").await,
        403,
        "FORBIDDEN",
    );
    assert!(e.message.contains("followers"), "{e:?}");
    // Nor may someone unconcerned, customer or engineer.
    let stranger = w.customer("stranger").await;
    let eng2 = w.engineer("eng2").await;
    for who in [&stranger, &eng2] {
        assert_err(w.add_follower(who, &t.id, "fourth").await, 403, "FORBIDDEN");
    }
    assert_eq!(w.ticket(&t.id).await.snapshot(), a, "nothing changed");
}

async fn who_may_follow_and_bad_input_changes_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    w.signup("pending", UserType::Engineer)
        .await
        .expect("a pending engineer");
    w.customer("rejected").await;
    w.set_status("rejected", UserStatus::Rejected).await;
    let t = w.create(&cust, "Printer").await;
    let before = w.ticket(&t.id).await;
    let events = w.outbox_len().await;
    // A userId nobody has and one of a user who is not approved get one and the same
    // answer (no way to tell them apart), for a customer and for staff alike.
    let mut answers = Vec::new();
    for who in [&cust, &eng, &w.admin] {
        for user in ["nobody-here", "pending", "rejected"] {
            let e = assert_err(
                w.add_follower(who, &t.id, user).await,
                400,
                "VALIDATION_FAILED",
            );
            assert_eq!(e.field, Some("userId"));
            answers.push(e.message.clone());
        }
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
    // The reporter and the assignee are concerned already.
    for user in ["cust", "eng"] {
        let e = assert_err(
            w.add_follower(&w.admin, &t.id, user).await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("userId"), "{user}");
    }
    // Malformed userIds.
    for bad in ["", "bad id!", &"x".repeat(65)] {
        let e = assert_err(
            w.add_follower(&cust, &t.id, bad).await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("userId"), "{bad:?}");
        let e = assert_err(
            w.remove_follower(&cust, &t.id, bad).await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("userId"), "{bad:?}");
    }
    // A malformed ticket id is refused at the HTTP edge (Path<TicketId>), before the use
    // case: tests/tests/api/tickets/followers.rs and the access matrix's malformed column.
    let unknown = crm_shared::model::TicketId::new();
    assert_err(
        w.add_follower(&cust, unknown.as_str(), "eng").await,
        404,
        "TICKET_NOT_FOUND",
    );
    assert_err(
        w.remove_follower(&cust, unknown.as_str(), "cust").await,
        404,
        "TICKET_NOT_FOUND",
    );
    assert_eq!(w.ticket(&t.id).await, before, "nothing changed");
    assert_eq!(w.outbox_len().await, events, "nothing recorded");
}

async fn at_most_20_followers(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let t = w.create(&cust, "Popular").await;
    for i in 0..21 {
        w.customer(&format!("f{i:02}")).await;
    }
    for i in 0..20 {
        w.follow(&cust, &t.id, &format!("f{i:02}")).await;
    }
    let full = w.ticket(&t.id).await;
    assert_eq!(full.followers.len(), 20);
    assert_eq!(full.version, 21);
    assert_err(
        w.add_follower(&cust, &t.id, "f20").await,
        409,
        "FOLLOWER_LIMIT",
    );
    assert_eq!(w.ticket(&t.id).await, full, "nothing changed");
    // A follower already there is still "added" (no change), and room made lets one in.
    w.follow(&cust, &t.id, "f00").await;
    w.remove_follower(&cust, &t.id, "f00")
        .await
        .expect("removed");
    let t2 = w.follow(&cust, &t.id, "f20").await;
    assert_eq!(t2.followers.len(), 20);
    assert_eq!(t2.followers.last().map(String::as_str), Some("f20"));
    // Twenty copies, and a change rewrites them all in its one transaction.
    let eng = w.engineer("eng").await;
    w.update(&w.admin, &t.id, crm_tests::desk::assignee_patch("eng"))
        .await
        .expect("assign");
    let changed = w
        .update(&eng, &t.id, tags_patch(&["a", "b"]))
        .await
        .expect("retag");
    let f05 = w.as_user("f05", UserType::Customer);
    let page = w.list(&f05, following(), None, 100).await.expect("list");
    assert_eq!(page.items, [changed]);
}

async fn a_follower_reads_and_comments_a_staff_follower_also_internal_notes(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let fcust = w.customer("fcust").await;
    let feng = w.engineer("feng").await;
    let t = w.create(&cust, "Printer").await;
    assert_eq!(t.assignee.as_deref(), Some("eng"));
    for who in [&fcust, &feng] {
        assert_err(w.get(who, &t.id).await, 403, "FORBIDDEN");
        assert_err(
            service::list_comments(&w.ctx, who, &tid(&t.id), None, 100).await,
            403,
            "FORBIDDEN",
        );
    }
    comment(&w, &cust, &t.id, public("It jams.")).await;
    comment(&w, &eng, &t.id, note("The roller is worn.")).await;
    w.follow(&cust, &t.id, "fcust").await;
    w.follow(&eng, &t.id, "feng").await;
    for who in [&fcust, &feng] {
        let got = w
            .get(who, &t.id)
            .await
            .expect("a follower reads the ticket");
        assert_eq!(got.followers, ["fcust", "feng"]);
        assert_eq!(w.history(who, &t.id).await.len(), 3);
    }
    // A customer follower: public comments only, and only public ones written.
    assert_eq!(thread(&w, &fcust, &t.id, 100).await, ["It jams."]);
    assert_eq!(
        thread(&w, &feng, &t.id, 100).await,
        ["It jams.", "The roller is worn."]
    );
    comment(&w, &fcust, &t.id, public("Mine jams too.")).await;
    assert_err(
        service::add_comment(&w.ctx, &fcust, &tid(&t.id), note("secret")).await,
        403,
        "FORBIDDEN",
    );
    // A staff follower writes internal notes too.
    comment(&w, &feng, &t.id, note("Order a roller.")).await;
    comment(&w, &feng, &t.id, public("On it.")).await;
    assert_eq!(
        thread(&w, &fcust, &t.id, 1).await,
        ["It jams.", "Mine jams too.", "On it."]
    );
    assert_eq!(
        thread(&w, &cust, &t.id, 100).await,
        ["It jams.", "Mine jams too.", "On it."]
    );
    // A follower's reply to a CLOSED ticket does not reopen it (the reporter's does).
    w.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    comment(&w, &fcust, &t.id, public("Still jams.")).await;
    assert_eq!(w.ticket(&t.id).await.status, TicketStatus::Closed);
    assert_eq!(w.count("eng").await, 0);
}

async fn a_customer_follower_may_not_change_the_ticket_a_staff_follower_may(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let fcust = w.customer("fcust").await;
    let feng = w.engineer("feng").await;
    let t = w.create(&cust, "Printer").await;
    w.follow(&eng, &t.id, "fcust").await;
    w.follow(&eng, &t.id, "feng").await;
    let before = w.ticket(&t.id).await;
    for patch in [
        status_patch(TicketStatus::Closed),
        TicketPatch {
            title: Some(crm_tests::desk::title("Mine now")),
            ..Default::default()
        },
        tags_patch(&["vip"]),
    ] {
        let e = assert_err(w.update(&fcust, &t.id, patch).await, 403, "FORBIDDEN");
        assert!(e.message.contains("follower"), "{e:?}");
    }
    assert_eq!(w.ticket(&t.id).await, before, "nothing changed");
    // A staff follower is concerned staff: changes, tags; not a reassignment (admins only).
    let u = w
        .update(&feng, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("a staff follower changes the status");
    assert_eq!(u.status, "BLOCKED");
    assert_eq!(w.count("eng").await, 0, "the assignee's count follows");
    w.update(&feng, &t.id, tags_patch(&["printer"]))
        .await
        .expect("and the tags");
    assert_err(
        w.update(&feng, &t.id, crm_tests::desk::assignee_patch("feng"))
            .await,
        403,
        "FORBIDDEN",
    );
}

async fn anyone_removes_themself_and_loses_access_at_once(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng").await;
    let fcust = w.customer("fcust").await;
    let feng = w.engineer("feng").await;
    let t = w.create(&cust, "Printer").await;
    w.follow(&cust, &t.id, "fcust").await;
    w.follow(&cust, &t.id, "feng").await;
    for (who, left) in [(&fcust, vec!["feng"]), (&feng, vec![])] {
        assert_eq!(
            w.list_all(who, TicketFilter::default(), 100).await,
            std::slice::from_ref(&t.id)
        );
        let after = w
            .remove_follower(who, &t.id, who.id.as_str())
            .await
            .expect("removes themself");
        assert_eq!(after.followers, left);
        // At once, with the same token: the ticket, its history, its comments, a comment,
        // the listing, removing themself again.
        assert_err(w.get(who, &t.id).await, 403, "FORBIDDEN");
        assert_err(
            service::ticket_history(&w.ctx, who, &tid(&t.id), None, 100).await,
            403,
            "FORBIDDEN",
        );
        assert_err(
            service::list_comments(&w.ctx, who, &tid(&t.id), None, 100).await,
            403,
            "FORBIDDEN",
        );
        assert_err(
            service::add_comment(&w.ctx, who, &tid(&t.id), public("still here?")).await,
            403,
            "FORBIDDEN",
        );
        assert_err(
            w.remove_follower(who, &t.id, who.id.as_str()).await,
            403,
            "FORBIDDEN",
        );
        assert!(
            w.list_all(who, TicketFilter::default(), 100)
                .await
                .is_empty()
        );
        assert!(w.list_all(who, following(), 100).await.is_empty());
    }
}

async fn removing_another_follower_rights_before_existence(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let fcust = w.customer("fcust").await;
    w.customer("fcust2").await;
    let feng = w.engineer("feng").await;
    let t = w.create(&cust, "Printer").await;
    for f in ["fcust", "fcust2", "feng"] {
        w.follow(&cust, &t.id, f).await;
    }
    let before = w.ticket(&t.id).await;
    // A customer follower may remove only themself: 403 whether or not the other follows.
    for user in ["fcust2", "nobody-here"] {
        assert_err(
            w.remove_follower(&fcust, &t.id, user).await,
            403,
            "FORBIDDEN",
        );
    }
    // Someone unconcerned: 403.
    let stranger = w.customer("stranger").await;
    assert_err(
        w.remove_follower(&stranger, &t.id, "fcust").await,
        403,
        "FORBIDDEN",
    );
    // The reporter, the assignee, a staff follower, an admin: not a follower is 404.
    for who in [&cust, &eng, &feng, &w.admin] {
        assert_err(
            w.remove_follower(who, &t.id, "nobody-here").await,
            404,
            "FOLLOWER_NOT_FOUND",
        );
        assert_err(
            w.remove_follower(who, &t.id, "cust").await,
            404,
            "FOLLOWER_NOT_FOUND",
        );
    }
    assert_eq!(w.ticket(&t.id).await, before, "nothing changed");
    let a = w.remove_follower(&eng, &t.id, "fcust2").await.expect("eng");
    assert_eq!(a.followers, ["fcust", "feng"]);
    let a = w
        .remove_follower(&feng, &t.id, "fcust")
        .await
        .expect("feng");
    assert_eq!(a.followers, ["feng"]);
    let a = w.remove_follower(&cust, &t.id, "feng").await.expect("cust");
    assert!(a.followers.is_empty());
}

async fn following_is_a_ticket_change_that_moves_no_count(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng").await;
    w.engineer("eng2").await;
    w.customer("fcust").await;
    let t = w.create(&cust, "Printer").await;
    let counts = w.assert_invariant(&["eng", "eng2"]).await;
    let added = w.follow(&cust, &t.id, "eng2").await;
    assert_eq!(added.version, 2);
    assert_eq!(added.assignee, t.assignee, "no assignment");
    assert_eq!(added.status, "OPEN");
    let added = w.follow(&cust, &t.id, "fcust").await;
    let removed = w
        .remove_follower(&cust, &t.id, "eng2")
        .await
        .expect("removed");
    assert_eq!(removed.version, 4);
    assert_eq!(
        w.assert_invariant(&["eng", "eng2"]).await,
        counts,
        "no count moved"
    );
    let h = w.history(&cust, &t.id).await;
    let followers: Vec<(i64, &str, serde_json::Value, serde_json::Value)> = h
        .iter()
        .skip(1)
        .map(|e| {
            assert_eq!(e.changes.len(), 1);
            let c = &e.changes[0];
            assert_eq!(c.field, "followers");
            (e.version, e.actor.as_str(), c.from.clone(), c.to.clone())
        })
        .collect();
    assert_eq!(
        followers,
        [
            (2, "cust", json!([]), json!(["eng2"])),
            (3, "cust", json!(["eng2"]), json!(["eng2", "fcust"])),
            (4, "cust", json!(["eng2", "fcust"]), json!(["fcust"])),
        ]
    );
    let events = w.outbox_events_of(&t.id).await;
    assert_eq!(events.len(), 4);
    for (e, want) in events[1..].iter().zip([
        json!({"followers": {"from": [], "to": ["eng2"]}}),
        json!({"followers": {"from": ["eng2"], "to": ["eng2", "fcust"]}}),
        json!({"followers": {"from": ["eng2", "fcust"], "to": ["fcust"]}}),
    ]) {
        assert_eq!(e.event_type, EventType::TicketUpdated);
        assert_eq!(
            serde_json::to_value(&e.data.changes).expect("changes"),
            want
        );
        assert!(e.data.comment.is_none());
    }
    assert_eq!(
        events[2].data.ticket.as_ref().expect("ticket"),
        &added,
        "the event carries the ticket after"
    );
    assert_eq!(w.ticket(&t.id).await.snapshot(), removed);
}

async fn a_followers_listing_includes_what_they_follow(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng = w.engineer("eng").await;
    let eng2 = w.engineer("eng2").await;
    let a = w.create(&cust, "cust's a").await; // eng
    let b = w.create(&other, "other's b").await; // eng2
    let c = w.create(&other, "other's c").await; // eng
    let d = w.create(&eng2, "eng2's d").await; // eng2 (reporter too)
    w.follow(&other, &b.id, "cust").await;
    w.follow(&eng, &c.id, "eng2").await;
    w.follow(&eng2, &d.id, "cust").await;
    let ids = |v: &[&crm_shared::model::TicketSnapshot]| -> Vec<String> {
        v.iter().map(|t| t.id.clone()).collect()
    };
    let all = TicketFilter::default();
    for limit in [1, 2, 100] {
        assert_eq!(
            w.list_all(&cust, all.clone(), limit).await,
            ids(&[&a, &b, &d])
        );
        assert_eq!(w.list_all(&cust, following(), limit).await, ids(&[&b, &d]));
        assert_eq!(
            w.list_all(&eng2, all.clone(), limit).await,
            ids(&[&b, &c, &d])
        );
        assert_eq!(w.list_all(&eng2, following(), limit).await, ids(&[&c]));
        assert_eq!(
            w.list_all(&other, following(), limit).await,
            Vec::<String>::new()
        );
    }
    // Filters on what the partitions imply: someone else's tickets are those followed.
    let reported_by = |u: &str| TicketFilter {
        reporter: Some(crm_tests::desk::uid(u)),
        ..Default::default()
    };
    assert_eq!(
        w.list_all(&cust, reported_by("other"), 100).await,
        ids(&[&b])
    );
    assert_eq!(
        w.list_all(&cust, reported_by("cust"), 100).await,
        ids(&[&a])
    );
    assert_eq!(
        w.list_all(&eng2, reported_by("other"), 100).await,
        ids(&[&b, &c])
    );
    let assigned_to = |u: &str| TicketFilter {
        assignee: Some(Some(crm_tests::desk::uid(u))),
        ..Default::default()
    };
    assert_eq!(w.list_all(&eng2, assigned_to("eng"), 100).await, ids(&[&c]));
    assert_eq!(
        w.list_all(
            &eng2,
            TicketFilter {
                reporter: Some(crm_tests::desk::uid("other")),
                ..assigned_to("eng")
            },
            100
        )
        .await,
        ids(&[&c])
    );
    assert_eq!(
        w.list_all(&cust, assigned_to("eng2"), 100).await,
        ids(&[&b, &d])
    );
    // The listing shows each followed ticket as it now is.
    w.update(&eng2, &b.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let page = w.list(&cust, following(), None, 100).await.expect("list");
    assert_eq!(page.items[0], w.ticket(&b.id).await.snapshot());
    let open = TicketFilter {
        status: Some(TicketStatus::Open),
        following: true,
        ..Default::default()
    };
    assert_eq!(w.list_all(&cust, open, 100).await, ids(&[&d]));
    // An admin's listing is every ticket; `following=true` narrows it to theirs.
    w.follow(&w.admin, &a.id, "admin").await;
    assert_eq!(w.list_all(&w.admin, following(), 100).await, ids(&[&a]));
    assert_eq!(w.list_all(&w.admin, all, 100).await.len(), 4);
}

async fn following_true_narrows_and_other_values_are_refused_by_the_handler(store: Store) {
    // The handler's parsing is over HTTP (tests/tests/api/tickets/followers.rs); here the
    // token of a following=true listing is for that listing only.
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    for i in 0..3 {
        let t = w.create(&other, &format!("t{i}")).await;
        w.follow(&other, &t.id, "cust").await;
        w.create(&cust, &format!("own {i}")).await;
    }
    let page = w.list(&cust, following(), None, 1).await.expect("page");
    let token = page.next.expect("more");
    assert_err(
        w.list(&cust, TicketFilter::default(), Some(&token), 1)
            .await,
        400,
        "INVALID_NEXT_TOKEN",
    );
    assert_eq!(w.list_all(&cust, following(), 1).await.len(), 3);
    assert_eq!(w.list_all(&cust, TicketFilter::default(), 1).await.len(), 6);
}
