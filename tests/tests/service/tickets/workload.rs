//! Workload that manages itself (SPEC §3 "Workload", issue 17), on both backends: the
//! backlog is assigned when an engineer is approved (oldest first, spread by load) and as
//! tickets free room under the capacity; a departing engineer's OPEN tickets are handed on
//! (BLOCKED and CLOSED kept); each change is by `system`, counted and recorded; a job run
//! twice changes nothing the second time.

use crm_shared::model::{Job, JobKind, TicketStatus, Timestamp, UserStatus};
use crm_shared::service::workload::{JobReport, Workload, run_job};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, status_patch, tid};

crm_tests::on_both_backends!(
    the_backlog_is_drained_on_approval_oldest_first_spread_by_load,
    capacity_holds_from_the_backlog_and_the_backlog_drains_as_tickets_close,
    a_departing_engineers_open_tickets_are_handed_on_and_the_rest_kept,
    a_departure_with_nobody_to_take_over_leaves_tickets_unassigned,
    a_job_run_twice_changes_nothing_the_second_time,
    a_ticket_reopened_while_its_assignee_cannot_work_is_assigned_in_the_same_write,
);

/// Runs every job the table holds, as the queue's consumer would; returns their reports.
pub async fn run_pending(w: &Desk) -> Vec<JobReport> {
    let store = w.store();
    let publisher = crm_shared::queue::Publisher::Outbox;
    let work = Workload {
        store,
        capacity: w.ctx.engineer_capacity,
        publisher: &publisher,
    };
    let mut out = Vec::new();
    for e in store
        .stale_jobs(Timestamp::now().plus_seconds(1), 100)
        .await
        .expect("jobs")
    {
        out.push(run_job(&work, &e.job).await.expect("job runs"));
    }
    out
}

fn assignee(t: &crm_shared::model::TicketSnapshot) -> Option<&str> {
    t.assignee.as_deref()
}

async fn the_backlog_is_drained_on_approval_oldest_first_spread_by_load(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = w.create(&c, &format!("t{i}")).await;
        assert_eq!(assignee(&t), None, "no engineer yet");
        ids.push(t.id);
    }
    let before = w.outbox_len().await;
    w.engineer("eng-a").await;
    w.engineer("eng-b").await;
    // The approvals returned at once; the jobs run after them.
    assert!(w.all_tickets().await.iter().all(|t| t.assignee.is_none()));
    let reports = run_pending(&w).await;
    assert_eq!(reports.iter().map(|r| r.assigned).sum::<usize>(), 5);
    let got: Vec<Option<String>> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(w.ticket(id).await.assignee.map(|a| a.as_str().to_owned()));
        }
        v
    };
    let want = ["eng-a", "eng-b", "eng-a", "eng-b", "eng-a"].map(|s| Some(s.to_owned()));
    assert_eq!(got, want, "oldest first, each to the least loaded");
    for id in &ids {
        let h = w.history(&w.admin, id).await;
        let last = h.last().expect("history");
        assert_eq!(last.actor, "system");
        assert_eq!(last.changes[0].field, "assignee");
        assert_eq!(last.changes[0].from, serde_json::Value::Null);
    }
    assert_eq!(
        w.outbox_len().await,
        before + 5,
        "one event (mail) per assignment"
    );
    let counts = w
        .assert_invariant(&["admin", "cust", "eng-a", "eng-b"])
        .await;
    assert_eq!((counts["eng-a"], counts["eng-b"]), (3, 2));
}

