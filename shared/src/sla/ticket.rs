//! What a ticket stores of its service levels (clock.rs says why each part is there), how it
//! shows in the API (`sla`), and the keys it gives the ticket: the sweep's next check and the
//! listing's resolution order.

use super::clock::{DueTimes, Metric, SlaClock};
use super::policy::SlaPolicy;
use crate::model::{SlaView, TicketId, TicketStatus, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A ticket's SLA state, kept on the ticket item from its creation under a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSla {
    /// The version of the policy in force at the ticket's creation (`SLA#POLICY` / `V#<n>`).
    pub policy_version: i64,
    /// A copy of that version (`SlaPolicy::to_json`): a priority change or a stop is computed
    /// on it without reading the policy again, so no ticket change waits on one more read.
    pub policy: Value,
    /// The creation instant the clocks run from (ms).
    pub started_at: i64,
    #[serde(default)]
    pub first_response_due_at: Option<i64>,
    #[serde(default)]
    pub resolution_due_at: Option<i64>,
    #[serde(default)]
    pub first_responded_at: Option<i64>,
    #[serde(default)]
    pub resolved_at: Option<i64>,
    #[serde(default)]
    pub paused_ms: i64,
    #[serde(default)]
    pub paused_since: Option<i64>,
    /// Targets recorded late, in the order recorded; never removed.
    #[serde(default)]
    pub breaches: Vec<Metric>,
    /// Writes of the ticket item since its creation. Every ticket write is conditioned on it
    /// beside `version`, because some writes bump no version (a breach mark, a first
    /// response): two writers that read the same ticket can never both commit.
    #[serde(default)]
    pub rev: i64,
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_millis)
}

fn shown(ms: Option<i64>) -> Option<String> {
    ms.map(|m| Timestamp::from_millis(m).rfc3339())
}

/// The sort key of "no due time": after every 13-digit time.
pub const NO_DUE: &str = "~";

impl TicketSla {
    /// The clock of a ticket created at `at` under version `version` of `policy`.
    pub fn start(version: i64, policy: &SlaPolicy, at: Timestamp) -> Self {
        Self {
            policy_version: version,
            policy: policy.to_json(),
            started_at: at.millis(),
            first_response_due_at: None,
            resolution_due_at: None,
            first_responded_at: None,
            resolved_at: None,
            paused_ms: 0,
            paused_since: None,
            breaches: Vec::new(),
            rev: 0,
        }
    }

    pub fn clock(&self) -> SlaClock {
        SlaClock {
            first_responded_at: ts(self.first_responded_at),
            resolved_at: ts(self.resolved_at),
            paused_ms: self.paused_ms,
            paused_since: ts(self.paused_since),
        }
    }

    pub fn set_clock(&mut self, c: SlaClock) {
        self.first_responded_at = c.first_responded_at.map(Timestamp::millis);
        self.resolved_at = c.resolved_at.map(Timestamp::millis);
        self.paused_ms = c.paused_ms;
        self.paused_since = c.paused_since.map(Timestamp::millis);
    }

    /// The due times as last computed.
    pub fn due(&self) -> DueTimes {
        DueTimes {
            first_response: ts(self.first_response_due_at),
            resolution: ts(self.resolution_due_at),
        }
    }

    pub fn set_due(&mut self, d: DueTimes) {
        self.first_response_due_at = d.first_response.map(Timestamp::millis);
        self.resolution_due_at = d.resolution.map(Timestamp::millis);
    }

    pub fn started(&self) -> Timestamp {
        Timestamp::from_millis(self.started_at)
    }

    /// The policy the clocks count on (None only for a copy no longer readable, which no
    /// release writes).
    pub fn policy(&self) -> Option<SlaPolicy> {
        SlaPolicy::restore(&self.policy).ok()
    }

    /// Whether a target applies (the ticket shows `sla`).
    pub fn under_target(&self) -> bool {
        self.first_response_due_at.is_some() || self.resolution_due_at.is_some()
    }

    /// The API's `sla`: None when the ticket's priority has no target.
    pub fn view(&self) -> Option<SlaView> {
        self.under_target().then(|| SlaView {
            first_response_due_at: shown(self.first_response_due_at),
            first_responded_at: shown(self.first_responded_at),
            resolution_due_at: shown(self.resolution_due_at),
            resolved_at: shown(self.resolved_at),
            breaches: self
                .breaches
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
        })
    }

    pub fn breached(&self) -> bool {
        !self.breaches.is_empty()
    }

    /// When the breach sweep must look at the ticket next (None: nothing can become late).
    pub fn next_check(&self, status: TicketStatus) -> Option<Timestamp> {
        self.clock().next_check(&self.due(), status, &self.breaches)
    }

    /// The listing's `sort=resolutionDueAt` key: the due time (13 digits), or `~` after every
    /// time, then the ticket id.
    pub fn order_key(resolution_due_at: Option<i64>, id: &TicketId) -> String {
        match resolution_due_at {
            Some(ms) => format!("{}#{id}", Timestamp::from_millis(ms).sort_key()),
            None => format!("{NO_DUE}#{id}"),
        }
    }
}
