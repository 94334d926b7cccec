//! The service fixture's helpers for SPEC §12: rating a ticket, the satisfaction report, and
//! merging, as the API would.

use crate::desk::{Desk, tid};
use crm_shared::ApiError;
use crm_shared::model::{Rating, RatingComment, TicketSnapshot, Timestamp};
use crm_shared::service::{self, Authed, Merged, NewRating, SatisfactionReport};

/// A rating with an optional comment (panics on an invalid comment).
pub fn rating(r: Rating, comment: Option<&str>) -> NewRating {
    NewRating {
        rating: r,
        comment: comment.and_then(|c| RatingComment::parse(c).expect("valid comment")),
    }
}

impl Desk {
    pub async fn rate(
        &self,
        who: &Authed,
        ticket: &str,
        r: Rating,
    ) -> Result<TicketSnapshot, ApiError> {
        service::rate_ticket(&self.ctx, who, &tid(ticket), rating(r, None)).await
    }

    /// The report over `[from, to)` as `who`.
    pub async fn report(
        &self,
        who: &Authed,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SatisfactionReport, ApiError> {
        service::satisfaction_report(&self.ctx, who, from, to).await
    }

    /// `who` merges `source` into `target`.
    pub async fn merge(
        &self,
        who: &Authed,
        source: &str,
        target: &str,
    ) -> Result<Merged, ApiError> {
        service::merge_ticket(&self.ctx, who, &tid(source), &tid(target)).await
    }
}
