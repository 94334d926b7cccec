//! The ticket event: what the outbox records with every ticket change and the notifier
//! delivers. Versioned (`schemaVersion`) so consumers can tell shapes apart; documented in
//! docs/events.md.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const EVENT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "TICKET_CREATED")]
    TicketCreated,
    #[serde(rename = "TICKET_UPDATED")]
    TicketUpdated,
}

/// A ticket as clients see it (the API's ticket object, and the event's snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSnapshot {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
    pub ticket_priority: u8,
    pub description: String,
    pub status: String,
    pub reporter: String,
    pub assignee: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One changed field: its value before and after (`null` for none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketEvent {
    pub schema_version: u32,
    /// A ULID: unique per event, the idempotency key of its delivery.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: String,
    /// The userId whose request made the change.
    pub actor: String,
    /// The ticket after the change.
    pub ticket: TicketSnapshot,
    /// What changed (for a creation: every initial field, from null).
    pub changes: Vec<Change>,
    /// The assignee before a reassignment (also mailed); null otherwise.
    pub previous_assignee: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_the_documented_names() {
        let e = TicketEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            event_id: "01J".into(),
            event_type: EventType::TicketUpdated,
            occurred_at: "2022-08-05T12:35:23.673Z".into(),
            actor: "admin".into(),
            ticket: TicketSnapshot {
                id: "01T".into(),
                title: "t".into(),
                ticket_priority: 4,
                description: "d".into(),
                status: "OPEN".into(),
                reporter: "c".into(),
                assignee: None,
                created_at: "x".into(),
                updated_at: "y".into(),
            },
            changes: vec![Change {
                field: "assignee".into(),
                from: json!("e1"),
                to: Value::Null,
            }],
            previous_assignee: Some("e1".into()),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "TICKET_UPDATED");
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["ticket"]["_id"], "01T");
        assert_eq!(v["ticket"]["assignee"], Value::Null);
        assert_eq!(v["previousAssignee"], "e1");
        let back: TicketEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
