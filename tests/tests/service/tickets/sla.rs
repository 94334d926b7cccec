//! Service levels (SPEC §10) on both backends: `PUT /sla` and `GET /sla` (who, what is
//! refused and that a refusal changes nothing), due times at creation (calendar time and
//! business hours with a holiday), the first response, BLOCKED and CLOSED stopping the
//! resolution clock and a reopening resuming it, a priority change recomputing from the
//! creation time under the ticket's own policy, breaches found by the sweep once per ticket
//! and target (one `sla.breached`, no version, two sweeps at once on two "processes", a crash
//! between finding and recording) and recorded by a late change, and the listing's
//! `slaBreached` and `sort=resolutionDueAt`.

use chrono::{Datelike, Duration as Days, Utc};
use crm_shared::model::{EventType, Priority, TicketStatus, Timestamp, UserType};
use crm_shared::service::breaches;
use crm_shared::service::{self, TicketFilter, TicketOrder, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, new_ticket, priority, status_patch, tid};
use serde_json::{Value, json};

use super::comments::{comment, note, public};

crm_tests::on_both_backends!(
    put_sla_is_for_approved_admins_and_get_sla_for_approved_staff,
    a_bad_policy_is_refused_with_400_and_changes_nothing,
    due_times_are_set_at_creation_under_the_policy_in_force,
    business_hours_count_only_business_minutes_and_skip_holidays,
    the_first_public_staff_comment_is_the_first_response,
    blocked_and_closed_pause_resolution_and_a_reopening_resumes_it,
    a_priority_change_recomputes_from_creation_under_the_tickets_policy,
    the_sweep_records_a_breach_once_with_one_event_and_no_version,
    two_sweeps_at_once_record_each_breach_once,
    a_crash_between_finding_and_recording_loses_no_breach,
    a_late_response_records_the_breach_with_the_change,
    listing_filters_by_breach_and_sorts_by_resolution_due_time,
);

const MINUTE: i64 = 60_000;

/// Priority 4 (a new ticket's default): 30 / 240 minutes; priority 1: 5 / 60; priority 2
/// has no target.
fn calendar_policy() -> Value {
    json!({"targets": {
        "1": {"firstResponseMinutes": 5, "resolutionMinutes": 60},
        "4": {"firstResponseMinutes": 30, "resolutionMinutes": 240}
    }})
}

async fn set(w: &Desk, body: Value) -> Value {
    service::put_sla(&w.ctx, &w.admin, &body)
        .await
        .unwrap_or_else(|e| panic!("PUT /sla {body}: {e:?}"))
}

fn at(ms: i64) -> Option<String> {
    Some(Timestamp::from_millis(ms).rfc3339())
}

/// The creation instant the ticket's clocks run from.
async fn started(w: &Desk, id: &str) -> i64 {
    w.ticket(id).await.sla.expect("under an SLA").started_at
}

async fn sweep(w: &Desk) -> breaches::BreachReport {
    breaches::sweep(&w.ctx.writer(), w.ctx.clock.now())
        .await
        .expect("the breach sweep")
}

async fn breached_events(w: &Desk, id: &str) -> Vec<(String, String)> {
    w.outbox_events_of(id)
        .await
        .into_iter()
        .filter(|e| e.event_type == EventType::SlaBreached)
        .map(|e| {
            (
                e.data.target.clone().expect("target"),
                e.data.due_at.clone().expect("dueAt"),
            )
        })
        .collect()
}

