//! The breach sweep (SPEC §10): every run reads the due index — tickets under an SLA carry
//! `SLADUE#<shard>` / their next check time on gsi4 while a target can still become late —
//! for the checks that have passed, and records each late target with a breach mark (a
//! transition of its own kind: no version, no history, one `sla.breached` per target).
//!
//! Cost: one query per shard (8, concurrently) per run, and one transaction per ticket
//! found (16 at a time): flat in the tickets not coming due. Exactly once: the mark commits under the
//! ticket's version and SLA revision, so of two sweeps (or a sweep and a ticket change) that
//! read the same ticket one commits and the other re-reads it and finds the target recorded.
//! A crash between finding and recording leaves the index key in place: the next run finds
//! the ticket again. The notifier's scheduled sweep runs it every minute (`crm serve`: every
//! sweep period, at most 30 s), so a breach is recorded at most about a minute and a
//! half after its due time, within SPEC's 2 minutes.

use super::transition::{Transition, Tries, Writer};
use crate::model::Timestamp;
use crate::store::{StoreError, TicketRecord};
use futures_util::StreamExt;
use serde::Serialize;

/// Tickets one run takes per shard; a backlog larger than that is taken by the next runs.
pub const PER_SHARD: usize = 200;

/// Breach marks in flight at once.
const RECORDING_AT_ONCE: usize = 16;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreachReport {
    /// Tickets whose next check had passed.
    pub due: usize,
    /// Breaches recorded (`sla.breached` events).
    pub recorded: usize,
    /// Tickets left to the next run (their changes kept conflicting).
    pub deferred: usize,
}

/// Records what is late at `now`, ticket by ticket.
pub async fn sweep(w: &Writer<'_>, now: Timestamp) -> Result<BreachReport, StoreError> {
    let due = find(w, now).await?;
    let mut report = BreachReport {
        due: due.len(),
        ..BreachReport::default()
    };
    // The tickets found are recorded concurrently (each its own transaction), a few at a
    // time: a run with k due takes about one round trip more than the index read, not k.
    let mut marks = futures_util::stream::iter(due)
        .map(|t| record(w, t, now))
        .buffer_unordered(RECORDING_AT_ONCE);
    while let Some(r) = marks.next().await {
        match r? {
            Some(n) => report.recorded += n,
            None => report.deferred += 1,
        }
    }
    if report.recorded > 0 || report.deferred > 0 {
        tracing::info!(?report, "breach sweep");
    }
    Ok(report)
}

/// The tickets whose next check is before `now` (as the index has them: it may lag).
pub async fn find(w: &Writer<'_>, now: Timestamp) -> Result<Vec<TicketRecord>, StoreError> {
    w.store.sla_due_tickets(now, PER_SHARD).await
}

/// Marks one ticket found due: the breaches recorded (0 when another writer was first), or
/// None when its changes kept winning (the next run tries again).
pub async fn record(
    w: &Writer<'_>,
    found: TicketRecord,
    now: Timestamp,
) -> Result<Option<usize>, StoreError> {
    let id = found.ticket_id.clone();
    let mut read = Some(found);
    let mut tries = Tries::default();
    while let Some(lost) = tries.next().await {
        // The index's copy first; after a lost race, the ticket as it is now.
        let before = match (read.take(), lost) {
            (Some(t), None) => t,
            _ => match w.store.get_ticket(&id).await? {
                Some(t) => t,
                None => return Ok(Some(0)),
            },
        };
        if let Some(c) = tries.commit(Transition::mark(before, now), w).await? {
            c.publish(w).await;
            return Ok(Some(c.events.len()));
        }
    }
    Ok(None)
}
