//! Tags (SPEC §11) on both backends: staff set them on creation and update (the whole new
//! set, lower-cased, each once), a customer sending them is refused and nothing changes,
//! every change is in the history and the events, and `?tag=` lists the tickets carrying
//! every given tag, scoped as usual, the ticket's copies under its tags kept in step.

use crm_shared::model::{EventType, TicketStatus, Timestamp, UserType};
use crm_shared::service::workload::{Workload, run_job};
use crm_shared::service::{self, TicketFilter, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, new_ticket, status_patch, tid};
use crm_tests::followers::{tags, tags_patch};
use serde_json::json;

crm_tests::on_both_backends!(
    staff_set_tags_on_creation_and_update_folded_and_each_once,
    a_customer_sending_tags_is_refused_and_nothing_changes,
    tag_changes_are_in_the_history_and_the_events,
    listing_by_one_or_several_tags_is_scoped_per_role,
    a_tag_listing_follows_every_change_of_the_ticket,
    tag_listings_page_with_the_next_token,
);

fn by_tags(names: &[&str]) -> TicketFilter {
    TicketFilter {
        tags: names
            .iter()
            .map(|n| tags(&[n]).iter().next().expect("a tag").clone())
            .collect(),
        ..Default::default()
    }
}

async fn staff_set_tags_on_creation_and_update_folded_and_each_once(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let t = w
        .create_tagged(&eng, "Printer", &["VIP", "printer", "Vip"])
        .await;
    assert_eq!(t.tags, ["printer", "vip"]);
    assert_eq!(w.ticket(&t.id).await.tags, tags(&["printer", "vip"]));
    // The reporter is a customer, the assignee (eng) sets the tags: the whole new set.
    let c = w.create(&cust, "Laptop").await;
    assert_eq!(c.tags, Vec::<String>::new(), "no tags: an empty set");
    let u = w
        .update(&eng, &c.id, tags_patch(&["Hardware", "urgent_1", "a-b"]))
        .await
        .expect("the assignee tags it");
    assert_eq!(u.tags, ["a-b", "hardware", "urgent_1"]);
    let u = w
        .update(&w.admin, &c.id, tags_patch(&["hardware"]))
        .await
        .expect("an admin retags it");
    assert_eq!(
        (u.tags.as_slice(), u.version),
        (&["hardware".to_owned()][..], 3)
    );
    // The same set in another order or case is no change: no version, no event.
    let events = w.outbox_events_of(&c.id).await.len();
    let same = w
        .update(&eng, &c.id, tags_patch(&["HARDWARE"]))
        .await
        .expect("no change");
    assert_eq!(same.version, 3);
    assert_eq!(w.outbox_events_of(&c.id).await.len(), events);
    // An empty set clears them.
    let cleared = w
        .update(&eng, &c.id, tags_patch(&[]))
        .await
        .expect("cleared");
    assert!(cleared.tags.is_empty());
    // 20 tags is the most (the model's parser refuses a 21st: see model/tags.rs).
    let twenty: Vec<String> = (0..20).map(|i| format!("t{i:02}")).collect();
    let names: Vec<&str> = twenty.iter().map(String::as_str).collect();
    let full = w.update(&eng, &c.id, tags_patch(&names)).await.expect("20");
    assert_eq!(full.tags.len(), 20);
    // An unconcerned engineer may not, whatever the tags.
    let eng2 = w.engineer("eng2").await;
    assert_err(
        w.update(&eng2, &c.id, tags_patch(&["x"])).await,
        403,
        "FORBIDDEN",
    );
}

