//! Service levels (SPEC §10) in a ticket's life: the one derivation every ticket transition
//! applies (due times at creation, stops while BLOCKED or CLOSED, the first response, a
//! priority change, and the breaches late at the change, recorded with it), and the policy
//! endpoints `PUT /sla` and `GET /sla`.

use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::{TicketStatus, Timestamp, UserType};
use crate::policy;
use crate::sla::{DueTimes, Metric, SlaPolicy, TicketSla};
use crate::store::{SlaPolicyRecord, SlaWriteError, TicketRecord};
use serde_json::Value;

/// A breach a change records: the target and the due time that passed.
pub type Breach = (Metric, Timestamp);

/// What a change does to the ticket's SLA: `after.sla` is brought up to date (clock, due
/// times, breaches) and the breaches it newly records are returned, each once. `responded`:
/// the change is a public comment by staff other than the reporter (`policy::first_response`).
///
/// The rules (shared/src/sla/clock.rs):
/// - at creation the due times come from the policy copy, the ticket's priority and its
///   creation time;
/// - a status change folds the stop into the clock (BLOCKED and CLOSED stop the resolution
///   clock; CLOSED sets `resolvedAt`, leaving it clears it) and the due times are computed
///   again, and so are they after a priority change (from the creation time, the new
///   priority's target of the ticket's own policy);
/// - what is late at the change's instant in the state before it or after it is recorded,
///   unless recorded already: a response or resolution after its due time, a breach the sweep
///   has not yet found, a shorter target after a priority change.
pub fn derive(
    before: Option<&TicketRecord>,
    after: &mut TicketRecord,
    responded: bool,
    at: Timestamp,
) -> Vec<Breach> {
    let Some(mut s) = after.sla.clone() else {
        return Vec::new();
    };
    let mut late: Vec<Breach> = Vec::new();
    if let Some((b, bs)) = before.and_then(|b| b.sla.as_ref().map(|s| (b, s))) {
        let due = bs.due();
        for m in bs.clock().late(&due, b.status, at) {
            late.extend(due.get(m).map(|d| (m, d)));
        }
    }
    let status_from = before.map(|b| b.status).filter(|f| *f != after.status);
    let reprioritised = before.is_some_and(|b| b.ticket_priority != after.ticket_priority);
    let mut clock = s.clock();
    let mut due = s.due();
    if before.is_none() || status_from.is_some() || reprioritised {
        match s.policy() {
            Some(policy) => {
                if let Some(from) = status_from {
                    clock = clock.on_status(policy.calendar(), from, after.status, at);
                }
                due = clock
                    .due(&policy, after.ticket_priority, s.started())
                    .unwrap_or_default();
            }
            None => {
                tracing::error!(ticket_id = %after.ticket_id, "the ticket's SLA policy copy does not read; its clocks keep their due times");
            }
        }
    }
    if responded {
        clock = clock.on_first_response(at);
    }
    s.set_clock(clock);
    s.set_due(due);
    for m in clock.late(&due, after.status, at) {
        if !late.iter().any(|(l, _)| *l == m) {
            late.extend(due.get(m).map(|d| (m, d)));
        }
    }
    let mut recorded = Vec::new();
    for m in Metric::ALL {
        if s.breaches.contains(&m) {
            continue;
        }
        if let Some((_, d)) = late.iter().find(|(l, _)| *l == m) {
            s.breaches.push(m);
            recorded.push((m, *d));
        }
    }
    after.sla = Some(s);
    recorded
}

/// The SLA a new ticket starts with under the policy in force (None: no policy, or one with
/// no target at all).
pub fn start(current: Option<&SlaPolicyRecord>, at: Timestamp) -> Option<TicketSla> {
    let rec = current?;
    let policy = SlaPolicy::restore(&rec.policy).ok()?;
    let any = [1, 2, 3, 4]
        .into_iter()
        .filter_map(|p| crate::model::Priority::from_int(p).ok())
        .any(|p| policy.target(p).is_some());
    any.then(|| TicketSla::start(rec.version, &policy, at))
}

/// Whether a ticket in `status` with these due times shows a running clock (for tests and
/// listings).
pub fn is_open(status: TicketStatus) -> bool {
    status == TicketStatus::Open
}

/// Due times as shown, for callers that only have the record.
pub fn due_of(t: &TicketRecord) -> DueTimes {
    t.sla.as_ref().map(TicketSla::due).unwrap_or_default()
}

/// `PUT /sla`: an approved ADMIN sets the policy; it applies to tickets created from now on.
/// The body is checked whole before anything is written (400 naming the field).
pub async fn put_sla(ctx: &Ctx, who: &Authed, body: &Value) -> Result<Value, ApiError> {
    let (caller, mut current) =
        tokio::try_join!(ctx.store.get_user(&who.id), ctx.store.current_sla_policy())?;
    let caller = who.active(caller)?;
    policy::set_sla(&caller.caller())?;
    let now = ctx.clock.now();
    let parsed = SlaPolicy::parse(body, now)?;
    let json = parsed.to_json();
    for attempt in 0..crate::retry::ATTEMPTS {
        if attempt > 0 {
            crate::retry::pause(attempt - 1).await;
            current = ctx.store.current_sla_policy().await?;
        }
        let next = SlaPolicyRecord {
            version: current.as_ref().map_or(1, |c| c.version + 1),
            policy: json.clone(),
            set_by: caller.user_id.clone(),
            set_at: now.rfc3339(),
        };
        match ctx.store.put_sla_policy(&next).await {
            Ok(()) => return Ok(json),
            Err(SlaWriteError::Changed) => continue,
            Err(SlaWriteError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::unavailable("the SLA policy kept changing").with_retry_after(1))
}

/// `GET /sla`: the policy in force, for approved staff (`{"targets": {}}` before any).
pub async fn get_sla(ctx: &Ctx, who: &Authed) -> Result<Value, ApiError> {
    let hinted = who
        .claims
        .user_type
        .is_some_and(|t| t != UserType::Customer);
    let (caller, current) = tokio::try_join!(ctx.store.get_user(&who.id), async {
        if hinted {
            ctx.store.current_sla_policy().await
        } else {
            Ok(None)
        }
    })?;
    let caller = who.active(caller)?;
    policy::read_sla(&caller.caller())?;
    let current = match (hinted, current) {
        (true, c) => c,
        (false, _) => ctx.store.current_sla_policy().await?,
    };
    Ok(current.map_or_else(|| SlaPolicy::none().to_json(), |c| c.policy))
}
