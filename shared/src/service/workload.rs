//! Workload that manages itself (SPEC §3 "Workload"): the backlog is assigned when engineers
//! arrive or free up, and a departing engineer's OPEN tickets are handed on. Each ticket
//! change is its own transaction with its counts, a history entry by `system` and an event
//! (mailed as a reassignment), conditioned on the ticket's version and the assignee's bound,
//! so a job racing creations, updates and other jobs never breaks the counter invariant or
//! the capacity, and a job run twice finds nothing left to do.

use super::assign::refreshed_candidates;
use super::transition::{Lost, Transition, Tries, Writer};
use crate::assignment::{CANDIDATES, Mode, choose};
use crate::model::{Job, JobKind, TicketId, TicketStatus, Timestamp, UserId};
use crate::queue::{JobQueue, Publisher};
use crate::store::{
    Query, Range, SortKey, Store, StoreError, TicketRecord, UserRecord, assignee_source,
};
use serde::Serialize;

/// Tickets read per page of a partition.
const PAGE: usize = 25;

/// What a job runs with: the store, the capacity, and where the events it makes go.
pub struct Workload<'a> {
    pub store: &'a Store,
    pub capacity: Option<i64>,
    pub publisher: &'a Publisher,
}

/// The system's own changes make no jobs (they are the jobs' steps), so none is pushed.
static NO_JOBS: JobQueue = JobQueue::Table;

impl Workload<'_> {
    fn writer(&self) -> Writer<'_> {
        Writer {
            store: self.store,
            capacity: self.capacity,
            events: self.publisher,
            jobs: &NO_JOBS,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    /// Tickets given to an engineer.
    pub assigned: usize,
    /// A departed engineer's tickets left unassigned (nobody could take them).
    pub unassigned: usize,
    /// Tickets that changed under the job (another writer got there first).
    pub skipped: usize,
    /// The job had already run (its item was gone).
    pub already_done: bool,
}

/// Runs a job to its end and removes its item. Safe to run twice or beside itself: every
/// step is conditioned on the state it read.
pub async fn run_job(w: &Workload<'_>, job: &Job) -> Result<JobReport, StoreError> {
    if !w.store.job_pending(&job.job_id).await? {
        return Ok(JobReport {
            already_done: true,
            ..JobReport::default()
        });
    }
    let report = match &job.kind {
        JobKind::Backlog => drain_backlog(w).await?,
        JobKind::Departure { engineer } => match UserId::parse(engineer) {
            Ok(id) => hand_on(w, &id).await?,
            Err(_) => JobReport::default(),
        },
    };
    w.store.finish_job(&job.job_id).await?;
    tracing::info!(job_id = %job.job_id, kind = ?job.kind, ?report, "job done");
    Ok(report)
}

/// One page of a ticket partition (by assignee, or unassigned), oldest first, after `after`.
async fn page(
    store: &Store,
    assignee: Option<&UserId>,
    after: Option<&TicketId>,
) -> Result<(Vec<TicketRecord>, bool), StoreError> {
    let src = assignee_source(assignee);
    let p = store
        .query(&Query {
            index: src.index,
            pk: src.pk,
            range: after.map_or(Range::All, |a| Range::After(SortKey::S(a.to_string()))),
            limit: PAGE,
        })
        .await?;
    let tickets = p
        .items
        .into_iter()
        .map(crate::store::from_item)
        .collect::<Result<Vec<TicketRecord>, _>>()?;
    Ok((tickets, p.more))
}

/// Assigns the unassigned OPEN tickets oldest first, each to the least-loaded approved
/// engineer below capacity, until none is left or every engineer is full.
async fn drain_backlog(w: &Workload<'_>) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    let mut after: Option<TicketId> = None;
    loop {
        let (tickets, more) = page(w.store, None, after.as_ref()).await?;
        for t in &tickets {
            after = Some(t.ticket_id.clone());
            if t.status != TicketStatus::Open || t.assignee.is_some() {
                continue;
            }
            match reassign(w, t, None).await? {
                Step::Assigned => report.assigned += 1,
                Step::Changed => report.skipped += 1,
                // Every engineer is full (or there is none): the rest waits.
                Step::NobodyFree | Step::Unassigned => return Ok(report),
            }
        }
        if !more || tickets.is_empty() {
            return Ok(report);
        }
    }
}

