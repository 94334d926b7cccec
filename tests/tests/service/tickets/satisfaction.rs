//! Satisfaction (SPEC §12) on both backends: only the reporter rates, only a CLOSED ticket,
//! again within 28 days of its closing (the rating replaced), never after; the rating is on
//! the ticket, in its history and a `satisfaction.rated` event; the report counts the
//! ratings given in its window, overall and per assignee, as the test counts them itself.

use crm_shared::model::{EventType, Rating, TicketStatus, Timestamp};
use crm_shared::service::{self, Score};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, status_patch, tid};
use crm_tests::satisfaction::rating;
use serde_json::json;
use std::collections::BTreeMap;

crm_tests::on_both_backends!(
    only_the_reporter_rates_a_closed_ticket,
    rating_again_replaces_it_up_to_28_days_after_closing,
    the_rating_is_shown_in_the_history_and_is_a_satisfaction_rated_event,
    the_report_counts_the_ratings_given_in_the_window_overall_and_per_assignee,
    only_an_approved_admin_reads_the_report,
);

const DAY_MS: i64 = 86_400_000;

async fn closed(w: &Desk, who: &crm_shared::service::Authed, title: &str) -> String {
    let t = w.create(who, title).await;
    w.update(&w.admin, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("closing");
    t.id
}

async fn only_the_reporter_rates_a_closed_ticket(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let colleague = w.customer("colleague").await;
    let stranger = w.customer("stranger").await;
    let t = w.create(&cust, "Printer").await;
    w.follow(&cust, &t.id, "colleague").await;
    // Not CLOSED: 409 TICKET_NOT_CLOSED, OPEN and BLOCKED alike.
    assert_err(
        w.rate(&cust, &t.id, Rating::Good).await,
        409,
        "TICKET_NOT_CLOSED",
    );
    w.update(&eng, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("blocking");
    assert_err(
        w.rate(&cust, &t.id, Rating::Good).await,
        409,
        "TICKET_NOT_CLOSED",
    );
    w.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("closing");
    let before = w.ticket(&t.id).await;
    // Anyone else: 403, whether concerned (assignee, admin, follower) or not.
    for who in [&eng, &w.admin, &colleague, &stranger] {
        assert_err(w.rate(who, &t.id, Rating::Bad).await, 403, "FORBIDDEN");
    }
    assert_eq!(w.ticket(&t.id).await, before, "a refusal changes nothing");
    let rated = w.rate(&cust, &t.id, Rating::Good).await.expect("rating");
    let s = rated.satisfaction.expect("shown on the ticket");
    assert_eq!(s.rating, Rating::Good);
    assert_eq!(rated.version, before.version + 1);
    // Shown to the ticket's concerned users as stored.
    assert_eq!(w.get(&eng, &t.id).await.expect("get").satisfaction, Some(s));
    // A closed ticket stays CLOSED; counts do not move.
    assert_eq!(rated.status, "CLOSED");
    w.assert_invariant(&["eng"]).await;
    // An unknown ticket: 404.
    assert_err(
        w.rate(
            &cust,
            crm_shared::model::TicketId::new().as_str(),
            Rating::Good,
        )
        .await,
        404,
        "TICKET_NOT_FOUND",
    );
}

async fn rating_again_replaces_it_up_to_28_days_after_closing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng").await;
    let id = closed(&w, &cust, "Printer").await;
    w.rate(&cust, &id, Rating::Bad).await.expect("rating");
    w.ctx.clock.advance(27 * DAY_MS);
    let again = service::rate_ticket(
        &w.ctx,
        &cust,
        &tid(&id),
        rating(Rating::Good, Some("Fixed after all")),
    )
    .await
    .expect("rating again");
    let s = again.satisfaction.expect("rated");
    assert_eq!(
        (s.rating, s.comment.as_ref().map(|c| c.as_str())),
        (Rating::Good, Some("Fixed after all"))
    );
    // The report has the one rating, the new one, in the new one's time.
    let now = w.ctx.clock.now();
    let r = w
        .report(
            &w.admin,
            Some(now.plus_seconds(-3600)),
            Some(now.plus_seconds(1)),
        )
        .await
        .expect("report");
    assert_eq!((r.overall.good, r.overall.bad), (1, 0));
    let r = w
        .report(
            &w.admin,
            Some(now.plus_seconds(-60 * 86_400)),
            Some(now.plus_seconds(-86_400)),
        )
        .await
        .expect("report");
    assert_eq!(
        (r.overall.good, r.overall.bad),
        (0, 0),
        "the replaced rating is gone"
    );
    // Past 28 days after closing: 409, nothing changes.
    w.ctx.clock.advance(DAY_MS + 60_000);
    let before = w.ticket(&id).await;
    assert_err(
        w.rate(&cust, &id, Rating::Bad).await,
        409,
        "RATING_WINDOW_CLOSED",
    );
    assert_eq!(w.ticket(&id).await, before);
    // Reopened by the reporter's reply and closed again: a new window.
    crm_shared::service::add_comment(
        &w.ctx,
        &cust,
        &tid(&id),
        crm_shared::service::NewComment {
            body: crm_shared::model::CommentBody::parse("Broken again").expect("body"),
            internal: false,
            attachments: Vec::new(),
        },
    )
    .await
    .expect("reply");
    assert_eq!(w.ticket(&id).await.status, TicketStatus::Open);
    assert_err(
        w.rate(&cust, &id, Rating::Bad).await,
        409,
        "TICKET_NOT_CLOSED",
    );
    w.update(&w.admin, &id, status_patch(TicketStatus::Closed))
        .await
        .expect("closing");
    w.rate(&cust, &id, Rating::Bad)
        .await
        .expect("rating in the new window");
}

async fn the_rating_is_shown_in_the_history_and_is_a_satisfaction_rated_event(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng").await;
    let id = closed(&w, &cust, "Printer").await;
    w.drop_all_events().await;
    let t = service::rate_ticket(&w.ctx, &cust, &tid(&id), rating(Rating::Bad, Some("Slow")))
        .await
        .expect("rating");
    let s = t.satisfaction.clone().expect("rated");
    let h = w.history(&cust, &id).await;
    let last = h.last().expect("history");
    assert_eq!(last.actor, "cust");
    assert_eq!(last.version, t.version);
    assert_eq!(last.changes.len(), 1, "{:?}", last.changes);
    assert_eq!(last.changes[0].field, "satisfaction");
    assert_eq!(last.changes[0].from, serde_json::Value::Null);
    assert_eq!(
        last.changes[0].to,
        json!({"rating": "bad", "comment": "Slow", "ratedAt": s.rated_at})
    );
    let events = w.outbox_events_of(&id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.event_type, EventType::SatisfactionRated);
    assert_eq!(e.data.actor.as_deref(), Some("cust"));
    assert_eq!(e.data.ticket.as_ref(), Some(&t));
    assert_eq!(e.data.satisfaction, Some(json!(s)));
}

/// 2 engineers, 12 tickets, ratings made at three times; the report over each window is
/// compared with the test's own count over the tickets rated in it.
async fn the_report_counts_the_ratings_given_in_the_window_overall_and_per_assignee(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng1").await;
    w.engineer("eng2").await;
    let mut given: Vec<(Timestamp, Option<String>, Rating)> = Vec::new();
    let mut n = 0;
    for hour in 0..3 {
        for k in 0..4 {
            let id = closed(&w, &cust, &format!("t{n}")).await;
            n += 1;
            if n == 5 {
                // One rated while unassigned.
                w.put_raw({
                    let mut t = w.ticket(&id).await;
                    t.assignee = None;
                    let mut item = serde_json::to_value(&t)
                        .expect("ticket")
                        .as_object()
                        .cloned()
                        .expect("object");
                    for (k, v) in [
                        ("pk", format!("TICKET#{id}")),
                        ("sk", "TICKET".into()),
                        ("gsi1pk", format!("REPORTER#{}", t.reporter)),
                        ("gsi1sk", id.clone()),
                        ("gsi2pk", "UNASSIGNED".into()),
                        ("gsi2sk", id.clone()),
                        ("gsi3pk", "STATUS#CLOSED".into()),
                        ("gsi3sk", id.clone()),
                    ] {
                        item.insert(k.into(), json!(v));
                    }
                    item
                })
                .await;
            }
            let r = if (k + hour) % 3 == 0 {
                Rating::Bad
            } else {
                Rating::Good
            };
            let t = w.rate(&cust, &id, r).await.expect("rating");
            let at =
                Timestamp::parse_rfc3339(&t.satisfaction.expect("rated").rated_at).expect("time");
            given.push((at, t.assignee, r));
        }
        w.ctx.clock.advance(3600 * 1000);
    }
    let count = |from: Timestamp, to: Timestamp| {
        let mut overall = (0, 0);
        let mut by: BTreeMap<Option<String>, (u64, u64)> = BTreeMap::new();
        for (at, a, r) in &given {
            if *at >= from && *at < to {
                let e = by.entry(a.clone()).or_default();
                match r {
                    Rating::Good => {
                        overall.0 += 1;
                        e.0 += 1
                    }
                    Rating::Bad => {
                        overall.1 += 1;
                        e.1 += 1
                    }
                }
            }
        }
        (overall, by)
    };
    let first = given[0].0;
    let windows = [
        (first, first.plus_seconds(3600)),
        (first.plus_seconds(1800), first.plus_seconds(3 * 3600)),
        (first.plus_seconds(-10), w.ctx.clock.now()),
        (first.plus_seconds(-3600), first),
    ];
    for (from, to) in windows {
        let r = w
            .report(&w.admin, Some(from), Some(to))
            .await
            .expect("report");
        let (overall, by) = count(from, to);
        let score = |g: u64, b: u64| (g + b > 0).then(|| g as f64 / (g + b) as f64);
        assert_eq!(
            r.overall,
            Score {
                good: overall.0,
                bad: overall.1,
                score: score(overall.0, overall.1)
            },
            "[{from:?}, {to:?})"
        );
        let got: BTreeMap<Option<String>, (u64, u64)> = r
            .assignees
            .iter()
            .map(|a| {
                assert_eq!(a.score.score, score(a.score.good, a.score.bad));
                (a.assignee.clone(), (a.score.good, a.score.bad))
            })
            .collect();
        assert_eq!(got, by, "[{from:?}, {to:?})");
    }
    // Over everything: 12 ratings, one of them unassigned (listed last).
    let all = w
        .report(&w.admin, Some(first.plus_seconds(-10)), None)
        .await
        .expect("report");
    assert_eq!(all.overall.good + all.overall.bad, 12);
    assert_eq!(all.assignees.last().map(|a| a.assignee.clone()), Some(None));
    // No ratings: score null.
    let none = w
        .report(
            &w.admin,
            Some(first.plus_seconds(-7200)),
            Some(first.plus_seconds(-3600)),
        )
        .await
        .expect("report");
    assert_eq!(none.overall, Score::default());
    assert!(none.assignees.is_empty());
    assert_eq!(
        serde_json::to_value(&none).expect("json")["score"],
        json!(null)
    );
    // from after to: 400.
    assert_err(
        w.report(&w.admin, Some(first), Some(first.plus_seconds(-1)))
            .await,
        400,
        "INVALID_QUERY",
    );
}

async fn only_an_approved_admin_reads_the_report(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let pending = w
        .admin_with_status("boss", crm_shared::model::UserStatus::Pending)
        .await;
    for who in [&cust, &eng] {
        assert_err(w.report(who, None, None).await, 403, "FORBIDDEN");
    }
    assert_err(
        w.report(&pending, None, None).await,
        403,
        "USER_NOT_APPROVED",
    );
    w.report(&w.admin, None, None)
        .await
        .expect("the admin reads it");
}
