//! Tickets (SPEC §3): creation with load-based auto-assignment, scoped reads and listings,
//! updates that keep the engineer counters exact, and each ticket's history. Every change
//! is one transaction (ticket, counts, history, outbox), retried on a concurrent change.

use super::{Authed, Ctx, denied};
use crate::ApiError;
use crate::assignment::{CANDIDATES, Mode, choose, choose_avoiding};
use crate::counters::count_deltas;
use crate::error::ErrorCode;
use crate::model::{
    Change, Description, EVENT_SCHEMA_VERSION, EventType, Priority, TicketEvent, TicketId,
    TicketSnapshot, TicketStatus, Timestamp, Title, UserId, UserType, new_ulid,
};
use crate::model::{IdempotencyKey, Job, JobKind};
use crate::policy::{self, Caller};
use crate::retry;
use crate::store::{
    HistoryEntry, IdempotencyRecord, Listing, Source, TicketChange, TicketRecord, TicketWriteError,
    UserRecord, assignee_source, reporter_source, status_source,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Attempts of a ticket write before giving up (409 for an update, 503 for a create).
/// The longest a creation waits for its turn to choose an engineer: one store operation's
/// budget (shared/src/cloud.rs), so a turn held by a creation stuck on the store delays the
/// next by at most that, while normal turns (a read and a write) never come near it.
const TURN_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub title: Title,
    pub description: Description,
    pub priority: Option<Priority>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub status: Option<TicketStatus>,
    pub assignee: Option<UserId>,
}

/// Listing filters. `assignee: Some(None)` means unassigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub reporter: Option<UserId>,
    pub assignee: Option<Option<UserId>>,
    pub priority: Option<Priority>,
    pub title: Option<String>,
    pub description: Option<String>,
}

impl TicketFilter {
    fn is_empty(&self) -> bool {
        *self == TicketFilter::default()
    }

    fn matches(&self, t: &TicketRecord) -> bool {
        let contains = |hay: &str, needle: &Option<String>| {
            needle
                .as_ref()
                .is_none_or(|n| hay.to_lowercase().contains(&n.to_lowercase()))
        };
        self.status.is_none_or(|s| t.status == s)
            && self.reporter.as_ref().is_none_or(|r| &t.reporter == r)
            && self.assignee.as_ref().is_none_or(|a| &t.assignee == a)
            && self.priority.is_none_or(|p| t.ticket_priority == p)
            && contains(t.title.as_str(), &self.title)
            && contains(t.description.as_str(), &self.description)
    }

    /// A stable description, so a nextToken is only valid for the listing it came from.
    fn scope(&self, caller: &UserId) -> String {
        format!(
            "tickets|{caller}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.status, self.reporter, self.assignee, self.priority, self.title, self.description
        )
    }
}

/// The index partitions that hold every ticket this caller may see that could match, and
/// the filters the partitions do not already imply. None: nothing can match.
pub fn plan(caller: &Caller, f: &TicketFilter) -> Option<(Vec<Source>, TicketFilter)> {
    let me = &caller.id;
    let mut rest = f.clone();
    let sources = match caller.user_type {
        UserType::Customer => {
            if f.reporter.as_ref().is_some_and(|r| r != me) {
                return None;
            }
            rest.reporter = None;
            vec![reporter_source(me)]
        }
        UserType::Engineer => {
            let by_me = f.reporter.as_ref().map(|r| r == me);
            let to_me = f.assignee.as_ref().map(|a| a.as_ref() == Some(me));
            match (by_me, to_me) {
                (Some(false), Some(false)) => return None,
                (Some(true), _) => {
                    rest.reporter = None;
                    vec![reporter_source(me)]
                }
                (_, Some(true)) => {
                    rest.assignee = None;
                    vec![assignee_source(Some(me))]
                }
                (Some(false), None) => vec![assignee_source(Some(me))],
                (None, Some(false)) => vec![reporter_source(me)],
                (None, None) => vec![reporter_source(me), assignee_source(Some(me))],
            }
        }
        UserType::Admin => {
            if let Some(r) = &f.reporter {
                rest.reporter = None;
                vec![reporter_source(r)]
            } else if let Some(a) = &f.assignee {
                rest.assignee = None;
                vec![assignee_source(a.as_ref())]
            } else if let Some(s) = f.status {
                rest.status = None;
                vec![status_source(s)]
            } else {
                TicketStatus::ALL
                    .iter()
                    .map(|s| status_source(*s))
                    .collect()
            }
        }
    };
    Some((sources, rest))
}