async fn put_sla_is_for_approved_admins_and_get_sla_for_approved_staff(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    assert_eq!(
        service::get_sla(&w.ctx, &eng).await.expect("GET /sla"),
        json!({"targets": {}}),
        "no policy yet"
    );
    let body = calendar_policy();
    assert_err(
        service::put_sla(&w.ctx, &eng, &body).await,
        403,
        "FORBIDDEN",
    );
    assert_err(
        service::put_sla(&w.ctx, &cust, &body).await,
        403,
        "FORBIDDEN",
    );
    // A customer whose token says ADMIN is still a customer.
    let lying = w.as_user("cust", UserType::Admin);
    assert_err(
        service::put_sla(&w.ctx, &lying, &body).await,
        403,
        "FORBIDDEN",
    );
    assert_err(service::get_sla(&w.ctx, &cust).await, 403, "FORBIDDEN");
    assert_err(service::get_sla(&w.ctx, &lying).await, 403, "FORBIDDEN");
    let set_to = set(&w, body).await;
    assert_eq!(set_to["targets"]["4"]["resolutionMinutes"], 240);
    assert_eq!(service::get_sla(&w.ctx, &eng).await.expect("GET"), set_to);
    assert_eq!(
        service::get_sla(&w.ctx, &w.admin).await.expect("GET"),
        set_to
    );
    // A pending admin may do neither.
    let pending = w
        .admin_with_status("admin2", crm_shared::model::UserStatus::Pending)
        .await;
    assert_err(
        service::put_sla(&w.ctx, &pending, &calendar_policy()).await,
        403,
        "USER_NOT_APPROVED",
    );
}

async fn a_bad_policy_is_refused_with_400_and_changes_nothing(store: Store) {
    let w = Desk::new(store).await;
    let good = set(&w, calendar_policy()).await;
    let today = Utc::now().date_naive();
    let far = (today + Days::days(400)).format("%Y-%m-%d").to_string();
    let soon = (today + Days::days(30)).format("%Y-%m-%d").to_string();
    let hours = |days: Value, tz: &str, holidays: Value| {
        json!({"targets": {"1": {"resolutionMinutes": 60}},
               "businessHours": {"timezone": tz, "days": days, "holidays": holidays}})
    };
    let mon = json!({"mon": ["09:00-17:00"]});
    for (body, field) in [
        // A calendar with no hours at all (a due time would never come).
        (hours(json!({}), "UTC", json!([])), "businessHours.days"),
        (
            hours(json!({"mon": [], "sun": []}), "UTC", json!([])),
            "businessHours.days",
        ),
        (
            hours(mon.clone(), "Mars/Olympus", json!([])),
            "businessHours.timezone",
        ),
        (hours(mon.clone(), "", json!([])), "businessHours.timezone"),
        (
            hours(
                json!({"mon": ["09:00-12:00", "11:00-17:00"]}),
                "UTC",
                json!([]),
            ),
            "businessHours.days.mon",
        ),
        (
            hours(json!({"tue": ["17:00-09:00"]}), "UTC", json!([])),
            "businessHours.days.tue",
        ),
        (
            hours(json!({"wed": ["9-17"]}), "UTC", json!([])),
            "businessHours.days.wed",
        ),
        (
            hours(json!({"mon": ["25:00-26:00"]}), "UTC", json!([])),
            "businessHours.days.mon",
        ),
        (
            hours(json!({"monday": ["09:00-17:00"]}), "UTC", json!([])),
            "businessHours.days",
        ),
        (
            hours(mon.clone(), "UTC", json!([far])),
            "businessHours.holidays",
        ),
        (
            hours(mon.clone(), "UTC", json!(["2026-02-30"])),
            "businessHours.holidays",
        ),
        (json!({}), "targets"),
        (
            json!({"targets": {"5": {"resolutionMinutes": 1}}}),
            "targets",
        ),
        (json!({"targets": {"1": {}}}), "targets.1"),
        (
            json!({"targets": {"1": {"resolutionMinutes": 0}}}),
            "targets.1.resolutionMinutes",
        ),
        (
            json!({"targets": {"1": {"firstResponseMinutes": "30"}}}),
            "targets.1.firstResponseMinutes",
        ),
    ] {
        let e = assert_err(
            service::put_sla(&w.ctx, &w.admin, &body).await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some(field), "{body}: {e:?}");
        assert_eq!(
            service::get_sla(&w.ctx, &w.admin).await.expect("GET"),
            good,
            "{body} changed the policy"
        );
    }
    // A holiday within the year ahead is taken.
    let ok = set(&w, hours(mon, "Europe/Berlin", json!([soon]))).await;
    assert_eq!(ok["businessHours"]["holidays"], json!([soon]));
}

