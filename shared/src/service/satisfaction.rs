//! Satisfaction (SPEC §12): the reporter rates a CLOSED ticket, `good` or `bad`, replaceable
//! for 28 days after it was closed. A rating is a ticket change like any other, one
//! transition (service/transition.rs): the `satisfaction` field (in the history), the
//! version one up, a `satisfaction.rated` event (mailed to the assignee and the approved admins), and
//! in the same transaction the ticket's entry in the rating index (store/ratings.rs), which
//! the report reads over its window only.

use super::tickets::caller_and_ticket;
use super::transition::{Transition, Tries};
use super::{Authed, Ctx};
use crate::ApiError;
use crate::error::ErrorCode;
use crate::model::{
    RATING_WINDOW_DAYS, Rating, RatingComment, Satisfaction, TicketId, TicketSnapshot,
    TicketStatus, Timestamp,
};
use crate::policy;
use serde::Serialize;

/// A rating as sent: `{"rating", "comment"?}`.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub rating: Rating,
    pub comment: Option<RatingComment>,
}

/// PUT /tickets/{ticketId}/satisfaction: the ticket with its rating.
pub async fn rate_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    new: NewRating,
) -> Result<TicketSnapshot, ApiError> {
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        let (caller, before) = caller_and_ticket(ctx, who, id).await?;
        policy::rate(&caller.caller(), &before.parties())?;
        if before.status != TicketStatus::Closed {
            return Err(ApiError::new(
                ErrorCode::TicketNotClosed,
                "Only a CLOSED ticket can be rated.",
            ));
        }
        let now = ctx.clock.now();
        let closed = before
            .closed_at
            .as_deref()
            .or(Some(before.updated_at.as_str()))
            .and_then(Timestamp::parse_rfc3339)
            .unwrap_or(now);
        if now > closed.plus_seconds(RATING_WINDOW_DAYS * 86_400) {
            return Err(ApiError::new(
                ErrorCode::RatingWindowClosed,
                "A ticket can be rated up to 28 days after it was closed.",
            ));
        }
        let mut after = before.clone();
        after.satisfaction = Some(Satisfaction {
            rating: new.rating,
            comment: new.comment.clone(),
            rated_at: now.rfc3339(),
        });
        let t = Transition::rate(caller.user_id, before, after).at(now);
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            return Ok(c.ticket.snapshot());
        }
    }
    Err(ApiError::ticket_changed())
}

/// How many ratings were good and bad, and the score: good ÷ (good + bad), `null` with none.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub good: u64,
    pub bad: u64,
    pub score: Option<f64>,
}

impl Score {
    fn add(&mut self, r: Rating) {
        match r {
            Rating::Good => self.good += 1,
            Rating::Bad => self.bad += 1,
        }
        self.score = Some(self.good as f64 / (self.good + self.bad) as f64);
    }
}

/// One assignee's line of the report (`assignee: null`: tickets rated while unassigned).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssigneeScore {
    pub assignee: Option<String>,
    #[serde(flatten)]
    pub score: Score,
}

/// GET /reports/satisfaction's `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SatisfactionReport {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub overall: Score,
    /// By assignee (as the ticket was when rated), in userId order, unassigned last.
    pub assignees: Vec<AssigneeScore>,
}

/// The report's window when not given: the 30 days up to now.
pub(super) const DEFAULT_WINDOW_DAYS: i64 = 30;

/// GET /reports/satisfaction?from=&to=: the ratings given from `from` (included) to `to`
/// (excluded), counted overall and per assignee; approved ADMIN only. One read of the
/// caller beside one read of the index's window (more pages only past 1000 ratings).
pub async fn satisfaction_report(
    ctx: &Ctx,
    who: &Authed,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<SatisfactionReport, ApiError> {
    let to = to.unwrap_or_else(|| ctx.clock.now());
    let from = from.unwrap_or_else(|| to.plus_seconds(-DEFAULT_WINDOW_DAYS * 86_400));
    if from > to {
        return Err(ApiError::invalid("from", "from must not be after to.")
            .with_code(ErrorCode::InvalidQuery));
    }
    let (caller, ratings) = tokio::try_join!(
        async { Ok::<_, ApiError>(ctx.store.get_user(&who.id).await?) },
        async {
            // Only an admin's read is worth making beside the caller check.
            if who.hints_admin() {
                Ok::<_, ApiError>(Some(ctx.store.ratings_between(from, to).await?))
            } else {
                Ok(None)
            }
        }
    )?;
    let caller = who.active(caller)?;
    policy::read_satisfaction(&caller.caller())?;
    let ratings = match ratings {
        Some(r) => r,
        None => ctx.store.ratings_between(from, to).await?,
    };
    let mut overall = Score::default();
    let mut by: std::collections::BTreeMap<Option<String>, Score> = Default::default();
    for r in &ratings {
        overall.add(r.rating);
        by.entry(r.assignee.as_ref().map(|a| a.as_str().to_owned()))
            .or_default()
            .add(r.rating);
    }
    let mut assignees: Vec<AssigneeScore> = by
        .into_iter()
        .map(|(assignee, score)| AssigneeScore { assignee, score })
        .collect();
    // BTreeMap puts None first: unassigned goes last.
    if assignees.first().is_some_and(|a| a.assignee.is_none()) {
        let unassigned = assignees.remove(0);
        assignees.push(unassigned);
    }
    Ok(SatisfactionReport {
        from: from.rfc3339(),
        to: to.rfc3339(),
        overall,
        assignees,
    })
}