pub(crate) fn event(
    event_type: EventType,
    actor: &UserId,
    ticket: &TicketRecord,
    changes: Vec<Change>,
    previous_assignee: Option<&UserId>,
    now: Timestamp,
) -> TicketEvent {
    TicketEvent {
        schema_version: EVENT_SCHEMA_VERSION,
        event_id: new_ulid().to_string(),
        event_type,
        occurred_at: now.rfc3339(),
        actor: actor.as_str().to_owned(),
        ticket: ticket.snapshot(),
        changes,
        previous_assignee: previous_assignee.map(|u| u.as_str().to_owned()),
        comment: None,
    }
}

pub(crate) fn change(field: &str, from: Value, to: Value) -> Change {
    Change {
        field: field.to_owned(),
        from,
        to,
    }
}

pub(crate) fn opt_user(u: Option<&UserId>) -> Value {
    u.map(|u| json!(u.as_str())).unwrap_or(Value::Null)
}

/// POST /tickets: the caller reports; the least-loaded approved engineer is assigned (or
/// nobody), by the rule in shared/src/assignment.rs. The caller check runs beside the read
/// of the load index; then one transaction. A write whose assignment bound no longer holds
/// re-reads the few candidates consistently (the index may lag) and chooses again.
pub async fn create_ticket(
    ctx: &Ctx,
    who: &Authed,
    new: NewTicket,
) -> Result<TicketSnapshot, ApiError> {
    create_ticket_once(ctx, who, new, None)
        .await
        .map(Created::into_inner)
}