async fn due_times_are_set_at_creation_under_the_policy_in_force(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let before = w.create(&cust, "Before any policy").await;
    assert_eq!(before.sla, None, "no policy, no sla");
    set(&w, calendar_policy()).await;
    let t = w.create(&cust, "Printer").await;
    let c = started(&w, &t.id).await;
    let sla = t.sla.clone().expect("priority 4 has a target");
    assert_eq!(sla.first_response_due_at, at(c + 30 * MINUTE));
    assert_eq!(sla.resolution_due_at, at(c + 240 * MINUTE));
    assert_eq!((&sla.first_responded_at, &sla.resolved_at), (&None, &None));
    assert!(sla.breaches.is_empty());
    let shown = serde_json::to_value(&t).expect("ticket json");
    assert_eq!(
        shown["sla"],
        json!({"firstResponseDueAt": at(c + 30 * MINUTE), "firstRespondedAt": null,
               "resolutionDueAt": at(c + 240 * MINUTE), "resolvedAt": null, "breaches": []})
    );
    let no_target = service::create_ticket(
        &w.ctx,
        &cust,
        crm_shared::service::NewTicket {
            priority: Some(priority(2)),
            ..new_ticket("No target")
        },
    )
    .await
    .expect("create");
    assert_eq!(
        no_target.sla, None,
        "a priority without a target has no SLA"
    );
    // A new policy applies to tickets created afterwards only.
    set(
        &w,
        json!({"targets": {"4": {"firstResponseMinutes": 10, "resolutionMinutes": 20}}}),
    )
    .await;
    assert_eq!(w.get(&cust, &t.id).await.expect("get").sla, Some(sla));
    assert_eq!(w.get(&cust, &before.id).await.expect("get").sla, None);
    let after = w.create(&cust, "After").await;
    let c2 = started(&w, &after.id).await;
    assert_eq!(
        after.sla.expect("sla").resolution_due_at,
        at(c2 + 20 * MINUTE)
    );
}

/// Midnight UTC `days` from today, and that day's `mon`..`sun` key.
fn day(days: i64) -> (i64, String, String) {
    let d = Utc::now().date_naive() + Days::days(days);
    let ms = d
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis();
    let key = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [d.weekday().num_days_from_monday() as usize];
    (ms, key.to_owned(), d.format("%Y-%m-%d").to_string())
}

async fn business_hours_count_only_business_minutes_and_skip_holidays(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    // Open one hour a week, 09:00–10:00 UTC on the weekday two days ahead: a 60-minute
    // target created now is due at 10:00 that day, whatever the time now.
    let (midnight, key, date) = day(2);
    let body = |holidays: Value| {
        json!({"targets": {"4": {"firstResponseMinutes": 30, "resolutionMinutes": 60}},
               "businessHours": {"timezone": "UTC", "days": {key.clone(): ["09:00-10:00"]},
                                 "holidays": holidays}})
    };
    set(&w, body(json!([]))).await;
    let t = w.create(&cust, "Business hours").await;
    let sla = t.sla.clone().expect("sla");
    assert_eq!(
        sla.first_response_due_at,
        at(midnight + 9 * 60 * MINUTE + 30 * MINUTE)
    );
    assert_eq!(sla.resolution_due_at, at(midnight + 10 * 60 * MINUTE));
    // That day a holiday: the next week's hour.
    set(&w, body(json!([date]))).await;
    let h = w.create(&cust, "Holiday").await;
    let week = 7 * 24 * 60 * MINUTE;
    assert_eq!(
        h.sla.expect("sla").resolution_due_at,
        at(midnight + week + 10 * 60 * MINUTE)
    );
    // Daylight saving: Berlin's 09:00–17:00 is 08:00–16:00 UTC in summer and 07:00–15:00 in
    // winter; the pure calendar's tables (shared/src/sla/calendar.rs) hold the worked nights.
}