async fn capacity_holds_from_the_backlog_and_the_backlog_drains_as_tickets_close(store: Store) {
    let mut w = Desk::new(store).await;
    w.ctx.engineer_capacity = Some(2);
    let c = w.customer("cust").await;
    w.engineer("eng").await;
    run_pending(&w).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(w.create(&c, &format!("t{i}")).await);
    }
    let assigned: Vec<Option<&str>> = ids.iter().map(assignee).collect();
    assert_eq!(assigned, [Some("eng"), Some("eng"), None, None, None]);
    // A job with everyone full assigns nothing.
    let idle = run_pending(&w).await;
    assert!(idle.iter().all(|r| r.assigned == 0));
    // Closing one frees a place: the oldest waiting ticket takes it, and only that one.
    w.update(&w.admin, &ids[0].id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let r = run_pending(&w).await;
    assert_eq!(r.iter().map(|r| r.assigned).sum::<usize>(), 1);
    assert_eq!(
        w.ticket(&ids[2].id)
            .await
            .assignee
            .as_ref()
            .map(|a| a.as_str()),
        Some("eng")
    );
    assert_eq!(w.ticket(&ids[3].id).await.assignee, None);
    let counts = w.assert_invariant(&["admin", "cust", "eng"]).await;
    assert_eq!(counts["eng"], 2, "never above the capacity");
    // Blocking another frees another place.
    w.update(&w.admin, &ids[1].id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    run_pending(&w).await;
    assert_eq!(
        w.ticket(&ids[3].id)
            .await
            .assignee
            .as_ref()
            .map(|a| a.as_str()),
        Some("eng")
    );
    assert_eq!(
        w.assert_invariant(&["admin", "cust", "eng"]).await["eng"],
        2
    );
}

async fn a_departing_engineers_open_tickets_are_handed_on_and_the_rest_kept(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng-a").await;
    w.engineer("eng-b").await;
    run_pending(&w).await;
    let mut t = Vec::new();
    for i in 0..4 {
        t.push(w.create(&c, &format!("t{i}")).await);
    }
    // eng-a: t0, t2; eng-b: t1, t3. Block t2 (eng-a keeps it).
    assert_eq!(assignee(&t[0]), Some("eng-a"));
    assert_eq!(assignee(&t[2]), Some("eng-a"));
    w.update(&w.admin, &t[2].id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    w.set_status("eng-a", UserStatus::Rejected).await;
    let r = run_pending(&w).await;
    assert_eq!(r.iter().map(|r| r.assigned).sum::<usize>(), 1, "{r:?}");
    assert_eq!(
        w.ticket(&t[0].id)
            .await
            .assignee
            .as_ref()
            .map(|a| a.as_str()),
        Some("eng-b")
    );
    assert_eq!(
        w.ticket(&t[2].id)
            .await
            .assignee
            .as_ref()
            .map(|a| a.as_str()),
        Some("eng-a"),
        "a BLOCKED ticket keeps its assignee"
    );
    let h = w.history(&w.admin, &t[0].id).await;
    let last = h.last().expect("history");
    assert_eq!(last.actor, "system");
    assert_eq!(last.changes[0].from, serde_json::json!("eng-a"));
    let counts = w
        .assert_invariant(&["admin", "cust", "eng-a", "eng-b"])
        .await;
    assert_eq!((counts["eng-a"], counts["eng-b"]), (0, 3));
}

async fn a_departure_with_nobody_to_take_over_leaves_tickets_unassigned(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng").await;
    run_pending(&w).await;
    let t = w.create(&c, "t").await;
    assert_eq!(assignee(&t), Some("eng"));
    w.set_status("eng", UserStatus::Pending).await;
    let r = run_pending(&w).await;
    assert_eq!(r.iter().map(|r| r.unassigned).sum::<usize>(), 1, "{r:?}");
    assert_eq!(w.ticket(&t.id).await.assignee, None);
    assert_eq!(
        w.assert_invariant(&["admin", "cust", "eng"]).await["eng"],
        0
    );
    // Approved again: the backlog (this ticket) comes back to them.
    w.set_status("eng", UserStatus::Approved).await;
    run_pending(&w).await;
    assert_eq!(
        w.ticket(&t.id).await.assignee.as_ref().map(|a| a.as_str()),
        Some("eng")
    );
    assert_eq!(
        w.assert_invariant(&["admin", "cust", "eng"]).await["eng"],
        1
    );
}

async fn a_job_run_twice_changes_nothing_the_second_time(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    for i in 0..3 {
        w.create(&c, &format!("t{i}")).await;
    }
    w.engineer("eng").await;
    let jobs = w
        .store()
        .stale_jobs(Timestamp::now().plus_seconds(1), 10)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 1);
    let publisher = crm_shared::queue::Publisher::Outbox;
    let work = Workload {
        store: w.store(),
        capacity: None,
        publisher: &publisher,
    };
    let first = run_job(&work, &jobs[0].job).await.expect("first run");
    assert_eq!(first.assigned, 3);
    let events = w.outbox_len().await;
    let again = run_job(&work, &jobs[0].job).await.expect("second run");
    assert!(again.already_done, "{again:?}");
    // Even a fresh job for the same work finds nothing left.
    let fresh = Job::new(JobKind::Backlog, Timestamp::now());
    w.store()
        .transact(vec![
            w.store()
                .job_write(&fresh, Timestamp::now())
                .expect("write"),
        ])
        .await
        .expect("record a job");
    let third = run_job(&work, &fresh).await.expect("a fresh run");
    assert_eq!((third.assigned, third.skipped), (0, 0));
    assert_eq!(w.outbox_len().await, events, "no event the second time");
    w.assert_invariant(&["admin", "cust", "eng"]).await;
}

/// SPEC §3 "Leaving": a BLOCKED or CLOSED ticket keeps a departed engineer as assignee; when
/// it becomes OPEN again (by an update or by the reporter's reply) it is auto-assigned in the
/// same write, like a new ticket.
async fn a_ticket_reopened_while_its_assignee_cannot_work_is_assigned_in_the_same_write(
    store: Store,
) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng-a").await;
    run_pending(&w).await;
    let blocked = w.create(&c, "blocked").await;
    let closed = w.create(&c, "closed").await;
    w.update(&w.admin, &blocked.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    w.update(&w.admin, &closed.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    w.set_status("eng-a", UserStatus::Rejected).await;
    w.engineer("eng-b").await;
    run_pending(&w).await;
    for t in [&blocked, &closed] {
        assert_eq!(
            w.ticket(&t.id).await.assignee.as_ref().map(|a| a.as_str()),
            Some("eng-a"),
            "kept while not OPEN"
        );
    }
    // Reopened by an update: eng-b takes it in that write.
    let t = w
        .update(&w.admin, &blocked.id, status_patch(TicketStatus::Open))
        .await
        .expect("reopen");
    assert_eq!(assignee(&t), Some("eng-b"));
    let h = w.history(&w.admin, &blocked.id).await;
    let fields: Vec<&str> = h
        .last()
        .expect("entry")
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, ["status", "assignee"], "one entry, one write");
    // Reopened by the reporter's reply.
    crm_shared::service::add_comment(
        &w.ctx,
        &c,
        &tid(&closed.id),
        crate::tickets::comments::public("Still broken."),
    )
    .await
    .expect("reply");
    let t = w.ticket(&closed.id).await;
    assert_eq!(t.status, TicketStatus::Open);
    assert_eq!(t.assignee.as_ref().map(|a| a.as_str()), Some("eng-b"));
    let counts = w
        .assert_invariant(&["admin", "cust", "eng-a", "eng-b"])
        .await;
    assert_eq!(counts["eng-b"], 2);
}