/// POST /tickets with an optional `Idempotency-Key` (SPEC §3): the key's record is one more
/// item of the creation's transaction, so a retry of a creation that committed (answered or
/// not) replays the original answer; the same key with another body is `422`. The record is
/// read beside the caller and the load index, so a creation without a replay keeps its
/// depth, and a replay writes nothing and records no event.
pub async fn create_ticket_once(
    ctx: &Ctx,
    who: &Authed,
    new: NewTicket,
    key: Option<&IdempotencyKey>,
) -> Result<Created<TicketSnapshot>, ApiError> {
    let fingerprint = fingerprint(&json!({
        "title": new.title.as_str(),
        "description": new.description.as_str(),
        "ticketPriority": new.priority.unwrap_or(Priority::LOW).get(),
    }));
    let seen = || recorded(ctx, who, key);
    // Within one process, creations take turns choosing an engineer, so they do not all
    // pick the same one; across processes the bound keeps the spread. The wait for a turn
    // is bounded: behind a stuck store a creation goes ahead on its own (the condition still
    // keeps it correct) rather than queueing without limit.
    let (caller, (turn, mut candidates), record) = tokio::try_join!(
        ctx.store.get_user(&who.id),
        async {
            let turn = tokio::time::timeout(TURN_WAIT, ctx.assign_gate.lock())
                .await
                .ok();
            let candidates = ctx.store.least_loaded_engineers(CANDIDATES).await?;
            Ok::<_, crate::store::StoreError>((turn, candidates))
        },
        seen()
    )?;
    let caller = who.active(caller)?;
    if let Some(r) = record {
        return replay(r, &fingerprint);
    }
    // Engineers this creation's earlier tries lost on: passed over while another has room.
    let mut lost_on: Vec<UserId> = Vec::new();
    for attempt in retry::attempts() {
        let now = Timestamp::now();
        let mode = ctx.contention.mode(now.millis(), rand::random());
        let pick = choose_avoiding(&candidates, ctx.engineer_capacity, mode, &lost_on);
        let ticket = TicketRecord {
            ticket_id: TicketId::new(),
            title: new.title.clone(),
            description: new.description.clone(),
            ticket_priority: new.priority.unwrap_or(Priority::LOW),
            status: TicketStatus::Open,
            reporter: caller.user_id.clone(),
            assignee: pick.map(|p| p.engineer.user_id.clone()),
            created_at: now.rfc3339(),
            updated_at: now.rfc3339(),
            version: 1,
        };
        let mut changes = vec![
            change("title", Value::Null, json!(ticket.title.as_str())),
            change(
                "description",
                Value::Null,
                json!(ticket.description.as_str()),
            ),
            change(
                "ticketPriority",
                Value::Null,
                json!(ticket.ticket_priority.get()),
            ),
            change("status", Value::Null, json!(ticket.status.as_str())),
            change("reporter", Value::Null, json!(ticket.reporter.as_str())),
        ];
        if let Some(a) = &ticket.assignee {
            changes.push(change("assignee", Value::Null, json!(a.as_str())));
        }
        let history = HistoryEntry {
            version: 1,
            actor: caller.user_id.clone(),
            at: now.rfc3339(),
            changes: changes.clone(),
        };
        let ev = event(
            EventType::TicketCreated,
            &caller.user_id,
            &ticket,
            changes,
            None,
            now,
        );
        let deltas = count_deltas(None, (ticket.status, ticket.assignee.as_ref()));
        let check = pick.map(|p| (&p.engineer.user_id, Some(p.below)));
        let extra = match key {
            Some(k) => vec![
                ctx.store.idempotency_write(
                    &caller.user_id,
                    k,
                    &IdempotencyRecord {
                        fingerprint: fingerprint.clone(),
                        location: ticket_location(&ticket.ticket_id),
                        data: serde_json::to_value(ticket.snapshot())
                            .map_err(|e| ApiError::internal(e.to_string()))?,
                        expires_at: IdempotencyRecord::expiry(now, ctx.idempotency_ttl_seconds),
                    },
                    now,
                )?,
            ],
            None => vec![],
        };
        match ctx
            .store
            .commit_ticket(TicketChange {
                before: None,
                after: &ticket,
                deltas: &deltas,
                assignee_check: check,
                history: &history,
                event: &ev,
                extra,
            })
            .await
        {
            Ok(()) => {
                // The next creation may choose now; the push must not hold it up.
                drop(turn);
                ctx.publisher.publish(&ev).await;
                return Ok(Created::New(ticket.snapshot()));
            }
            // The key was taken meanwhile (a concurrent request with it): its answer.
            Err(TicketWriteError::ExtraRefused(_)) => {
                if let Some(r) = seen().await? {
                    return replay(r, &fingerprint);
                }
                retry::pause(attempt).await;
            }
            Err(e @ (TicketWriteError::AssigneeChanged | TicketWriteError::TicketChanged)) => {
                if e == TicketWriteError::AssigneeChanged {
                    ctx.contention.noticed(now.millis());
                    lost_on.extend(pick.map(|p| p.engineer.user_id.clone()));
                }
                // On DynamoDB a concurrent request with the same key cancels this one with
                // a conflict rather than a failed condition.
                if let Some(r) = seen().await? {
                    return replay(r, &fingerprint);
                }
                retry::pause(attempt).await;
                candidates = refreshed_candidates(&ctx.store, candidates).await?;
            }
            Err(TicketWriteError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::unavailable("ticket creation kept conflicting").with_retry_after(1))
}

/// What a creation with an `Idempotency-Key` answers: a new item, or the original answer to
/// the same request again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    New(T),
    Replayed { data: T, location: String },
}

impl<T> Created<T> {
    pub fn into_inner(self) -> T {
        match self {
            Created::New(t) | Created::Replayed { data: t, .. } => t,
        }
    }
}

/// The caller's record of `key`, if the key was given and used before (and not expired).
pub(crate) async fn recorded(
    ctx: &Ctx,
    who: &Authed,
    key: Option<&IdempotencyKey>,
) -> Result<Option<IdempotencyRecord>, crate::store::StoreError> {
    match key {
        Some(k) => {
            ctx.store
                .get_idempotency(&who.id, k, Timestamp::now())
                .await
        }
        None => Ok(None),
    }
}

/// The request as parsed, hashed: what a reused key is compared on.
pub(crate) fn fingerprint(request: &Value) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(request.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The original answer for the same request, or 422 for another request under the key.
pub(crate) fn replay<T: serde::de::DeserializeOwned>(
    r: IdempotencyRecord,
    fingerprint: &str,
) -> Result<Created<T>, ApiError> {
    if r.fingerprint != fingerprint {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request.",
        ));
    }
    let data = serde_json::from_value(r.data)
        .map_err(|e| ApiError::internal(format!("idempotency record: {e}")))?;
    Ok(Created::Replayed {
        data,
        location: r.location,
    })
}

