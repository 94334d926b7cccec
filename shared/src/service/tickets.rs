//! Changing tickets (SPEC §3): creation with load-based auto-assignment, and updates. Each
//! reads what it needs, decides the ticket after, and commits it as one transition
//! (service/transition.rs), which keeps the engineer counters exact.

use super::assign::{refreshed_candidates, reopen_assignment};
use super::idempotency::{Created, fingerprint, recorded, replay};
use super::transition::{Lost, Transition, Tries};
use super::{Authed, Ctx};
use crate::ApiError;
use crate::assignment::{CANDIDATES, choose_avoiding};
use crate::error::ErrorCode;
use crate::model::{
    Description, IdempotencyKey, Priority, Tags, TicketId, TicketSnapshot, TicketStatus, Timestamp,
    Title, UserId,
};
use crate::policy;
use crate::store::{TicketRecord, UserRecord};
use serde_json::json;
use std::time::Duration;

/// The longest a creation waits for its turn to choose an engineer: one store operation's
/// budget (shared/src/cloud.rs), so a turn held by a creation stuck on the store delays the
/// next by at most that, while normal turns (a read and a write) never come near it.
const TURN_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub title: Title,
    pub description: Description,
    pub priority: Option<Priority>,
    /// SPEC §11: staff only (a customer sending tags, even none, is refused).
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub status: Option<TicketStatus>,
    pub assignee: Option<UserId>,
    /// SPEC §11: the whole new set; staff only.
    pub tags: Option<Tags>,
}

impl TicketPatch {
    /// The ticket with the patch's fields set (whether anything changed is the transition's
    /// business).
    fn apply(&self, before: &TicketRecord) -> TicketRecord {
        let mut after = before.clone();
        if let Some(t) = &self.title {
            after.title = t.clone();
        }
        if let Some(d) = &self.description {
            after.description = d.clone();
        }
        if let Some(p) = self.priority {
            after.ticket_priority = p;
        }
        if let Some(s) = self.status {
            after.status = s;
        }
        if let Some(a) = &self.assignee {
            after.assignee = Some(a.clone());
        }
        if let Some(t) = &self.tags {
            after.tags = t.clone();
        }
        after
    }
}

/// POST /tickets: the caller reports; the least-loaded approved engineer is assigned (or
/// nobody), by the rule in shared/src/assignment.rs.
pub async fn create_ticket(
    ctx: &Ctx,
    who: &Authed,
    new: NewTicket,
) -> Result<TicketSnapshot, ApiError> {
    create_ticket_once(ctx, who, new, None)
        .await
        .map(Created::into_inner)
}

/// POST /tickets with an optional `Idempotency-Key` (SPEC §3). The caller check and the
/// key's record are read beside the load index; then one transition. A write whose
/// assignment bound no longer holds re-reads the few candidates consistently (the index may
/// lag) and chooses again, passing over the engineers it lost on while another has room.
pub async fn create_ticket_once(
    ctx: &Ctx,
    who: &Authed,
    new: NewTicket,
    key: Option<&IdempotencyKey>,
) -> Result<Created<TicketSnapshot>, ApiError> {
    create_ticket_kept(ctx, who, new, key, ctx.idempotency_ttl_seconds).await
}