async fn a_customer_sending_tags_is_refused_and_nothing_changes(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng").await;
    let mut new = new_ticket("Tagged by a customer");
    new.tags = Some(tags(&["vip"]));
    let e = assert_err(
        service::create_ticket(&w.ctx, &cust, new).await,
        403,
        "FORBIDDEN",
    );
    assert!(e.message.contains("tags"), "{e:?}");
    // Even no tags at all: sending the field is the refused act.
    let mut new = new_ticket("Empty tags by a customer");
    new.tags = Some(tags(&[]));
    assert_err(
        service::create_ticket(&w.ctx, &cust, new).await,
        403,
        "FORBIDDEN",
    );
    assert!(w.all_tickets().await.is_empty(), "no ticket was created");
    assert_eq!(w.count("eng").await, 0);
    assert_eq!(w.outbox_len().await, 0);

    let t = w.create(&cust, "Mine").await;
    let before = w.ticket(&t.id).await;
    let events = w.outbox_len().await;
    // The reporter may change the ticket, not its tags; not even with other fields beside.
    let patch = TicketPatch {
        status: Some(TicketStatus::Closed),
        ..tags_patch(&["vip"])
    };
    assert_err(w.update(&cust, &t.id, patch).await, 403, "FORBIDDEN");
    assert_eq!(w.ticket(&t.id).await, before, "nothing changed");
    assert_eq!(w.outbox_len().await, events);
    assert!(
        w.list(&w.admin, by_tags(&["vip"]), None, 100)
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

async fn tag_changes_are_in_the_history_and_the_events(store: Store) {
    let w = Desk::new(store).await;
    let eng = w.engineer("eng").await;
    let t = w.create_tagged(&eng, "Printer", &["printer"]).await;
    w.update(&eng, &t.id, tags_patch(&["printer", "vip"]))
        .await
        .expect("retag");
    let h = w.history(&eng, &t.id).await;
    assert_eq!(h.len(), 2);
    let created = h[0]
        .changes
        .iter()
        .find(|c| c.field == "tags")
        .expect("creation lists the tags");
    assert_eq!(
        (&created.from, &created.to),
        (&json!(null), &json!(["printer"]))
    );
    assert_eq!(h[1].changes.len(), 1);
    assert_eq!(h[1].changes[0].field, "tags");
    assert_eq!(
        (&h[1].changes[0].from, &h[1].changes[0].to),
        (&json!(["printer"]), &json!(["printer", "vip"]))
    );
    let events = w.outbox_events_of(&t.id).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, EventType::TicketCreated);
    assert_eq!(
        events[0].data.ticket.as_ref().expect("ticket").tags,
        ["printer"]
    );
    assert_eq!(events[1].event_type, EventType::TicketUpdated);
    assert_eq!(
        serde_json::to_value(&events[1].data.changes).expect("changes"),
        json!({"tags": {"from": ["printer"], "to": ["printer", "vip"]}})
    );
    let snap = events[1].data.ticket.as_ref().expect("ticket");
    assert_eq!((snap.tags.len(), snap.version), (2, 2));
}

async fn listing_by_one_or_several_tags_is_scoped_per_role(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    // cust's tickets go to eng1 then eng2 (least loaded); each is tagged by its assignee.
    let a = w.create(&cust, "a").await; // eng1
    let b = w.create(&cust, "b").await; // eng2
    let c = w.create(&other, "c").await; // eng1
    let d = w.create(&other, "d").await; // eng2
    assert_eq!(a.assignee.as_deref(), Some("eng1"));
    assert_eq!(b.assignee.as_deref(), Some("eng2"));
    for (who, t, names) in [
        (&eng1, &a, &["vip", "printer"][..]),
        (&eng2, &b, &["vip"][..]),
        (&eng1, &c, &["vip", "printer"][..]),
        (&eng2, &d, &["printer"][..]),
    ] {
        w.update(who, &t.id, tags_patch(names)).await.expect("tag");
    }
    let ids = |v: &[&crm_shared::model::TicketSnapshot]| -> Vec<String> {
        v.iter().map(|t| t.id.clone()).collect()
    };
    let table = [
        (&w.admin, &["vip"][..], ids(&[&a, &b, &c])),
        (&w.admin, &["printer"][..], ids(&[&a, &c, &d])),
        (&w.admin, &["VIP", "printer"][..], ids(&[&a, &c])),
        (&w.admin, &["printer", "vip", "printer"][..], ids(&[&a, &c])),
        (&w.admin, &["nothing"][..], vec![]),
        (&cust, &["vip"][..], ids(&[&a, &b])),
        (&cust, &["vip", "printer"][..], ids(&[&a])),
        (&other, &["printer"][..], ids(&[&c, &d])),
        (&eng1, &["vip"][..], ids(&[&a, &c])),
        (&eng2, &["printer"][..], ids(&[&d])),
        (&eng2, &["vip", "printer"][..], vec![]),
    ];
    for (who, names, want) in table {
        for limit in [1, 2, 100] {
            assert_eq!(
                w.list_all(who, by_tags(names), limit).await,
                want,
                "{} by {names:?} at limit {limit}",
                who.id
            );
        }
    }
    // Tags combine with the other filters.
    let open_vip = TicketFilter {
        status: Some(TicketStatus::Open),
        ..by_tags(&["vip"])
    };
    w.update(&eng2, &b.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    assert_eq!(
        w.list_all(&w.admin, open_vip.clone(), 100).await,
        ids(&[&a, &c])
    );
    assert_eq!(w.list_all(&cust, open_vip, 100).await, ids(&[&a]));
    let reported = TicketFilter {
        reporter: Some(crm_tests::desk::uid("other")),
        ..by_tags(&["printer"])
    };
    assert_eq!(
        w.list_all(&w.admin, reported.clone(), 100).await,
        ids(&[&c, &d])
    );
    assert_eq!(w.list_all(&cust, reported, 100).await, Vec::<String>::new());
}

async fn a_tag_listing_follows_every_change_of_the_ticket(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let t = w.create(&cust, "Printer").await;
    w.update(&eng, &t.id, tags_patch(&["vip", "printer"]))
        .await
        .expect("tag");
    // A change of another field shows in the listing by tag at once (the copy is rewritten
    // in the ticket's transaction), by the admin and by the reporter.
    w.update(
        &cust,
        &t.id,
        TicketPatch {
            title: Some(crm_tests::desk::title("Printer on fire")),
            ..Default::default()
        },
    )
    .await
    .expect("retitle");
    for who in [&w.admin, &cust, &eng] {
        let page = w
            .list(who, by_tags(&["vip"]), None, 100)
            .await
            .expect("list");
        assert_eq!(page.items.len(), 1, "{}", who.id);
        assert_eq!(
            page.items[0],
            w.ticket(&t.id).await.snapshot(),
            "{}",
            who.id
        );
    }
    // A tag taken off: gone from its listing, still under the other.
    w.update(&eng, &t.id, tags_patch(&["printer"]))
        .await
        .expect("untag");
    for who in [&w.admin, &cust] {
        assert!(w.list_all(who, by_tags(&["vip"]), 100).await.is_empty());
        assert_eq!(
            w.list_all(who, by_tags(&["printer"]), 100).await,
            std::slice::from_ref(&t.id)
        );
    }
    // A comment that changes nothing else and a no-op update leave it as it is.
    service::add_comment(
        &w.ctx,
        &cust,
        &tid(&t.id),
        crate::tickets::comments::public("hi"),
    )
    .await
    .expect("comment");
    let page = w
        .list(&w.admin, by_tags(&["printer"]), None, 100)
        .await
        .expect("list");
    assert_eq!(page.items[0], w.ticket(&t.id).await.snapshot());
    // A reassignment by the system (the engineer leaves) is a change like any other.
    w.engineer("eng2").await;
    w.set_type("eng", UserType::Customer, None).await;
    let publisher = crm_shared::queue::Publisher::Outbox;
    let work = Workload {
        store: w.store(),
        capacity: None,
        publisher: &publisher,
    };
    for e in w
        .store()
        .stale_jobs(Timestamp::now().plus_seconds(3600), 100)
        .await
        .expect("jobs")
    {
        run_job(&work, &e.job).await.expect("the departure");
    }
    let now = w.ticket(&t.id).await;
    assert_eq!(now.assignee.as_ref().map(|a| a.as_str()), Some("eng2"));
    let page = w
        .list(&w.admin, by_tags(&["printer"]), None, 100)
        .await
        .expect("list");
    assert_eq!(page.items, [now.snapshot()]);
}

async fn tag_listings_page_with_the_next_token(store: Store) {
    let w = Desk::new(store).await;
    let eng = w.engineer("eng").await;
    let mut want = Vec::new();
    // More tickets than shards, so the pages merge several shards.
    for i in 0..19 {
        let names: &[&str] = if i % 3 == 0 { &["other"] } else { &["bulk"] };
        let t = w.create_tagged(&eng, &format!("t{i}"), names).await;
        if i % 3 != 0 {
            want.push(t.id);
        }
    }
    for who in [&w.admin, &eng] {
        for limit in [1, 4, 100] {
            assert_eq!(
                w.list_all(who, by_tags(&["bulk"]), limit).await,
                want,
                "{} at {limit}",
                who.id
            );
        }
    }
    // A token is for its listing only.
    let page = w
        .list(&w.admin, by_tags(&["bulk"]), None, 2)
        .await
        .expect("page");
    let token = page.next.expect("more pages");
    assert_err(
        w.list(&w.admin, by_tags(&["other"]), Some(&token), 2).await,
        400,
        "INVALID_NEXT_TOKEN",
    );
    assert_err(
        w.list(&w.admin, TicketFilter::default(), Some(&token), 2)
            .await,
        400,
        "INVALID_NEXT_TOKEN",
    );
}