pub fn ticket_location(id: &TicketId) -> String {
    format!("{}/tickets/{id}", crate::http::BASE_PATH)
}

/// The assignee a reopened ticket gets (SPEC §3 "Leaving").
pub(crate) struct Reassigned {
    pub assignee: Option<UserId>,
    /// The bound the auto-assignment was chosen under (shared/src/assignment.rs).
    pub below: Option<i64>,
}

/// For a ticket becoming OPEN: None when its assignee is an approved engineer (it stays
/// theirs); otherwise who takes it, as a new ticket would be assigned (nobody when every
/// engineer is full or there is none). One round: the assignee beside the load index.
pub(crate) async fn reopen_assignment(
    ctx: &Ctx,
    before: &TicketRecord,
) -> Result<Option<Reassigned>, crate::store::StoreError> {
    let (current, candidates) = tokio::try_join!(
        async {
            match &before.assignee {
                Some(a) => ctx.store.get_user(a).await,
                None => Ok(None),
            }
        },
        ctx.store.least_loaded_engineers(CANDIDATES)
    )?;
    if current.as_ref().is_some_and(UserRecord::is_assignable) {
        return Ok(None);
    }
    let pick = choose(&candidates, ctx.engineer_capacity, Mode::Least);
    let assignee = pick.map(|p| p.engineer.user_id.clone());
    if assignee == before.assignee {
        return Ok(None);
    }
    Ok(Some(Reassigned {
        assignee,
        below: pick.map(|p| p.below),
    }))
}

/// The candidates as the table has them now (strongly consistent reads, concurrently: one
/// round), least loaded first; the ones that left are dropped. When none is left, the index
/// is asked again.
pub(crate) async fn refreshed_candidates(
    store: &crate::store::Store,
    candidates: Vec<UserRecord>,
) -> Result<Vec<UserRecord>, crate::store::StoreError> {
    let mut fresh: Vec<UserRecord> =
        futures_util::future::try_join_all(candidates.iter().map(|c| store.get_user(&c.user_id)))
            .await?
            .into_iter()
            .flatten()
            .filter(UserRecord::is_assignable)
            .collect();
    if fresh.is_empty() {
        return store.least_loaded_engineers(CANDIDATES).await;
    }
    fresh.sort_by_key(|u| u.load_key);
    Ok(fresh)
}

/// The caller (active) and the ticket (visible to them), read in one round.
pub(super) async fn caller_and_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
) -> Result<(UserRecord, TicketRecord), ApiError> {
    let (caller, ticket) = tokio::try_join!(ctx.store.get_user(&who.id), ctx.store.get_ticket(id))?;
    let caller = who.active(caller)?;
    let ticket = ticket.ok_or_else(ApiError::ticket_not_found)?;
    policy::concerned(&caller.caller(), &ticket.reporter, ticket.assignee.as_ref())
        .map_err(denied)?;
    Ok((caller, ticket))
}

