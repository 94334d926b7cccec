//! The ticket event: what the outbox records with every ticket change and the notifier
//! delivers. Versioned (`schemaVersion`) so consumers can tell shapes apart; documented in
//! docs/events.md.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// 2 added the COMMENT_ADDED type and the `comment` field (docs/events.md, "Versions").
pub const EVENT_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "TICKET_CREATED")]
    TicketCreated,
    #[serde(rename = "TICKET_UPDATED")]
    TicketUpdated,
    /// A comment or internal note (schema version 2); `changes` holds the reopening, if any.
    #[serde(rename = "COMMENT_ADDED")]
    CommentAdded,
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
    /// The comment of a COMMENT_ADDED event; absent otherwise (and in version-1 events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<super::CommentSnapshot>,
}

impl TicketEvent {
    /// Whether only staff may read what this event says (an internal note).
    pub fn is_internal(&self) -> bool {
        self.comment.as_ref().is_some_and(|c| c.internal)
    }
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
            comment: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "TICKET_UPDATED");
        assert_eq!(v["schemaVersion"], 2);
        assert!(
            v.get("comment").is_none(),
            "no comment field on a ticket change"
        );
        assert_eq!(v["ticket"]["_id"], "01T");
        assert_eq!(v["ticket"]["assignee"], Value::Null);
        assert_eq!(v["previousAssignee"], "e1");
        let back: TicketEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_version_1_event_still_reads_and_a_comment_event_carries_its_comment() {
        let v1 = json!({
            "schemaVersion": 1, "eventId": "01E", "type": "TICKET_CREATED",
            "occurredAt": "x", "actor": "c",
            "ticket": {"_id": "01T", "title": "t", "ticketPriority": 4, "description": "d",
                       "status": "OPEN", "reporter": "c", "assignee": null,
                       "createdAt": "x", "updatedAt": "x"},
            "changes": [], "previousAssignee": null
        });
        let e: TicketEvent = serde_json::from_value(v1).unwrap();
        assert_eq!(e.comment, None);
        assert!(!e.is_internal());
        let mut c = e.clone();
        c.event_type = EventType::CommentAdded;
        c.comment = Some(super::super::CommentSnapshot {
            id: "01C".into(),
            ticket_id: "01T".into(),
            author: "eng".into(),
            body: "note".into(),
            internal: true,
            created_at: "x".into(),
        });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["type"], "COMMENT_ADDED");
        assert_eq!(v["comment"]["_id"], "01C");
        assert_eq!(v["comment"]["internal"], true);
        assert!(c.is_internal());
        assert_eq!(serde_json::from_value::<TicketEvent>(v).unwrap(), c);
    }
}
