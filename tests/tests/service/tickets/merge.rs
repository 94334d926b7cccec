//! Merge (SPEC §12) on both backends: one transaction closes and marks the source, writes
//! both system comments, carries the source's reporter and followers over to the target and
//! moves the counts; every refusal is a clear 4xx that changes nothing; a reply to a merged
//! ticket goes to the target and never reopens the source; a merge racing an update of
//! either ticket: one wins, the other retries or gets 409, and the counts stay exact.

use crate::tickets::comments::{comment, public, thread};
use crm_shared::model::{EventType, TicketStatus, UserStatus};
use crm_shared::service::{self, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, assignee_patch, status_patch, tid};
use std::sync::Arc;

crm_tests::on_both_backends!(
    a_merge_closes_and_marks_the_source_comments_both_and_carries_followers_in_one_write,
    every_refusal_of_a_merge_is_a_clear_4xx_that_changes_nothing,
    an_engineer_assigned_to_both_merges,
    a_reply_to_a_merged_ticket_goes_to_the_target_and_never_reopens_it,
    the_source_comments_stay_readable_where_they_were,
    the_largest_merge_fits_one_transaction,
    #[concurrent]
    a_merge_racing_updates_of_either_ticket_one_wins_and_counts_stay_exact,
);

async fn a_merge_closes_and_marks_the_source_comments_both_and_carries_followers_in_one_write(
    store: Store,
) {
    let (store, stats) = store.with_stats();
    let w = Desk::new(store).await;
    let dup = w.customer("dup").await;
    let orig = w.customer("orig").await;
    w.customer("colleague").await;
    w.customer("gone").await;
    w.engineer("eng1").await;
    w.engineer("eng2").await;
    let target = w.create(&orig, "Printer broken").await;
    let source = w.create(&dup, "Printer again").await;
    assert_eq!(
        (target.assignee.as_deref(), source.assignee.as_deref()),
        (Some("eng1"), Some("eng2"))
    );
    w.follow(&dup, &source.id, "colleague").await;
    w.follow(&dup, &source.id, "gone").await;
    // A follower no longer approved is not carried over.
    w.set_status("gone", UserStatus::Rejected).await;
    w.drop_all_events().await;
    stats.take();
    let m = w
        .merge(&w.admin, &source.id, &target.id)
        .await
        .expect("merge");
    let cost = stats.take();
    assert_eq!(cost.writes, 1, "one transaction: {cost:?}");
    // The source: CLOSED, marked, version + 1.
    assert_eq!(m.source.status, "CLOSED");
    assert_eq!(m.source.merged_into.as_deref(), Some(target.id.as_str()));
    assert_eq!(m.source.version, source.version + 3);
    // The target: its followers now include the source's reporter and approved followers.
    assert_eq!(m.target.followers, ["dup", "colleague"]);
    assert_eq!(m.target.status, "OPEN");
    assert_eq!(w.ticket(&source.id).await.snapshot(), m.source);
    assert_eq!(w.ticket(&target.id).await.snapshot(), m.target);
    // Counts: eng2's OPEN ticket closed; eng1 unchanged.
    assert_eq!((w.count("eng1").await, w.count("eng2").await), (1, 0));
    w.assert_invariant(&["eng1", "eng2"]).await;
    // Both system comments, public.
    let src_thread = thread(&w, &w.admin, &source.id, 100).await;
    assert_eq!(src_thread, [format!("Merged into {}", target.id)]);
    let tgt_thread = thread(&w, &orig, &target.id, 100).await;
    assert_eq!(
        tgt_thread,
        [format!(
            "Merged from {}: Printer again\n\nAbout Printer again",
            source.id
        )]
    );
    // The source's reporter now reads the target (as a follower).
    w.get(&dup, &target.id)
        .await
        .expect("the source's reporter follows the target");
    // History: the caller made both changes.
    let h = w.history(&w.admin, &source.id).await;
    let last = h.last().expect("history");
    assert_eq!(last.actor, "admin");
    let fields: Vec<&str> = last.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["status", "mergedInto"]);
    let h = w.history(&w.admin, &target.id).await;
    let fields: Vec<&str> = h
        .last()
        .expect("history")
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, ["followers"]);
    // Events: per ticket a comment.created and a ticket.updated, at the new versions.
    for (id, version) in [
        (&source.id, m.source.version),
        (&target.id, m.target.version),
    ] {
        let events = w.outbox_events_of(id).await;
        let types: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [EventType::CommentCreated, EventType::TicketUpdated],
            "{id}"
        );
        assert!(
            events
                .iter()
                .all(|e| e.data.ticket.as_ref().map(|t| t.version) == Some(version))
        );
        assert!(
            events
                .iter()
                .all(|e| e.data.actor.as_deref() == Some("admin"))
        );
    }
}

