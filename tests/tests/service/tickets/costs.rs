//! Request counts per operation (round trips to the store, and how many had to wait for
//! another), measured with the store's stats on tokio's current_thread runtime: reads that
//! do not depend on each other go out together, and each change is one write.

use crm_shared::model::{TicketSnapshot, TicketStatus};
use crm_shared::service::{self, Authed, TicketFilter};
use crm_shared::store::{Cost, Stats, Store};
use crm_tests::desk::{Desk, assignee_patch, new_ticket, status_patch, tid};
use crm_tests::followers::{tags, tags_patch};
use std::sync::Arc;

crm_tests::on_both_backends!(
    cost_of_get_ticket,
    cost_of_create,
    cost_of_status_update,
    cost_of_reassign,
    cost_of_customer_listing,
    cost_of_engineer_listing,
    cost_of_admin_listing,
    cost_of_history_page,
    cost_of_comment,
    cost_of_attachment_grant_and_comment_with_attachments,
    cost_of_reopening_comment,
    cost_of_comments_page,
    cost_of_create_with_tags,
    cost_of_tag_listing,
    cost_of_following_listing,
    cost_of_adding_and_removing_a_follower,
    cost_of_create_with_twenty_webhook_subscriptions,
    cost_of_the_breach_sweep_is_flat_in_the_tickets_not_coming_due,
    cost_of_the_satisfaction_report_is_flat_in_the_ratings_outside_the_window,
);

fn cost(gets: usize, queries: usize, writes: usize, depth: usize) -> Cost {
    Cost {
        gets,
        queries,
        writes,
        depth,
    }
}

struct Fixture {
    w: Desk,
    stats: Arc<Stats>,
    cust: Authed,
    eng: Authed,
    ticket: TicketSnapshot,
}

/// A counted store with a customer, two engineers and one ticket (assigned to eng1).
async fn fixture(store: Store) -> Fixture {
    let (store, stats) = store.with_stats();
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    w.engineer("eng2").await;
    let ticket = w.create(&cust, "t").await;
    assert_eq!(ticket.assignee.as_deref(), Some("eng1"));
    stats.take();
    Fixture {
        w,
        stats,
        cust,
        eng,
        ticket,
    }
}

impl Fixture {
    #[track_caller]
    fn assert_cost(&self, what: &str, want: Cost) {
        let got = self.stats.take();
        assert_eq!(
            got,
            want,
            "{what} on {}: got {got:?}",
            self.w.store().backend_name()
        );
    }
}

async fn cost_of_get_ticket(store: Store) {
    let f = fixture(store).await;
    for who in [&f.cust, &f.eng, &f.w.admin] {
        f.stats.take();
        f.w.get(who, &f.ticket.id).await.expect("get");
        f.assert_cost(&format!("GET ticket as {}", who.id), cost(2, 0, 0, 1));
    }
}

async fn cost_of_create(store: Store) {
    let f = fixture(store).await;
    f.stats.take();
    let t = service::create_ticket(&f.w.ctx, &f.cust, new_ticket("another"))
        .await
        .expect("create");
    assert_eq!(t.assignee.as_deref(), Some("eng2"));
    // The caller and the SLA policy in force (two gets), the least-loaded engineers (one
    // query), all at once; then the one transaction.
    f.assert_cost("create", cost(2, 1, 1, 2));
    // With no approved engineer: the same reads, nobody assigned.
    for e in ["eng1", "eng2"] {
        f.w.set_status(e, crm_shared::model::UserStatus::Rejected)
            .await;
    }
    f.stats.take();
    let t = service::create_ticket(&f.w.ctx, &f.cust, new_ticket("unassigned"))
        .await
        .expect("create");
    assert_eq!(t.assignee, None);
    f.assert_cost("create unassigned", cost(2, 1, 1, 2));
}