/// GET /tickets/{ticketId}.
pub async fn get_ticket(ctx: &Ctx, who: &Authed, id: &str) -> Result<TicketSnapshot, ApiError> {
    let id = TicketId::parse(id)?;
    let (_, t) = caller_and_ticket(ctx, who, &id).await?;
    Ok(t.snapshot())
}

/// PUT /tickets/{ticketId}: returns the ticket as it now is.
pub async fn update_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    patch: TicketPatch,
) -> Result<TicketSnapshot, ApiError> {
    let id = TicketId::parse(id)?;
    if patch.status.is_some() && patch.assignee.is_some() {
        return Err(ApiError::new(
            ErrorCode::StatusAndAssignee,
            "status and assignee cannot be changed in the same request.",
        ));
    }
    for attempt in retry::attempts() {
        let ((caller, before), new_assignee) =
            tokio::try_join!(caller_and_ticket(ctx, who, &id), async {
                match &patch.assignee {
                    Some(a) => Ok(ctx.store.get_user(a).await?),
                    None => Ok::<_, ApiError>(None),
                }
            })?;
        if patch.assignee.is_some() {
            policy::reassign(&caller.caller()).map_err(denied)?;
            if !new_assignee.as_ref().is_some_and(UserRecord::is_assignable) {
                return Err(ApiError::invalid(
                    "assignee",
                    "assignee must be the userId of an approved ENGINEER.",
                ));
            }
        }
        let mut after = before.clone();
        let mut changes = Vec::new();
        if let Some(t) = &patch.title
            && *t != before.title
        {
            changes.push(change(
                "title",
                json!(before.title.as_str()),
                json!(t.as_str()),
            ));
            after.title = t.clone();
        }
        if let Some(d) = &patch.description
            && *d != before.description
        {
            changes.push(change(
                "description",
                json!(before.description.as_str()),
                json!(d.as_str()),
            ));
            after.description = d.clone();
        }
        if let Some(p) = patch.priority
            && p != before.ticket_priority
        {
            changes.push(change(
                "ticketPriority",
                json!(before.ticket_priority.get()),
                json!(p.get()),
            ));
            after.ticket_priority = p;
        }
        if let Some(s) = patch.status
            && s != before.status
        {
            changes.push(change(
                "status",
                json!(before.status.as_str()),
                json!(s.as_str()),
            ));
            after.status = s;
        }
        let mut previous_assignee = None;
        if let Some(a) = &patch.assignee
            && before.assignee.as_ref() != Some(a)
        {
            changes.push(change(
                "assignee",
                opt_user(before.assignee.as_ref()),
                json!(a.as_str()),
            ));
            previous_assignee = before.assignee.clone();
            after.assignee = Some(a.clone());
        }
        // SPEC §3 "Leaving": reopened while its assignee cannot work on it, it is assigned
        // in the same write like a new ticket.
        let mut bound = None;
        if before.status != TicketStatus::Open
            && after.status == TicketStatus::Open
            && let Some(re) = reopen_assignment(ctx, &before).await?
        {
            {
                changes.push(change(
                    "assignee",
                    opt_user(before.assignee.as_ref()),
                    opt_user(re.assignee.as_ref()),
                ));
                previous_assignee = before.assignee.clone();
                after.assignee = re.assignee;
                bound = re.below;
            }
        }
        if changes.is_empty() {
            return Ok(before.snapshot());
        }
        let now = Timestamp::now();
        after.version = before.version + 1;
        after.updated_at = now.rfc3339();
        let history = HistoryEntry {
            version: after.version,
            actor: caller.user_id.clone(),
            at: now.rfc3339(),
            changes: changes.clone(),
        };
        let ev = event(
            EventType::TicketUpdated,
            &caller.user_id,
            &after,
            changes,
            previous_assignee.as_ref(),
            now,
        );
        let deltas = count_deltas(
            Some((before.status, before.assignee.as_ref())),
            (after.status, after.assignee.as_ref()),
        );
        // A new assignee must still be an approved engineer when the write commits (and, when
        // the system chose them, below the bound they were chosen under).
        let check = (after.assignee != before.assignee)
            .then_some(after.assignee.as_ref())
            .flatten()
            .map(|a| (a, bound));
        // Room freed under the capacity: the backlog may move (service/workload.rs).
        let job = super::workload::frees_capacity(ctx.engineer_capacity, &deltas)
            .then(|| Job::new(JobKind::Backlog, now));
        let extra = match &job {
            Some(j) => vec![ctx.store.job_write(j, now)?],
            None => vec![],
        };
        match ctx
            .store
            .commit_ticket(TicketChange {
                before: Some(&before),
                after: &after,
                deltas: &deltas,
                assignee_check: check,
                history: &history,
                event: &ev,
                extra,
            })
            .await
        {
            Ok(()) => {
                ctx.publisher.publish(&ev).await;
                if let Some(j) = &job {
                    ctx.jobs.publish(j).await;
                }
                return Ok(after.snapshot());
            }
            Err(TicketWriteError::TicketChanged | TicketWriteError::AssigneeChanged) => {
                retry::pause(attempt).await;
            }
            Err(TicketWriteError::ExtraRefused(_)) => {
                return Err(ApiError::internal("a write without extras refused one"));
            }
            Err(TicketWriteError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::ticket_changed())
}

/// GET /tickets: the caller's visible tickets matching the filters, oldest first. The read
/// is planned from the token's user type beside the caller check, and re-planned in the
/// rare case the type changed since the token was issued.
pub async fn list_tickets(
    ctx: &Ctx,
    who: &Authed,
    filter: TicketFilter,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<TicketSnapshot>, ApiError> {
    let scope = filter.scope(&who.id);
    let after = ctx.decode_cursor(next_token, &scope)?;
    let hinted = Caller {
        id: who.id.clone(),
        user_type: who.claims.user_type.unwrap_or(UserType::Customer),
        status: crate::model::UserStatus::Approved,
    };
    let read = |caller: Caller| {
        let filter = filter.clone();
        let after = after.clone();
        async move {
            let Some((sources, rest)) = plan(&caller, &filter) else {
                return Ok(Listing::default());
            };
            let keep = move |t: &TicketRecord| {
                rest.matches(t)
                    && policy::concerned(&caller, &t.reporter, t.assignee.as_ref()).is_ok()
            };
            let keep_ref: &(dyn Fn(&TicketRecord) -> bool + Sync) = &keep;
            ctx.store
                .list_tickets_from(
                    sources,
                    (!filter.is_empty()).then_some(keep_ref),
                    after,
                    limit,
                )
                .await
        }
    };
    let (caller, page) = tokio::try_join!(ctx.store.get_user(&who.id), read(hinted.clone()))?;
    let caller = who.active(caller)?.caller();
    let page = if caller.user_type == hinted.user_type {
        page
    } else {
        read(caller).await?
    };
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page.items.iter().map(TicketRecord::snapshot).collect(),
        next,
    })
}

/// One history entry as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryView {
    pub version: i64,
    pub actor: String,
    pub at: String,
    pub changes: Vec<Change>,
}

/// GET /tickets/{ticketId}/history: the first page is read beside the caller and ticket.
pub async fn ticket_history(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<HistoryView>, ApiError> {
    let id = TicketId::parse(id)?;
    let scope = format!("history|{id}");
    let after = ctx.decode_cursor(next_token, &scope)?;
    let (_, page) = tokio::try_join!(caller_and_ticket(ctx, who, &id), async {
        Ok::<_, ApiError>(ctx.store.ticket_history(&id, after, limit).await?)
    })?;
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page
            .items
            .into_iter()
            .map(|h| HistoryView {
                version: h.version,
                actor: h.actor.as_str().to_owned(),
                at: h.at,
                changes: h.changes,
            })
            .collect(),
        next,
    })
}
