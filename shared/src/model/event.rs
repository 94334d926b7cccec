//! The event (SPEC §6): one shape for every change the service records, the same for the
//! mailer, the webhooks, the event bus and the change feed. Committed with its change in the
//! outbox; documented in docs/events.md. Events written before this shape (the notifier's
//! schema version 2) still read, as `LegacyTicketEvent`.

use super::CommentSnapshot;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The prefix of every event id (`evt_<ULID>`).
pub const EVENT_ID_PREFIX: &str = "evt_";

/// Declares the event types: each once, with the name clients see.
macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $($(#[$doc])* #[serde(rename = $text)] $name,)*
        }

        impl EventType {
            pub const ALL: &[EventType] = &[$(EventType::$name,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$name => $text,)*
                }
            }
        }
    };
}

event_types! {
    TicketCreated = "ticket.created",
    /// Every change of a ticket, the system's too (backlog assignment, hand-on, merge...).
    TicketUpdated = "ticket.updated",
    /// A comment or internal note (`data.comment.internal`).
    CommentCreated = "comment.created",
    UserCreated = "user.created",
    /// A change of a user's name, type or status; a password change with no values.
    UserUpdated = "user.updated",
    SlaBreached = "sla.breached",
    SatisfactionRated = "satisfaction.rated",
}

impl EventType {
    /// The type named `raw` (as in `?type=`), if any.
    pub fn parse(raw: &str) -> Option<EventType> {
        Self::ALL.iter().copied().find(|t| t.as_str() == raw)
    }

    /// Whether events of this type are about a ticket (`data.ticket` is set).
    pub fn is_ticket(self) -> bool {
        !matches!(self, EventType::UserCreated | EventType::UserUpdated)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket as clients see it (the API's ticket object, and an event's `data.ticket`).
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
    /// 1 at creation, +1 with each change (0 in events written before it was shown).
    #[serde(default)]
    pub version: i64,
    /// SPEC §11: the ticket's tags, sorted (`[]` when none, and in events written before).
    #[serde(default)]
    pub tags: Vec<String>,
    /// SPEC §11: the userIds following the ticket, in the order they were added.
    #[serde(default)]
    pub followers: Vec<String>,
    /// Its service levels, under a target (SPEC §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaView>,
    /// SPEC §12: the reporter's rating, once rated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<super::Satisfaction>,
    /// SPEC §12: the ticket this one was merged into, once merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

/// A ticket's `sla` object as clients see it (SPEC §10; kept by `crate::sla::TicketSla`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaView {
    pub first_response_due_at: Option<String>,
    pub first_responded_at: Option<String>,
    pub resolution_due_at: Option<String>,
    pub resolved_at: Option<String>,
    pub breaches: Vec<String>,
}

/// A user as clients see it: never the password or its hash; `ticketsWorkingOnCount` for
/// staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub name: String,
    pub email: String,
    pub user_id: String,
    pub user_type: super::UserType,
    pub user_status: super::UserStatus,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets_working_on_count: Option<i64>,
}

/// One changed field: its value before and after (`null` for none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

impl Change {
    /// A change whose values are not told (a password): shown as `{}`.
    pub fn withheld(field: &str) -> Self {
        Change {
            field: field.to_owned(),
            from: Value::Null,
            to: Value::Null,
        }
    }
}

/// An event's `changes`: `{"<field>": {"from": …, "to": …}}` in the order of the fields;
/// a change with no values told is `{}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes(pub Vec<Change>);