async fn every_refusal_of_a_merge_is_a_clear_4xx_that_changes_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng1 = w.engineer("eng1").await;
    w.engineer("eng2").await;
    let a = w.create(&cust, "A").await; // eng1
    let b = w.create(&other, "B").await; // eng2
    let c = w.create(&cust, "C").await; // eng1
    let d = w.create(&cust, "D").await; // eng2
    let ids = [a.id.clone(), b.id.clone(), c.id.clone(), d.id.clone()];
    let before = snapshot(&w, &ids).await;
    let events = w.outbox_len().await;
    // Into itself: 409.
    assert_err(
        w.merge(&w.admin, &a.id, &a.id).await,
        409,
        "MERGE_INTO_ITSELF",
    );
    // A customer, even the reporter of both: 403.
    assert_err(w.merge(&cust, &a.id, &c.id).await, 403, "FORBIDDEN");
    // An engineer assigned to the source only: the target is not theirs to see: 403.
    assert_err(w.merge(&eng1, &a.id, &b.id).await, 403, "FORBIDDEN");
    // ...nor the source: 403.
    assert_err(w.merge(&eng1, &b.id, &a.id).await, 403, "FORBIDDEN");
    // A target that does not exist: 404; a source that does not exist: 404.
    let missing = crm_shared::model::TicketId::new();
    assert_err(
        w.merge(&w.admin, &a.id, missing.as_str()).await,
        404,
        "TICKET_NOT_FOUND",
    );
    assert_err(
        w.merge(&w.admin, missing.as_str(), &a.id).await,
        404,
        "TICKET_NOT_FOUND",
    );
    assert_eq!(snapshot(&w, &ids).await, before, "nothing changed");
    assert_eq!(w.outbox_len().await, events, "no event");
    // A merge, then: from the merged ticket again, or into it: 409.
    w.merge(&w.admin, &c.id, &a.id).await.expect("merge");
    let merged = w.ticket(&c.id).await;
    let target = w.ticket(&a.id).await;
    assert_err(w.merge(&w.admin, &c.id, &b.id).await, 409, "TICKET_MERGED");
    assert_err(w.merge(&w.admin, &d.id, &c.id).await, 409, "TICKET_MERGED");
    // The merged ticket is not changed again (its status least of all).
    assert_err(
        w.update(&w.admin, &c.id, status_patch(TicketStatus::Open))
            .await,
        409,
        "TICKET_MERGED",
    );
    assert_eq!(w.ticket(&c.id).await, merged);
    assert_eq!(w.ticket(&a.id).await, target);
    // A target whose followers would pass 20: 409 FOLLOWER_LIMIT.
    for i in 0..20 {
        w.customer(&format!("f{i}")).await;
        w.follow(&w.admin, &b.id, &format!("f{i}")).await;
    }
    let full = w.ticket(&b.id).await;
    let d_before = w.ticket(&d.id).await;
    assert_err(w.merge(&w.admin, &d.id, &b.id).await, 409, "FOLLOWER_LIMIT");
    assert_eq!(
        (w.ticket(&b.id).await, w.ticket(&d.id).await),
        (full, d_before)
    );
    w.assert_invariant(&["eng1", "eng2"]).await;
}