/// `create_ticket_once` with the key remembered `ttl` seconds (mail keeps its Message-ID's
/// record longer than an `Idempotency-Key`: service/intake.rs).
pub(super) async fn create_ticket_kept(
    ctx: &Ctx,
    who: &Authed,
    new: NewTicket,
    key: Option<&IdempotencyKey>,
    ttl: i64,
) -> Result<Created<TicketSnapshot>, ApiError> {
    let mut request = json!({
        "title": new.title.as_str(),
        "description": new.description.as_str(),
        "ticketPriority": new.priority.unwrap_or(Priority::LOW).get(),
    });
    // Only when sent, so the records of requests without tags keep their fingerprint.
    if let Some(t) = &new.tags {
        request["tags"] = json!(t.names());
    }
    let fingerprint = fingerprint(&request);
    // Within one process, creations take turns choosing an engineer, so they do not all
    // pick the same one; across processes the bound keeps the spread. The wait for a turn
    // is bounded: behind a stuck store a creation goes ahead on its own (the condition still
    // keeps it correct) rather than queueing without limit.
    let (caller, (turn, mut candidates), record, sla_policy) = tokio::try_join!(
        ctx.store.get_user(&who.id),
        async {
            let turn = tokio::time::timeout(TURN_WAIT, ctx.assign_gate.lock())
                .await
                .ok();
            let candidates = ctx.store.least_loaded_engineers(CANDIDATES).await?;
            Ok::<_, crate::store::StoreError>((turn, candidates))
        },
        recorded(ctx, who, key),
        // The SLA policy in force (SPEC §10), read beside the rest: a change of it applies
        // to tickets created after it.
        ctx.store.current_sla_policy()
    )?;
    let caller = who.active(caller)?;
    if let Some(r) = record {
        return replay(r, &fingerprint);
    }
    if new.tags.is_some() {
        policy::set_tags(&caller.caller())?;
    }
    let mut lost_on: Vec<UserId> = Vec::new();
    let mut picked: Option<UserId> = None;
    let w = ctx.writer();
    let mut tries = Tries::default();
    while let Some(lost) = tries.next().await {
        if let Some(lost) = lost {
            if lost == Lost::Assignee {
                ctx.contention.noticed(Timestamp::now().millis());
                lost_on.extend(picked.take());
            }
            // The key was taken meanwhile by a concurrent request with it (on DynamoDB that
            // request may also cancel this one with a conflict): its answer.
            if let Some(r) = recorded(ctx, who, key).await? {
                return replay(r, &fingerprint);
            }
            if lost != Lost::Extra {
                candidates = refreshed_candidates(&ctx.store, candidates).await?;
            }
        }
        let now = ctx.clock.now();
        let mode = ctx.contention.mode(now.millis(), rand::random());
        let pick = choose_avoiding(&candidates, ctx.engineer_capacity, mode, &lost_on);
        picked = pick.map(|p| p.engineer.user_id.clone());
        let ticket = TicketRecord {
            ticket_id: TicketId::new(),
            title: new.title.clone(),
            description: new.description.clone(),
            ticket_priority: new.priority.unwrap_or(Priority::LOW),
            status: TicketStatus::Open,
            reporter: caller.user_id.clone(),
            assignee: picked.clone(),
            created_at: now.rfc3339(),
            updated_at: now.rfc3339(),
            version: 1,
            tags: new.tags.clone().unwrap_or_default(),
            followers: Vec::new(),
            sla: super::sla::start(sla_policy.as_ref(), now),
            satisfaction: None,
            merged_into: None,
            closed_at: None,
        };
        let t = Transition::create(caller.user_id.clone(), ticket)
            .at(now)
            .chosen_under(pick.map(|p| p.below))
            .remembered(key, &fingerprint, ttl);
        if let Some(c) = tries.commit(t, &w).await? {
            // The next creation may choose now; the push must not hold it up.
            drop(turn);
            c.publish(&w).await;
            return Ok(Created::New(c.ticket.snapshot()));
        }
    }
    Err(ApiError::unavailable("ticket creation kept conflicting").with_retry_after(1))
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
    policy::concerned(&caller.caller(), &ticket.parties())?;
    Ok((caller, ticket))
}

/// GET /tickets/{ticketId}.
pub async fn get_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
) -> Result<TicketSnapshot, ApiError> {
    let (_, t) = caller_and_ticket(ctx, who, id).await?;
    Ok(t.snapshot())
}

/// PUT /tickets/{ticketId}: returns the ticket as it now is. The caller and the ticket are
/// read beside the new assignee (if any); an update that changes nothing writes nothing.
pub async fn update_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    patch: TicketPatch,
) -> Result<TicketSnapshot, ApiError> {
    if patch.status.is_some() && patch.assignee.is_some() {
        return Err(ApiError::new(
            ErrorCode::StatusAndAssignee,
            "status and assignee cannot be changed in the same request.",
        ));
    }
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        let ((caller, before), new_assignee) =
            tokio::try_join!(caller_and_ticket(ctx, who, id), async {
                match &patch.assignee {
                    Some(a) => Ok(ctx.store.get_user(a).await?),
                    None => Ok::<_, ApiError>(None),
                }
            })?;
        policy::update_ticket(&caller.caller(), &before.parties())?;
        // SPEC §12: a merge cannot be undone; the conversation went to the target.
        if let Some(m) = &before.merged_into {
            return Err(ApiError::new(
                ErrorCode::TicketMerged,
                format!("This ticket was merged into {m}; change that one instead."),
            ));
        }
        if patch.tags.is_some() {
            policy::set_tags(&caller.caller())?;
        }
        if patch.assignee.is_some() {
            policy::reassign(&caller.caller())?;
            if !new_assignee.as_ref().is_some_and(UserRecord::is_assignable) {
                return Err(ApiError::invalid(
                    "assignee",
                    "assignee must be the userId of an approved ENGINEER.",
                ));
            }
        }
        let mut after = patch.apply(&before);
        // SPEC §3 "Leaving": reopened while its assignee cannot work on it, it is assigned
        // in the same write like a new ticket.
        let mut bound = None;
        if before.status != TicketStatus::Open
            && after.status == TicketStatus::Open
            && let Some(re) = reopen_assignment(&ctx.store, ctx.engineer_capacity, &before).await?
        {
            after.assignee = re.assignee;
            bound = re.below;
        }
        let t = Transition::update(caller.user_id, before, after)
            .at(ctx.clock.now())
            .chosen_under(bound);
        if t.changes_nothing() {
            return Ok(t.ticket().snapshot());
        }
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            return Ok(c.ticket.snapshot());
        }
    }
    Err(ApiError::ticket_changed())
}