async fn the_first_public_staff_comment_is_the_first_response(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    set(&w, calendar_policy()).await;
    let t = w.create(&cust, "Printer").await;
    let own = w.create(&eng, "Engineer's own").await;
    comment(&w, &cust, &t.id, public("Hello?")).await;
    comment(&w, &eng, &t.id, note("Looking.")).await;
    let read = w.get(&w.admin, &t.id).await.expect("get");
    assert_eq!(
        read.sla.expect("sla").first_responded_at,
        None,
        "neither the reporter's comment nor an internal note answers"
    );
    assert_eq!(read.version, t.version, "comments leave the version");
    let answer = comment(&w, &eng, &t.id, public("On it.")).await;
    let read = w.get(&w.admin, &t.id).await.expect("get");
    let first = read.sla.clone().expect("sla").first_responded_at;
    assert_eq!(first, Some(answer.created_at.clone()));
    assert_eq!(read.version, t.version, "a first response bumps no version");
    w.ctx.clock.advance(MINUTE);
    comment(&w, &w.admin, &t.id, public("Also on it.")).await;
    assert_eq!(
        w.get(&w.admin, &t.id)
            .await
            .expect("get")
            .sla
            .expect("sla")
            .first_responded_at,
        first,
        "only the first"
    );
    // Staff answering their own ticket is not a response.
    comment(&w, &eng, &own.id, public("Note to self.")).await;
    assert_eq!(
        w.get(&eng, &own.id)
            .await
            .expect("get")
            .sla
            .expect("sla")
            .first_responded_at,
        None
    );
    comment(&w, &w.admin, &own.id, public("Admin answers.")).await;
    assert!(
        w.get(&eng, &own.id)
            .await
            .expect("get")
            .sla
            .expect("sla")
            .first_responded_at
            .is_some()
    );
    let history = w.history(&w.admin, &t.id).await;
    assert_eq!(history.len(), 1, "SLA bookkeeping is no history entry");
}