/// Hands a departed engineer's OPEN tickets on, as new tickets would be assigned (or leaves
/// them unassigned). Nothing when the engineer is an approved ENGINEER again.
async fn hand_on(w: &Workload<'_>, engineer: &UserId) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    if w.store
        .get_user(engineer)
        .await?
        .is_some_and(|u| u.is_assignable())
    {
        return Ok(report);
    }
    let mut after: Option<TicketId> = None;
    loop {
        let (tickets, more) = page(w.store, Some(engineer), after.as_ref()).await?;
        for t in &tickets {
            after = Some(t.ticket_id.clone());
            if t.status != TicketStatus::Open || t.assignee.as_ref() != Some(engineer) {
                continue;
            }
            match reassign(w, t, Some(engineer)).await? {
                Step::Assigned => report.assigned += 1,
                Step::Unassigned => report.unassigned += 1,
                Step::Changed | Step::NobodyFree => report.skipped += 1,
            }
        }
        if !more || tickets.is_empty() {
            return Ok(report);
        }
    }
}

enum Step {
    Assigned,
    /// A departed engineer's ticket that nobody could take now went to the backlog.
    Unassigned,
    /// Nobody below capacity for a backlog ticket.
    NobodyFree,
    /// The ticket is no longer what the job came for.
    Changed,
}

/// Gives one OPEN ticket (unassigned, or `from` a departed engineer) to the engineer the
/// assignment rule picks, in one transition; re-reads and decides again on a conflict.
async fn reassign(
    w: &Workload<'_>,
    seen: &TicketRecord,
    from: Option<&UserId>,
) -> Result<Step, StoreError> {
    let system = UserId::system();
    let mut before = seen.clone();
    let mut candidates: Vec<UserRecord> = w.store.least_loaded_engineers(CANDIDATES).await?;
    let writer = w.writer();
    let mut tries = Tries::default();
    while let Some(lost) = tries.next().await {
        match lost {
            Some(Lost::Ticket) => match w.store.get_ticket(&seen.ticket_id).await? {
                Some(t) => before = t,
                None => return Ok(Step::Changed),
            },
            Some(Lost::Assignee) => {
                candidates = refreshed_candidates(w.store, candidates).await?;
            }
            Some(Lost::Extra) => return Ok(Step::Changed),
            None => {}
        }
        if before.status != TicketStatus::Open || before.assignee.as_ref() != from {
            return Ok(Step::Changed);
        }
        let pick = choose(&candidates, w.capacity, Mode::Least);
        if pick.is_none() && from.is_none() {
            return Ok(Step::NobodyFree);
        }
        let mut after = before.clone();
        after.assignee = pick.map(|p| p.engineer.user_id.clone());
        let t = Transition::update(system.clone(), before.clone(), after)
            .chosen_under(pick.map(|p| p.below));
        if let Some(c) = tries.commit(t, &writer).await? {
            c.publish(&writer).await;
            return Ok(if c.ticket.assignee.is_some() {
                Step::Assigned
            } else {
                Step::Unassigned
            });
        }
    }
    // Still contended after every attempt: the job's next run takes the ticket up again.
    Ok(Step::Changed)
}

/// The job a user change implies (SPEC §3): an engineer who becomes approved drains the
/// backlog; one who stops being an approved ENGINEER hands their OPEN tickets on.
pub fn job_for_user_change(before: &UserRecord, after: &UserRecord, now: Timestamp) -> Option<Job> {
    match (before.is_assignable(), after.is_assignable()) {
        (false, true) => Some(Job::new(JobKind::Backlog, now)),
        (true, false) => Some(Job::new(
            JobKind::Departure {
                engineer: after.user_id.as_str().to_owned(),
            },
            now,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn user_changes_make_the_job_the_spec_says() {
        use crate::model::{Email, Name, UserStatus::*, UserType::*};
        let mk = |t, s| {
            UserRecord::new(
                u("eng"),
                Name::parse("E").unwrap(),
                Email::parse("e@x.co").unwrap(),
                t,
                s,
                String::new(),
                Timestamp::from_millis(1),
            )
        };
        let now = Timestamp::from_millis(2);
        let kind = |b, a| job_for_user_change(&b, &a, now).map(|j| j.kind);
        let departure = Some(JobKind::Departure {
            engineer: "eng".into(),
        });
        assert_eq!(
            kind(mk(Engineer, Pending), mk(Engineer, Approved)),
            Some(JobKind::Backlog)
        );
        assert_eq!(
            kind(mk(Customer, Approved), mk(Engineer, Approved)),
            Some(JobKind::Backlog)
        );
        assert_eq!(
            kind(mk(Engineer, Approved), mk(Engineer, Rejected)),
            departure
        );
        assert_eq!(
            kind(mk(Engineer, Approved), mk(Engineer, Pending)),
            departure
        );
        assert_eq!(
            kind(mk(Engineer, Approved), mk(Customer, Approved)),
            departure
        );
        assert_eq!(kind(mk(Engineer, Approved), mk(Admin, Approved)), departure);
        assert_eq!(kind(mk(Engineer, Approved), mk(Engineer, Approved)), None);
        assert_eq!(kind(mk(Customer, Approved), mk(Admin, Approved)), None);
    }
}