async fn cost_of_status_update(store: Store) {
    let f = fixture(store).await;
    f.stats.take();
    f.w.update(&f.eng, &f.ticket.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    f.assert_cost("status update", cost(2, 0, 1, 2));
}

async fn cost_of_reassign(store: Store) {
    let f = fixture(store).await;
    f.stats.take();
    f.w.update(&f.w.admin, &f.ticket.id, assignee_patch("eng2"))
        .await
        .expect("reassign");
    f.assert_cost("reassign", cost(3, 0, 1, 2));
}

async fn cost_of_customer_listing(store: Store) {
    let f = fixture(store).await;
    f.w.create(&f.cust, "mine too").await;
    // The table grows with other people's tickets; the customer's listing does not read them.
    let other = f.w.customer("other").await;
    for i in 0..120 {
        f.w.create(&other, &format!("other {i}")).await;
    }
    let title = TicketFilter {
        title: Some("MINE".into()),
        ..Default::default()
    };
    for filter in [TicketFilter::default(), title] {
        f.stats.take();
        let page =
            f.w.list(&f.cust, filter.clone(), None, 100)
                .await
                .expect("list");
        let want = if filter.title.is_some() { 1 } else { 2 };
        assert_eq!(page.items.len(), want);
        // The caller beside the reporter partition and the followed tickets' (SPEC §11).
        f.assert_cost(&format!("customer listing {filter:?}"), cost(1, 2, 0, 1));
    }
}

async fn cost_of_engineer_listing(store: Store) {
    let f = fixture(store).await;
    f.w.create(&f.eng, "reported by eng1").await;
    f.stats.take();
    let page =
        f.w.list(&f.eng, TicketFilter::default(), None, 100)
            .await
            .expect("list");
    assert_eq!(page.items.len(), 2);
    f.assert_cost("engineer listing", cost(1, 3, 0, 1));
}

async fn cost_of_admin_listing(store: Store) {
    let f = fixture(store).await;
    f.stats.take();
    let page =
        f.w.list(&f.w.admin, TicketFilter::default(), None, 100)
            .await
            .expect("list");
    assert_eq!(page.items.len(), 1);
    f.assert_cost("admin listing", cost(1, 3, 0, 1));
}

async fn cost_of_history_page(store: Store) {
    let f = fixture(store).await;
    f.w.update(&f.eng, &f.ticket.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    for who in [&f.cust, &f.eng, &f.w.admin] {
        f.stats.take();
        let page = service::ticket_history(&f.w.ctx, who, &tid(&f.ticket.id), None, 100)
            .await
            .expect("history");
        assert_eq!(page.items.len(), 2);
        f.assert_cost(&format!("history as {}", who.id), cost(2, 1, 0, 1));
    }
}

async fn cost_of_comment(store: Store) {
    use crate::tickets::comments::{note, public};
    let f = fixture(store).await;
    for (who, c) in [
        (&f.cust, public("c")),
        (&f.eng, note("n")),
        (&f.w.admin, public("a")),
    ] {
        f.stats.take();
        service::add_comment(&f.w.ctx, who, &tid(&f.ticket.id), c)
            .await
            .expect("comment");
        // Caller and ticket together, then one transaction (check, comment, outbox).
        f.assert_cost(&format!("comment as {}", who.id), cost(2, 0, 1, 2));
    }
}

/// SPEC §13: a grant is the comment's reads and one write; a comment linking three uploads
/// reads their items beside the caller and the ticket (the HEADs of the files run in the same
/// join) and links them in its one transaction: the comment's depth.
async fn cost_of_attachment_grant_and_comment_with_attachments(store: Store) {
    use crate::tickets::comments::public;
    use crm_shared::attachments::local::PendingFile;
    use crm_shared::attachments::{AttachmentId, ContentType, FileName};
    let mut f = fixture(store).await;
    let dir = crm_tests::server::temp_dir("crm-cost-files");
    f.w.ctx.files = Some(crm_tests::attach::local_files(
        crm_tests::desk::SECRET,
        dir.clone(),
        "http://127.0.0.1:9",
    ));
    let id = tid(&f.ticket.id);
    let mut ids = Vec::new();
    for n in 0..3 {
        f.stats.take();
        let g = service::grant_upload(
            &f.w.ctx,
            &f.cust,
            &id,
            service::NewAttachment {
                file_name: FileName::parse(&format!("f{n}.txt")).expect("name"),
                content_type: ContentType::parse("text/plain").expect("type"),
                size: 2,
            },
        )
        .await
        .expect("grant");
        // Caller and ticket together, then the pending item.
        f.assert_cost("attachment grant", cost(2, 0, 1, 2));
        let a = AttachmentId::parse(&g.attachment_id).expect("id");
        let mut file = PendingFile::create(&dir, &id, &a).expect("file");
        file.write(b"hi").expect("write");
        file.commit().expect("commit");
        ids.push(a);
    }
    f.stats.take();
    let c = service::add_comment(
        &f.w.ctx,
        &f.cust,
        &id,
        service::NewComment {
            attachments: ids,
            ..public("three files")
        },
    )
    .await
    .expect("comment");
    assert_eq!(c.attachments.len(), 3);
    // Caller, ticket and the three items at once; then one transaction.
    f.assert_cost("comment with 3 attachments", cost(5, 0, 1, 2));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn cost_of_reopening_comment(store: Store) {
    let f = fixture(store).await;
    f.w.update(&f.eng, &f.ticket.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    f.stats.take();
    service::add_comment(
        &f.w.ctx,
        &f.cust,
        &tid(&f.ticket.id),
        crate::tickets::comments::public("reopen"),
    )
    .await
    .expect("comment");
    // Caller and ticket together; then, as it reopens, its assignee beside the load index
    // (SPEC §3 "Leaving": an assignee who cannot work on it is replaced in the same write);
    // then one transaction (ticket, count, history, comment, outbox).
    f.assert_cost("reopening comment", cost(3, 1, 1, 3));
    assert_eq!(f.w.ticket(&f.ticket.id).await.status, TicketStatus::Open);
}

async fn cost_of_comments_page(store: Store) {
    use crate::tickets::comments::{note, public};
    let f = fixture(store).await;
    for i in 0..5 {
        service::add_comment(
            &f.w.ctx,
            &f.cust,
            &tid(&f.ticket.id),
            public(&format!("c{i}")),
        )
        .await
        .expect("comment");
        service::add_comment(&f.w.ctx, &f.eng, &tid(&f.ticket.id), note(&format!("n{i}")))
            .await
            .expect("note");
    }
    for (who, want) in [(&f.cust, 5), (&f.eng, 10), (&f.w.admin, 10)] {
        f.stats.take();
        let page = service::list_comments(&f.w.ctx, who, &tid(&f.ticket.id), None, 100)
            .await
            .expect("comments");
        assert_eq!(page.items.len(), want);
        // Caller, ticket and the first page together: one round.
        f.assert_cost(&format!("comments as {}", who.id), cost(2, 1, 0, 1));
    }
    // A later page too (it reads past the comments into the ticket's other items, still
    // in the one query).
    let first = service::list_comments(&f.w.ctx, &f.eng, &tid(&f.ticket.id), None, 4)
        .await
        .expect("page");
    f.stats.take();
    let page = service::list_comments(
        &f.w.ctx,
        &f.eng,
        &tid(&f.ticket.id),
        first.next.as_deref(),
        100,
    )
    .await
    .expect("page 2");
    assert_eq!(page.items.len(), 6);
    assert!(page.next.is_none());
    f.assert_cost("a later comments page", cost(2, 1, 0, 1));
}

async fn cost_of_create_with_tags(store: Store) {
    let f = fixture(store).await;
    f.stats.take();
    let t =
        f.w.create_tagged(&f.eng, "tagged", &["vip", "printer"])
            .await;
    assert_eq!(t.tags, ["printer", "vip"]);
    // As any creation: the caller and the SLA policy in force beside the load index, then
    // one transaction (which now also holds the two copies under the tags).
    f.assert_cost("create with tags", cost(2, 1, 1, 2));
}

async fn cost_of_tag_listing(store: Store) {
    let f = fixture(store).await;
    f.w.update(&f.eng, &f.ticket.id, tags_patch(&["vip"]))
        .await
        .expect("tag");
    let vip = TicketFilter {
        tags: vec![tags(&["vip"]).iter().next().expect("a tag").clone()],
        ..Default::default()
    };
    // An admin's listing by tag: the caller beside one query per shard of the tag.
    f.stats.take();
    let page =
        f.w.list(&f.w.admin, vip.clone(), None, 100)
            .await
            .expect("list");
    assert_eq!(page.items.len(), 1);
    f.assert_cost(
        "admin listing by tag",
        cost(1, usize::from(crm_shared::store::keys::TAG_SHARDS), 0, 1),
    );
    // A customer's: their own partitions, the tag a filter.
    let page = f.w.list(&f.cust, vip, None, 100).await.expect("list");
    assert_eq!(page.items.len(), 1);
    f.assert_cost("customer listing by tag", cost(1, 2, 0, 1));
}

async fn cost_of_following_listing(store: Store) {
    let f = fixture(store).await;
    let other = f.w.customer("other").await;
    f.w.follow(&f.cust, &f.ticket.id, "other").await;
    let following = TicketFilter {
        following: true,
        ..Default::default()
    };
    f.stats.take();
    let page = f.w.list(&other, following, None, 100).await.expect("list");
    assert_eq!(page.items.len(), 1);
    f.assert_cost("following=true", cost(1, 1, 0, 1));
    let page =
        f.w.list(&other, TicketFilter::default(), None, 100)
            .await
            .expect("list");
    assert_eq!(page.items.len(), 1);
    f.assert_cost("a follower's listing", cost(1, 2, 0, 1));
}

async fn cost_of_adding_and_removing_a_follower(store: Store) {
    let f = fixture(store).await;
    f.w.customer("colleague").await;
    f.stats.take();
    f.w.follow(&f.cust, &f.ticket.id, "colleague").await;
    // The caller, the ticket and the new follower at once, then one transaction (ticket,
    // its copy under the follower, history, event, the check that the follower is still
    // approved).
    f.assert_cost("add a follower", cost(3, 0, 1, 2));
    f.w.remove_follower(&f.cust, &f.ticket.id, "colleague")
        .await
        .expect("remove");
    f.assert_cost("remove a follower", cost(2, 0, 1, 2));
}

/// SPEC §7: twenty subscriptions (one to a receiver that never answers) change nothing on a
/// creation's path: it reads no subscription and sends to no receiver (the notifier's fan-out
/// does, after the commit).
async fn cost_of_create_with_twenty_webhook_subscriptions(store: Store) {
    let mut f = fixture(store).await;
    let hanging =
        crm_tests::receiver::Receiver::start(vec![crm_tests::receiver::Reply::Hang]).await;
    f.w.ctx.webhook_addresses = crm_shared::webhooks::address::AddressPolicy {
        allow_http: true,
        allow_private: true,
    };
    for i in 0..20 {
        let url = if i == 0 {
            hanging.url("/hang")
        } else {
            format!("http://127.0.0.1:9/{i}")
        };
        let new = crm_shared::service::webhooks::NewWebhook {
            url: crm_shared::service::webhooks::parse_url(&f.w.ctx, &url).expect("url"),
            events: vec!["*".into()],
            description: None,
        };
        crm_shared::service::webhooks::create_webhook(&f.w.ctx, &f.w.admin, new)
            .await
            .expect("subscription");
    }
    assert_eq!(f.w.store().all_subscriptions().await.unwrap().len(), 20);
    f.stats.take();
    service::create_ticket(&f.w.ctx, &f.cust, new_ticket("with webhooks"))
        .await
        .expect("create");
    // As any creation (the caller and the SLA policy beside the load index, one
    // transaction): no subscription is read on the request path.
    f.assert_cost("create with 20 subscriptions", cost(2, 1, 1, 2));
    assert_eq!(
        hanging.connections(),
        0,
        "no receiver is contacted on the request path"
    );
}

/// The breach sweep (SPEC §10) reads the due index's 8 shards at once: with nothing due it
/// costs 8 queries that return nothing, whether 10 or many tickets under a target are open;
/// with k tickets due, k items more, then a transaction each.
async fn cost_of_the_breach_sweep_is_flat_in_the_tickets_not_coming_due(store: Store) {
    let f = fixture(store).await;
    service::put_sla(
        &f.w.ctx,
        &f.w.admin,
        &serde_json::json!({"targets": {"4": {"firstResponseMinutes": 60, "resolutionMinutes": 600},
                                        "1": {"firstResponseMinutes": 1}}}),
    )
    .await
    .expect("PUT /sla");
    let many: usize = std::env::var("CRM_SLA_SWEEP_TICKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150);
    let sweep = || async {
        crm_shared::service::breaches::sweep(&f.w.ctx.writer(), f.w.ctx.clock.now())
            .await
            .expect("sweep")
    };
    let mut open = 0;
    for n in [10, many] {
        while open < n {
            f.w.create(&f.cust, &format!("open {open}")).await;
            open += 1;
        }
        f.stats.take();
        let started = std::time::Instant::now();
        let r = sweep().await;
        let took = started.elapsed();
        let u = f.stats.take_usage();
        assert_eq!(r.due, 0);
        assert_eq!(u.cost, cost(0, 8, 0, 1), "{n} open tickets not due");
        assert_eq!(u.items_read, 0, "{n} open tickets not due");
        eprintln!(
            "breach sweep, {n} open tickets under a target, none due, {}: {:?} {} items read, {took:?}",
            f.w.store().backend_name(),
            u.cost,
            u.items_read
        );
    }
    // Three coming due (priority 1, a one-minute first response).
    for i in 0..3 {
        service::create_ticket(
            &f.w.ctx,
            &f.cust,
            crm_shared::service::NewTicket {
                priority: Some(crm_tests::desk::priority(1)),
                ..new_ticket(&format!("due {i}"))
            },
        )
        .await
        .expect("create");
    }
    f.w.ctx.clock.advance(2 * 60_000);
    f.stats.take();
    let r = sweep().await;
    let u = f.stats.take_usage();
    assert_eq!((r.due, r.recorded), (3, 3));
    assert_eq!(u.cost, cost(0, 8, 3, 2), "3 due of {}", many + 3);
    assert_eq!(u.items_read, 3);
}

/// The satisfaction report (SPEC §12) reads the caller beside the rating index's window:
/// with 3 ratings in the window it costs one get and one query returning 3 items, whether
/// 100 or 10,000 ratings (`CRM_RATINGS_OUTSIDE`) lie outside the window, before and after.
/// A rating itself is one transaction (the ticket, its history, the event, the index entry).
async fn cost_of_the_satisfaction_report_is_flat_in_the_ratings_outside_the_window(store: Store) {
    use crm_shared::model::{Rating, TicketId};
    use crm_shared::store::{Cond, RATINGS, Write};
    let f = fixture(store).await;
    let many: usize = std::env::var("CRM_RATINGS_OUTSIDE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let mut in_window = Vec::new();
    for i in 0..3 {
        let t = f.w.create(&f.cust, &format!("rated {i}")).await;
        f.w.update(&f.w.admin, &t.id, status_patch(TicketStatus::Closed))
            .await
            .expect("closing");
        f.stats.take();
        f.w.rate(&f.cust, &t.id, Rating::Good)
            .await
            .expect("rating");
        // The caller and the ticket, then one transaction: 1 ticket, 1 history entry, the
        // event (outbox and feed items), the index entry.
        let u = f.stats.take_usage();
        assert_eq!(u.cost, cost(2, 0, 1, 2), "a rating");
        assert_eq!(u.items_written, 5, "a rating");
        in_window.push(t.id);
    }
    let now = f.w.ctx.clock.now();
    let (from, to) = (now.plus_seconds(-3600), now.plus_seconds(1));
    // Index entries outside the window, as ratings write them: a day before and a day
    // after, half each.
    let outside = |k: usize| {
        let at = if k.is_multiple_of(2) {
            from.plus_seconds(-86_400 - k as i64)
        } else {
            to.plus_seconds(86_400 + k as i64)
        };
        let id = TicketId::new();
        let mut item = serde_json::Map::new();
        for (name, v) in [
            ("pk", serde_json::json!(RATINGS)),
            ("sk", serde_json::json!(format!("{}#{id}", at.sort_key()))),
            ("ticketId", serde_json::json!(id)),
            ("rating", serde_json::json!("bad")),
            ("assignee", serde_json::json!("eng2")),
            ("ratedAt", serde_json::json!(at.rfc3339())),
        ] {
            item.insert(name.into(), v);
        }
        Write::Put {
            item,
            cond: Cond::Always,
        }
    };
    let mut written = 0;
    for n in [100, many] {
        while written < n {
            let batch: Vec<Write> = (written..n.min(written + 100)).map(outside).collect();
            written += batch.len();
            f.w.store().transact(batch).await.expect("staging ratings");
        }
        f.stats.take();
        let started = std::time::Instant::now();
        let r =
            f.w.report(&f.w.admin, Some(from), Some(to))
                .await
                .expect("report");
        let took = started.elapsed();
        let u = f.stats.take_usage();
        assert_eq!((r.overall.good, r.overall.bad), (3, 0), "{n} outside");
        assert_eq!(u.cost, cost(1, 1, 0, 1), "{n} ratings outside the window");
        // The caller and the 3 ratings in the window.
        assert_eq!(u.items_read, 4, "{n} ratings outside the window");
        eprintln!(
            "satisfaction report, 3 ratings in the window, {n} outside, {}: {:?} {} items read, {took:?}",
            f.w.store().backend_name(),
            u.cost,
            u.items_read
        );
    }
}