async fn blocked_and_closed_pause_resolution_and_a_reopening_resumes_it(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    set(&w, calendar_policy()).await;
    let t = w.create(&cust, "Printer").await;
    let c = started(&w, &t.id).await;
    let due0 = c + 240 * MINUTE;
    w.ctx.clock.advance(5 * MINUTE);
    let b = w
        .update(&w.admin, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    let blocked_at = w
        .ticket(&t.id)
        .await
        .sla
        .expect("sla")
        .paused_since
        .expect("paused");
    assert_eq!(b.sla.clone().expect("sla").resolution_due_at, at(due0));
    w.ctx.clock.advance(10 * MINUTE);
    let o = w
        .update(&w.admin, &t.id, status_patch(TicketStatus::Open))
        .await
        .expect("unblock");
    let opened_at = w.ticket(&t.id).await.sla.expect("sla").paused_ms;
    assert!(
        opened_at >= 10 * MINUTE,
        "the pause is counted: {opened_at}"
    );
    let moved = due0 + opened_at;
    assert_eq!(o.sla.clone().expect("sla").resolution_due_at, at(moved));
    assert!(blocked_at > c);
    // CLOSED sets resolvedAt and stops the clock; the reporter's reply reopens it, which
    // clears resolvedAt and moves the due time by the time spent closed.
    w.ctx.clock.advance(MINUTE);
    let closed = w
        .update(&w.admin, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let s = closed.sla.expect("sla");
    assert!(s.resolved_at.is_some());
    assert!(s.breaches.is_empty(), "resolved in time");
    assert_eq!(
        w.ticket(&t.id)
            .await
            .sla
            .expect("sla")
            .next_check(TicketStatus::Closed),
        None,
        "a closed ticket in time waits for no sweep"
    );
    w.ctx.clock.advance(20 * MINUTE);
    comment(&w, &cust, &t.id, public("Still broken.")).await;
    let r = w.get(&cust, &t.id).await.expect("get");
    assert_eq!(r.status, "OPEN");
    let s = r.sla.expect("sla");
    assert_eq!(s.resolved_at, None, "a reopening clears resolvedAt");
    let paused = w.ticket(&t.id).await.sla.expect("sla").paused_ms;
    assert!(paused >= 30 * MINUTE, "blocked and closed time: {paused}");
    assert_eq!(s.resolution_due_at, at(due0 + paused));
}

async fn a_priority_change_recomputes_from_creation_under_the_tickets_policy(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    set(&w, calendar_policy()).await;
    let t = w.create(&cust, "Printer").await;
    let c = started(&w, &t.id).await;
    // A later policy does not apply to this ticket.
    set(
        &w,
        json!({"targets": {"1": {"firstResponseMinutes": 1, "resolutionMinutes": 2}}}),
    )
    .await;
    w.ctx.clock.advance(2 * MINUTE);
    let up = w
        .update(
            &w.admin,
            &t.id,
            TicketPatch {
                priority: Some(Priority::from_int(1).expect("1")),
                ..TicketPatch::default()
            },
        )
        .await
        .expect("priority 1");
    let s = up
        .sla
        .expect("priority 1 has a target in the ticket's policy");
    assert_eq!(s.first_response_due_at, at(c + 5 * MINUTE));
    assert_eq!(s.resolution_due_at, at(c + 60 * MINUTE));
    assert_eq!(up.version, t.version + 1);
    // To a priority without a target: no sla shown, nothing for the sweep.
    let none = w
        .update(
            &w.admin,
            &t.id,
            TicketPatch {
                priority: Some(priority(2)),
                ..TicketPatch::default()
            },
        )
        .await
        .expect("priority 2");
    assert_eq!(none.sla, None);
    let rec = w.ticket(&t.id).await;
    assert_eq!(rec.sla.expect("kept").next_check(TicketStatus::Open), None);
}

async fn the_sweep_records_a_breach_once_with_one_event_and_no_version(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    set(
        &w,
        json!({"targets": {"4": {"firstResponseMinutes": 1, "resolutionMinutes": 3}}}),
    )
    .await;
    let t = w.create(&cust, "Printer").await;
    let other = w.create(&cust, "Not yet due").await;
    let c = started(&w, &t.id).await;
    w.drop_all_events().await;
    assert_eq!(sweep(&w).await.recorded, 0, "nothing due yet");
    w.ctx.clock.advance(MINUTE + 1000);
    let r = sweep(&w).await;
    assert_eq!(r.recorded, 2, "the first responses of both: {r:?}");
    let got = w.get(&w.admin, &t.id).await.expect("get");
    assert_eq!(got.sla.clone().expect("sla").breaches, ["firstResponse"]);
    assert_eq!(got.version, t.version, "a breach bumps no version");
    assert_eq!(got.updated_at, t.updated_at);
    assert_eq!(
        breached_events(&w, &t.id).await,
        [("firstResponse".to_owned(), at(c + MINUTE).expect("at"))]
    );
    assert!(
        w.outbox_events_of(&t.id)
            .await
            .iter()
            .all(|e| e.event_type == EventType::SlaBreached),
        "no ticket.updated"
    );
    assert_eq!(w.history(&w.admin, &t.id).await.len(), 1);
    // Again: nothing more.
    assert_eq!(sweep(&w).await.recorded, 0);
    assert_eq!(breached_events(&w, &t.id).await.len(), 1);
    // The resolution later; a late first response now records nothing more for it.
    w.ctx.clock.advance(2 * MINUTE);
    assert_eq!(sweep(&w).await.recorded, 2);
    let got = w.get(&w.admin, &t.id).await.expect("get");
    assert_eq!(
        got.sla.expect("sla").breaches,
        ["firstResponse", "resolution"]
    );
    assert_eq!(breached_events(&w, &t.id).await.len(), 2);
    assert_eq!(breached_events(&w, &other.id).await.len(), 2);
    comment(&w, &w.admin, &t.id, public("Sorry, late.")).await;
    assert_eq!(breached_events(&w, &t.id).await.len(), 2);
    assert_eq!(sweep(&w).await.due, 0, "nothing left to check");
}

async fn two_sweeps_at_once_record_each_breach_once(store: Store) {
    let w = Desk::new(store.clone()).await;
    let cust = w.customer("cust").await;
    set(&w, json!({"targets": {"4": {"firstResponseMinutes": 1}}})).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(w.create(&cust, &format!("T{i}")).await.id);
    }
    w.drop_all_events().await;
    // Two processes: their own contexts on the same table, the same instant.
    let (a, b) = (Desk::attach(store.clone()), Desk::attach(store));
    let now = Timestamp::from_millis(w.ctx.clock.now().millis() + 2 * MINUTE);
    let (wa, wb) = (a.ctx.writer(), b.ctx.writer());
    let (ra, rb) = tokio::join!(breaches::sweep(&wa, now), breaches::sweep(&wb, now));
    let (ra, rb) = (ra.expect("sweep a"), rb.expect("sweep b"));
    assert_eq!(ra.recorded + rb.recorded, ids.len(), "{ra:?} {rb:?}");
    for id in &ids {
        assert_eq!(breached_events(&w, id).await.len(), 1, "ticket {id}");
        assert_eq!(
            w.ticket(id).await.sla.expect("sla").breaches,
            [crm_shared::sla::Metric::FirstResponse]
        );
    }
}

async fn a_crash_between_finding_and_recording_loses_no_breach(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    set(&w, json!({"targets": {"4": {"firstResponseMinutes": 1}}})).await;
    let t = w.create(&cust, "Printer").await;
    w.drop_all_events().await;
    w.ctx.clock.advance(2 * MINUTE);
    // A sweep finds the ticket and stops there (its process dies).
    let found = breaches::find(&w.ctx.writer(), w.ctx.clock.now())
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    drop(found);
    assert!(w.ticket(&t.id).await.sla.expect("sla").breaches.is_empty());
    // The next run finds it again and records it.
    assert_eq!(sweep(&w).await.recorded, 1);
    assert_eq!(breached_events(&w, &t.id).await.len(), 1);
}

async fn a_late_response_records_the_breach_with_the_change(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    set(&w, calendar_policy()).await;
    let t = w.create(&cust, "Printer").await;
    let c = started(&w, &t.id).await;
    w.drop_all_events().await;
    w.ctx.clock.advance(31 * MINUTE);
    // No sweep ran: the late response records the breach itself, once.
    comment(&w, &eng, &t.id, public("Late.")).await;
    let got = w.get(&w.admin, &t.id).await.expect("get");
    assert_eq!(got.sla.expect("sla").breaches, ["firstResponse"]);
    assert_eq!(
        breached_events(&w, &t.id).await,
        [("firstResponse".to_owned(), at(c + 30 * MINUTE).expect("at"))]
    );
    assert_eq!(sweep(&w).await.recorded, 0, "already recorded");
    // A resolution after its due time too.
    w.ctx.clock.advance(240 * MINUTE);
    w.update(&w.admin, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let got = w.get(&w.admin, &t.id).await.expect("get");
    assert_eq!(
        got.sla.expect("sla").breaches,
        ["firstResponse", "resolution"]
    );
    assert_eq!(breached_events(&w, &t.id).await.len(), 2);
    assert_eq!(sweep(&w).await.recorded, 0);
}

async fn listing_filters_by_breach_and_sorts_by_resolution_due_time(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let other = w.customer("other").await;
    let plain = w.create(&cust, "Before the policy").await;
    set(&w, calendar_policy()).await;
    let slow = w.create(&cust, "Priority 4").await;
    let urgent = service::create_ticket(
        &w.ctx,
        &cust,
        crm_shared::service::NewTicket {
            priority: Some(priority(1)),
            ..new_ticket("Priority 1")
        },
    )
    .await
    .expect("create")
    .id;
    let theirs = w.create(&other, "Someone else's").await;
    w.ctx.clock.advance(6 * MINUTE);
    sweep(&w).await;
    let breached = |b: bool| TicketFilter {
        sla_breached: Some(b),
        ..TicketFilter::default()
    };
    assert_eq!(
        w.list_all(&w.admin, breached(true), 10).await,
        vec![urgent.clone()]
    );
    assert_eq!(
        w.list_all(&w.admin, breached(false), 10).await,
        [slow.id.clone(), theirs.id.clone()]
    );
    assert_eq!(
        w.list_all(&cust, breached(false), 10).await,
        vec![slow.id.clone()]
    );
    let by_due = TicketFilter {
        sort: TicketOrder::ResolutionDueAt,
        ..TicketFilter::default()
    };
    for limit in [1, 2, 10] {
        assert_eq!(
            w.list_all(&w.admin, by_due.clone(), limit).await,
            [
                urgent.clone(),
                slow.id.clone(),
                theirs.id.clone(),
                plain.id.clone()
            ],
            "soonest first, no due time last (limit {limit})"
        );
        assert_eq!(
            w.list_all(&cust, by_due.clone(), limit).await,
            [urgent.clone(), slow.id.clone(), plain.id.clone()],
            "the caller's own tickets only (limit {limit})"
        );
    }
    assert_eq!(
        w.list_all(
            &w.admin,
            TicketFilter {
                sla_breached: Some(true),
                ..by_due.clone()
            },
            1
        )
        .await,
        vec![urgent.clone()]
    );
    assert_eq!(tid(&urgent).as_str(), urgent);
}