async fn an_engineer_assigned_to_both_merges(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng1 = w.engineer("eng1").await;
    let a = w.create(&cust, "A").await;
    let b = w.create(&cust, "B").await;
    let m = w
        .merge(&eng1, &b.id, &a.id)
        .await
        .expect("merge by the assignee of both");
    assert_eq!(m.source.merged_into.as_deref(), Some(a.id.as_str()));
    // The reporter of both is the target's reporter: not made a follower.
    assert!(m.target.followers.is_empty());
    assert_eq!(w.count("eng1").await, 1);
    w.assert_invariant(&["eng1"]).await;
}

async fn a_reply_to_a_merged_ticket_goes_to_the_target_and_never_reopens_it(store: Store) {
    let w = Desk::new(store).await;
    let dup = w.customer("dup").await;
    let orig = w.customer("orig").await;
    let stranger_eng = w.engineer("eng1").await;
    w.engineer("eng2").await;
    let target = w.create(&orig, "Printer").await; // eng1
    let source = w.create(&dup, "Printer too").await; // eng2
    w.merge(&w.admin, &source.id, &target.id)
        .await
        .expect("merge");
    let merged = w.ticket(&source.id).await;
    // The source's reporter replies to the source: the reply is on the target.
    let c = comment(&w, &dup, &source.id, public("Still broken")).await;
    assert_eq!(c.ticket_id, target.id);
    assert_eq!(
        w.ticket(&source.id).await,
        merged,
        "the source is not reopened"
    );
    assert!(
        thread(&w, &orig, &target.id, 100)
            .await
            .contains(&"Still broken".to_owned())
    );
    // The target's reporter closes it; the source's reporter's reply to the source does
    // not reopen the target either (not its reporter), nor the source.
    w.update(&orig, &target.id, status_patch(TicketStatus::Closed))
        .await
        .expect("closing");
    comment(&w, &dup, &source.id, public("Hello?")).await;
    assert_eq!(w.ticket(&target.id).await.status, TicketStatus::Closed);
    assert_eq!(w.ticket(&source.id).await, merged);
    // The target's reporter's reply reopens the target, as any reply of theirs.
    comment(&w, &orig, &target.id, public("Again")).await;
    assert_eq!(w.ticket(&target.id).await.status, TicketStatus::Open);
    // Someone who could see the source but not the target (the source's assignee): 403,
    // and nothing written.
    let eng2 = w.as_user("eng2", crm_shared::model::UserType::Engineer);
    let n = thread(&w, &w.admin, &target.id, 100).await.len();
    assert_err(
        service::add_comment(&w.ctx, &eng2, &tid(&source.id), public("note")).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(thread(&w, &w.admin, &target.id, 100).await.len(), n);
    let _ = stranger_eng;
    w.assert_invariant(&["eng1", "eng2"]).await;
}

async fn the_source_comments_stay_readable_where_they_were(store: Store) {
    let w = Desk::new(store).await;
    let dup = w.customer("dup").await;
    let orig = w.customer("orig").await;
    w.engineer("eng1").await;
    let target = w.create(&orig, "Printer").await;
    let source = w.create(&dup, "Printer too").await;
    comment(&w, &dup, &source.id, public("First words")).await;
    w.merge(&w.admin, &source.id, &target.id)
        .await
        .expect("merge");
    let t = thread(&w, &dup, &source.id, 100).await;
    assert_eq!(
        t,
        [
            "First words".to_owned(),
            format!("Merged into {}", target.id)
        ]
    );
}

/// Merges and updates of the same tickets at once: each request answers 200 or 409 (never a
/// 5xx); each merge applies on fresh state (a source reopened or reassigned meanwhile is
/// closed with its current assignee's count moved); the counts stay exact.
async fn a_merge_racing_updates_of_either_ticket_one_wins_and_counts_stay_exact(store: Store) {
    let w = Arc::new(Desk::new(store).await);
    let cust = w.customer("cust").await;
    for e in ["eng1", "eng2", "eng3"] {
        w.engineer(e).await;
    }
    let mut merges = 0;
    for round in 0..4 {
        let target = w.create(&cust, &format!("target {round}")).await;
        let source = w.create(&cust, &format!("source {round}")).await;
        let mut jobs = Vec::new();
        {
            let w = w.clone();
            let (s, t) = (source.id.clone(), target.id.clone());
            jobs.push(tokio::spawn(async move {
                w.merge(&w.admin, &s, &t).await.map(|_| "merge")
            }));
        }
        for (k, id) in [&source.id, &target.id, &source.id, &target.id]
            .into_iter()
            .enumerate()
        {
            let w = w.clone();
            let id = id.clone();
            let patch = match (k + round) % 3 {
                0 => status_patch(TicketStatus::Blocked),
                1 => assignee_patch("eng3"),
                _ => TicketPatch {
                    priority: Some(crm_tests::desk::priority(1)),
                    ..Default::default()
                },
            };
            jobs.push(tokio::spawn(async move {
                w.update(&w.admin, &id, patch).await.map(|_| "update")
            }));
        }
        let mut merged = false;
        for j in jobs {
            match j.await.expect("task") {
                Ok("merge") => merged = true,
                Ok(_) => {}
                Err(e) if e.status() == 409 => {}
                Err(e) => panic!("a request failed with {e:?}"),
            }
        }
        let s = w.ticket(&source.id).await;
        if merged {
            merges += 1;
            assert_eq!(s.status, TicketStatus::Closed);
            assert_eq!(
                s.merged_into.as_ref().map(|m| m.as_str()),
                Some(target.id.as_str())
            );
        } else {
            assert_eq!(s.merged_into, None);
        }
        w.assert_invariant(&["eng1", "eng2", "eng3"]).await;
    }
    // A merge retries on fresh state: it loses a race, not the round.
    assert!(merges >= 1, "no merge won a round");
}

/// The largest merge (both tickets with 20 tags, the source with 19 followers besides its
/// reporter, so the target ends with 20 followers) is one transaction: 94 writes, within
/// DynamoDB's 100.
async fn the_largest_merge_fits_one_transaction(store: Store) {
    let (store, stats) = store.with_stats();
    let w = Desk::new(store).await;
    let dup = w.customer("dup").await;
    let orig = w.customer("orig").await;
    let eng = w.engineer("eng1").await;
    let tags: Vec<String> = (0..20).map(|i| format!("tag{i}")).collect();
    let names: Vec<&str> = tags.iter().map(String::as_str).collect();
    let target = w.create(&orig, "Printer").await;
    let source = w.create(&dup, "Printer too").await;
    for id in [&target.id, &source.id] {
        w.update(&eng, id, crm_tests::followers::tags_patch(&names))
            .await
            .expect("tags");
    }
    for i in 0..19 {
        w.customer(&format!("f{i}")).await;
        w.follow(&dup, &source.id, &format!("f{i}")).await;
    }
    stats.take();
    let m = w
        .merge(&w.admin, &source.id, &target.id)
        .await
        .expect("merge");
    let u = stats.take_usage();
    assert_eq!(m.target.followers.len(), 20);
    assert_eq!(u.cost.writes, 1);
    assert_eq!(u.items_written, 94, "{u:?}");
    w.assert_invariant(&["eng1"]).await;
}

async fn snapshot(w: &Desk, ids: &[String]) -> Vec<crm_shared::store::TicketRecord> {
    let mut out = Vec::new();
    for id in ids {
        out.push(w.ticket(id).await);
    }
    out
}
