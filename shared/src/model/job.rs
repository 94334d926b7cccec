//! Workload jobs (SPEC §3 "Workload"): ticket changes the system makes off the request path.
//! The request that triggers one commits it in its own transaction; it then runs from the
//! queue (locally an in-process channel), is resumed by the sweep after a crash, and running
//! it twice changes nothing the second time.

use serde::{Deserialize, Serialize};

/// The actor of the history entries and events a job writes.
pub const SYSTEM_ACTOR: &str = "system";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub kind: JobKind,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobKind {
    /// Assign the unassigned OPEN tickets, oldest first, while an engineer has room.
    Backlog,
    /// `engineer` stopped being an approved ENGINEER: hand their OPEN tickets on.
    Departure { engineer: String },
}

impl Job {
    pub fn new(kind: JobKind, now: super::Timestamp) -> Self {
        Self {
            job_id: super::new_ulid().to_string(),
            kind,
            created_at: now.rfc3339(),
        }
    }
}

/// What the queue carries: an event to handle, or a job to run. A job's JSON has `jobId`;
/// an event's has `id` and `type` (or, written before SPEC §6's shape, `eventId`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Job(Job),
    Event(Box<super::StoredEvent>),
}