impl Changes {
    pub fn get(&self, field: &str) -> Option<&Change> {
        self.0.iter().find(|c| c.field == field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Changes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct FromTo<'a> {
            from: &'a Value,
            to: &'a Value,
        }
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for c in &self.0 {
            if c.from.is_null() && c.to.is_null() {
                m.serialize_entry(&c.field, &serde_json::Map::new())?;
            } else {
                m.serialize_entry(
                    &c.field,
                    &FromTo {
                        from: &c.from,
                        to: &c.to,
                    },
                )?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Changes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct FromTo {
            #[serde(default)]
            from: Value,
            #[serde(default)]
            to: Value,
        }
        // serde_json's map keeps key order only with a feature: read pairs in order instead.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Changes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of field to {from, to}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Changes, A::Error> {
                let mut out = Vec::new();
                while let Some((field, ft)) = a.next_entry::<String, FromTo>()? {
                    out.push(Change {
                        field,
                        from: ft.from,
                        to: ft.to,
                    });
                }
                Ok(Changes(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// An event's `data`: which members are set depends on the type (SPEC §6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// Who made the change: a userId, or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
    /// What changed (absent at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// The comment of a `comment.created`; on a `ticket.updated`, the comment whose writing
    /// made the change (a reporter's reply that reopened the ticket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentSnapshot>,
    /// `sla.breached`: `firstResponse` or `resolution`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `sla.breached`: the due time that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// `satisfaction.rated`: the rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Value>,
}

/// One recorded change: `{"id", "type", "timestamp", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_<ULID>`: stable across retries and redeliveries; the webhook's `webhook-id`.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    pub data: EventData,
}

impl Event {
    /// A new event of `event_type` at `timestamp` (RFC 3339).
    pub fn new(event_type: EventType, timestamp: String, data: EventData) -> Self {
        Event {
            id: format!("{EVENT_ID_PREFIX}{}", super::new_ulid()),
            event_type,
            timestamp,
            data,
        }
    }

    /// The id without its prefix: the ULID the store keys the event's items by (events
    /// written before the prefix have the same keys).
    pub fn key_id(&self) -> &str {
        self.id.strip_prefix(EVENT_ID_PREFIX).unwrap_or(&self.id)
    }

    /// Whether only staff may read what this event says (an internal note).
    pub fn is_internal(&self) -> bool {
        self.data.comment.as_ref().is_some_and(|c| c.internal)
    }

    /// The assignee before a reassignment (also mailed).
    pub fn previous_assignee(&self) -> Option<&str> {
        self.data
            .changes
            .as_ref()
            .and_then(|c| c.get("assignee"))
            .and_then(|c| c.from.as_str())
    }
}

/// A ticket event as the notifier recorded it before the shape of SPEC §6 (schema versions
/// 1 and 2): outbox items and queued messages written then still deliver.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyTicketEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub actor: String,
    pub ticket: TicketSnapshot,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub comment: Option<CommentSnapshot>,
}

impl From<LegacyTicketEvent> for Event {
    fn from(e: LegacyTicketEvent) -> Self {
        let event_type = match e.event_type.as_str() {
            "TICKET_CREATED" => EventType::TicketCreated,
            "COMMENT_ADDED" => EventType::CommentCreated,
            _ => EventType::TicketUpdated,
        };
        Event {
            id: format!("{EVENT_ID_PREFIX}{}", e.event_id),
            event_type,
            timestamp: e.occurred_at,
            data: EventData {
                actor: Some(e.actor),
                ticket: Some(e.ticket),
                changes: (event_type != EventType::TicketCreated && !e.changes.is_empty())
                    .then_some(Changes(e.changes)),
                comment: e.comment,
                ..EventData::default()
            },
        }
    }
}

/// An event as found in the outbox or on the queue: the shape of SPEC §6, or the one before.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StoredEvent {
    Current(Box<Event>),
    Legacy(Box<LegacyTicketEvent>),
}

impl From<StoredEvent> for Event {
    fn from(s: StoredEvent) -> Self {
        match s {
            StoredEvent::Current(e) => *e,
            StoredEvent::Legacy(l) => (*l).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot() -> TicketSnapshot {
        TicketSnapshot {
            id: "01T".into(),
            title: "t".into(),
            ticket_priority: 4,
            description: "d".into(),
            status: "CLOSED".into(),
            reporter: "c".into(),
            assignee: None,
            created_at: "x".into(),
            updated_at: "y".into(),
            version: 3,
            tags: vec![],
            followers: vec![],
            sla: None,
            satisfaction: None,
            merged_into: None,
        }
    }

    #[test]
    fn serializes_in_the_shape_of_spec_6() {
        let e = Event {
            id: "evt_01J".into(),
            event_type: EventType::TicketUpdated,
            timestamp: "2026-12-06T12:00:00.000Z".into(),
            data: EventData {
                actor: Some("engineer1".into()),
                ticket: Some(snapshot()),
                changes: Some(Changes(vec![
                    Change {
                        field: "status".into(),
                        from: json!("OPEN"),
                        to: json!("CLOSED"),
                    },
                    Change {
                        field: "assignee".into(),
                        from: json!("e1"),
                        to: Value::Null,
                    },
                ])),
                ..EventData::default()
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"id": "evt_01J", "type": "ticket.updated",
                   "timestamp": "2026-12-06T12:00:00.000Z",
                   "data": {"actor": "engineer1",
                            "ticket": {"_id": "01T", "title": "t", "ticketPriority": 4,
                                       "description": "d", "status": "CLOSED", "reporter": "c",
                                       "assignee": null, "createdAt": "x", "updatedAt": "y",
                                       "version": 3, "tags": [], "followers": []},
                            "changes": {"status": {"from": "OPEN", "to": "CLOSED"},
                                        "assignee": {"from": "e1", "to": null}}}})
        );
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.find("\"status\":{").unwrap() < text.find("\"assignee\":{").unwrap());
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.previous_assignee(), Some("e1"));
        assert_eq!(back.key_id(), "01J");
    }

    #[test]
    fn a_withheld_change_has_no_values() {
        let c = Changes(vec![Change::withheld("password")]);
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"password": {}}));
        let back: Changes = serde_json::from_value(json!({"password": {}})).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn every_type_has_its_dotted_name() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(EventType::ALL.len(), 7);
        assert_eq!(EventType::parse("TICKET_CREATED"), None);
    }

    #[test]
    fn an_event_of_schema_version_2_still_reads_with_its_keys() {
        let v2 = json!({
            "schemaVersion": 2, "eventId": "01E", "type": "COMMENT_ADDED",
            "occurredAt": "x", "actor": "c",
            "ticket": {"_id": "01T", "title": "t", "ticketPriority": 4, "description": "d",
                       "status": "OPEN", "reporter": "c", "assignee": "e2",
                       "createdAt": "x", "updatedAt": "x"},
            "changes": [{"field": "status", "from": "CLOSED", "to": "OPEN"}],
            "previousAssignee": null,
            "comment": {"_id": "01C", "ticketId": "01T", "author": "c", "body": "hi",
                        "internal": false, "createdAt": "x"}
        });
        let e: Event = serde_json::from_value::<StoredEvent>(v2).unwrap().into();
        assert_eq!(e.id, "evt_01E");
        assert_eq!(e.key_id(), "01E");
        assert_eq!(e.event_type, EventType::CommentCreated);
        assert_eq!(e.data.ticket.as_ref().map(|t| t.version), Some(0));
        assert!(
            e.data
                .changes
                .as_ref()
                .is_some_and(|c| c.get("status").is_some())
        );
        assert!(!e.is_internal());
        let now: Event = serde_json::from_value::<StoredEvent>(serde_json::to_value(&e).unwrap())
            .unwrap()
            .into();
        assert_eq!(now, e, "the current shape reads as itself");
    }
}
