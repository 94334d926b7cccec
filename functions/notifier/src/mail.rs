//! What a mail about a ticket event says: the ticket id, title, description, status,
//! priority, reporter, assignee, for updates what changed, and for a comment the comment.

use crm_shared::mail::ReplyAddresses;
use crm_shared::model::text::one_line;
use crm_shared::model::{Event, EventType, TicketId};
use serde_json::Value;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub content: String,
    pub recipients: Vec<String>,
    /// How the mail threads and is answered (SPEC §9).
    pub thread: Thread,
}

/// The headers that make a ticket's mails one thread that can be answered (SPEC §9), and the
/// event header every mail carries (the intake drops mail that comes back with it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    /// The event the mail is about (`X-CRM-Event`).
    pub event_id: String,
    /// `Reply-To`: the ticket's reply address, when the mail channel is on.
    pub reply_to: Option<String>,
    /// `Message-ID`: unique per event, in the inbound domain.
    pub message_id: Option<String>,
    /// `In-Reply-To` and `References`: the ticket's thread root, the same on all its mails.
    pub root: Option<String>,
}

impl Mail {
    /// The mail with the reply address and thread ids of its ticket, when the mail channel is
    /// on (`replies`) and the event is about a ticket.
    pub fn threaded(mut self, replies: Option<&ReplyAddresses>, e: &Event) -> Self {
        let ticket = e
            .data
            .ticket
            .as_ref()
            .and_then(|t| TicketId::parse(&t.id).ok());
        if let (Some(r), Some(t)) = (replies, ticket) {
            self.thread.reply_to = Some(r.reply_to(&t));
            self.thread.message_id = Some(r.address().message_id(&e.id, 0));
            self.thread.root = Some(r.address().thread_root(&t));
        }
        self
    }
}

fn priority_name(p: u8) -> &'static str {
    match p {
        1 => "extreme",
        2 => "high",
        3 => "medium",
        _ => "low",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        // A set (tags, followers): its members, or none.
        Value::Array(a) if a.is_empty() => "(none)".into(),
        Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub fn render(e: &Event, recipients: Vec<String>) -> Mail {
    let Some(t) = e.data.ticket.as_ref() else {
        return Mail {
            subject: format!("[CRM] {}", e.event_type),
            content: String::new(),
            recipients,
            thread: Thread {
                event_id: e.id.clone(),
                ..Thread::default()
            },
        };
    };
    let verb = match e.event_type {
        EventType::TicketCreated => "created",
        EventType::CommentCreated if e.is_internal() => "internal note",
        EventType::CommentCreated => "comment",
        EventType::SlaBreached => "missed its service level",
        EventType::SatisfactionRated => "rated",
        _ => "updated",
    };
    let actor = e.data.actor.as_deref().unwrap_or("system");
    let changes = e
        .data
        .changes
        .as_ref()
        .map(|c| c.0.as_slice())
        .unwrap_or(&[]);
    // One header line whatever is stored (SPEC §1): items from before the text rules too.
    let subject = format!(
        "[CRM] Ticket {} {verb}: {}",
        one_line(&t.id),
        one_line(&t.title)
    );
    let mut c = String::new();
    match &e.data.comment {
        Some(cm) => {
            let what = if cm.internal {
                "An internal note (staff only)"
            } else {
                "A comment"
            };
            let _ = writeln!(
                c,
                "{what} was added to ticket {} by {} at {}:",
                t.id, cm.author, cm.created_at
            );
            let _ = writeln!(c);
            for line in cm.body.lines() {
                let _ = writeln!(c, "> {line}");
            }
            if changes.iter().any(|ch| ch.field == "status") {
                let _ = writeln!(c);
                let _ = writeln!(c, "The reporter's reply reopened the ticket.");
            }
        }
        None => {
            let _ = writeln!(
                c,
                "Ticket {} was {verb} by {actor} at {}.",
                t.id, e.timestamp
            );
        }
    }
    if let (Some(target), Some(due)) = (&e.data.target, &e.data.due_at) {
        let _ = writeln!(c, "Target: {target}, due at {due}.");
    }
    // SPEC §12: the rating, and where a merged ticket's conversation went.
    if let Some(s) = t
        .satisfaction
        .as_ref()
        .filter(|_| e.event_type == EventType::SatisfactionRated)
    {
        let _ = writeln!(c, "Rating: {}", s.rating);
        if let Some(comment) = &s.comment {
            for line in comment.as_str().lines() {
                let _ = writeln!(c, "> {line}");
            }
        }
    }
    if let Some(target) = &t.merged_into {
        let _ = writeln!(
            c,
            "This ticket was merged into ticket {}: the conversation continues there, and a reply to this ticket is added to it.",
            one_line(target)
        );
    }
    let _ = writeln!(c);
    let _ = writeln!(c, "Title:       {}", t.title);
    let _ = writeln!(c, "Description: {}", t.description);
    let _ = writeln!(c, "Status:      {}", t.status);
    let _ = writeln!(
        c,
        "Priority:    {} ({})",
        t.ticket_priority,
        priority_name(t.ticket_priority)
    );
    let _ = writeln!(c, "Reporter:    {}", t.reporter);
    let _ = writeln!(
        c,
        "Assignee:    {}",
        t.assignee.as_deref().unwrap_or("(unassigned)")
    );
    if e.event_type != EventType::TicketCreated && !changes.is_empty() {
        let _ = writeln!(c);
        let _ = writeln!(c, "What changed:");
        for ch in changes {
            let _ = writeln!(c, "- {}: {} -> {}", ch.field, show(&ch.from), show(&ch.to));
        }
    }
    Mail {
        subject,
        content: c,
        recipients,
        thread: Thread {
            event_id: e.id.clone(),
            ..Thread::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_shared::model::{Change, Changes, EventData, TicketSnapshot};
    use serde_json::json;

    fn event(t: EventType) -> Event {
        Event {
            id: "evt_01E".into(),
            event_type: t,
            timestamp: "2022-08-05T12:55:42.348Z".into(),
            data: EventData {
                actor: Some("admin".into()),
                ticket: Some(TicketSnapshot {
                    id: "01T".into(),
                    title: "Problem in printer".into(),
                    ticket_priority: 2,
                    description: "Printer shows error 254.".into(),
                    status: "CLOSED".into(),
                    reporter: "customer1".into(),
                    assignee: Some("engineer2".into()),
                    created_at: "a".into(),
                    updated_at: "b".into(),
                    version: 2,
                    tags: vec![],
                    followers: vec![],
                    sla: None,
                    satisfaction: None,
                    merged_into: None,
                }),
                changes: Some(Changes(vec![Change {
                    field: "assignee".into(),
                    from: json!("engineer1"),
                    to: json!("engineer2"),
                }])),
                ..EventData::default()
            },
        }
    }

    fn ticket(e: &mut Event) -> &mut TicketSnapshot {
        e.data.ticket.as_mut().expect("a ticket event")
    }

    #[test]
    fn carries_every_field_and_the_changes() {
        let m = render(&event(EventType::TicketUpdated), vec!["a@b.co".into()]);
        assert_eq!(m.subject, "[CRM] Ticket 01T updated: Problem in printer");
        for want in [
            "01T",
            "Problem in printer",
            "Printer shows error 254.",
            "Status:      CLOSED",
            "Priority:    2 (high)",
            "Reporter:    customer1",
            "Assignee:    engineer2",
            "- assignee: engineer1 -> engineer2",
        ] {
            assert!(
                m.content.contains(want),
                "missing {want:?} in\n{}",
                m.content
            );
        }
    }

    #[test]
    fn a_rating_mail_shows_the_rating_and_its_comment() {
        let mut e = event(EventType::SatisfactionRated);
        e.data.changes = None;
        ticket(&mut e).satisfaction = Some(crm_shared::model::Satisfaction {
            rating: crm_shared::model::Rating::Bad,
            comment: crm_shared::model::RatingComment::parse("Took a week.\nStill slow.")
                .expect("comment"),
            rated_at: "2022-08-07T10:00:00.000Z".into(),
        });
        let m = render(&e, vec![]);
        assert_eq!(m.subject, "[CRM] Ticket 01T rated: Problem in printer");
        for want in ["Rating: bad", "> Took a week.", "> Still slow."] {
            assert!(
                m.content.contains(want),
                "missing {want:?} in\n{}",
                m.content
            );
        }
    }

    #[test]
    fn the_merge_mail_tells_where_the_conversation_went() {
        let mut e = comment(false, false);
        ticket(&mut e).merged_into = Some("01TARGET".into());
        let m = render(&e, vec![]);
        assert!(
            m.content.contains(
                "This ticket was merged into ticket 01TARGET: the conversation continues there"
            ),
            "{}",
            m.content
        );
        // A ticket not merged says nothing of it.
        assert!(
            !render(&comment(false, false), vec![])
                .content
                .contains("merged into")
        );
    }

    fn comment(internal: bool, reopened: bool) -> Event {
        let mut e = event(EventType::CommentCreated);
        e.data.changes = reopened.then(|| {
            Changes(vec![Change {
                field: "status".into(),
                from: json!("CLOSED"),
                to: json!("OPEN"),
            }])
        });
        e.data.comment = Some(crm_shared::model::CommentSnapshot {
            id: "01C".into(),
            ticket_id: "01T".into(),
            author: "customer1".into(),
            body: "It is still broken.\nSame error 254.".into(),
            internal,
            created_at: "2022-08-06T09:00:00.000Z".into(),
            attachments: Vec::new(),
        });
        e
    }

    #[test]
    fn a_comment_mail_shows_the_comment_the_ticket_id_and_title() {
        let m = render(&comment(false, false), vec![]);
        assert_eq!(m.subject, "[CRM] Ticket 01T comment: Problem in printer");
        for want in [
            "A comment was added to ticket 01T by customer1",
            "> It is still broken.",
            "> Same error 254.",
            "Title:       Problem in printer",
        ] {
            assert!(
                m.content.contains(want),
                "missing {want:?} in\n{}",
                m.content
            );
        }
        assert!(!m.content.contains("What changed"));
        assert!(!m.content.contains("reopened"));
        let reopened = render(&comment(false, true), vec![]);
        assert!(reopened.content.contains("reopened the ticket"));
        assert!(reopened.content.contains("- status: CLOSED -> OPEN"));
        let note = render(&comment(true, false), vec![]);
        assert_eq!(
            note.subject,
            "[CRM] Ticket 01T internal note: Problem in printer"
        );
        assert!(
            note.content
                .contains("An internal note (staff only) was added")
        );
    }

    #[test]
    fn a_tags_or_followers_change_lists_the_members() {
        let mut e = event(EventType::TicketUpdated);
        e.data.changes = Some(Changes(vec![
            Change {
                field: "tags".into(),
                from: json!([]),
                to: json!(["printer", "vip"]),
            },
            Change {
                field: "followers".into(),
                from: json!(["cust2"]),
                to: json!([]),
            },
        ]));
        let m = render(&e, vec![]);
        assert!(
            m.content.contains("- tags: (none) -> printer, vip"),
            "{}",
            m.content
        );
        assert!(
            m.content.contains("- followers: cust2 -> (none)"),
            "{}",
            m.content
        );
    }

    #[test]
    fn creation_mail_has_no_change_list() {
        let m = render(&event(EventType::TicketCreated), vec![]);
        assert!(m.subject.contains("created"));
        assert!(!m.content.contains("What changed"));
    }

    #[test]
    fn a_stored_title_with_line_breaks_still_makes_a_one_line_subject() {
        let mut e = event(EventType::TicketCreated);
        ticket(&mut e).title = "line1\r\nBcc: evil@x.com".into();
        let m = render(&e, vec![]);
        assert_eq!(
            m.subject,
            "[CRM] Ticket 01T created: line1  Bcc: evil@x.com"
        );
    }

    proptest::proptest! {
        #[test]
        fn every_rendered_subject_is_one_line(title in proptest::prelude::any::<String>(), id in proptest::prelude::any::<String>()) {
            let mut e = event(EventType::TicketUpdated);
            ticket(&mut e).title = title;
            ticket(&mut e).id = id;
            let m = render(&e, vec![]);
            let breaks = m.subject.chars().any(|c| {
                c.is_control()
                    || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
            });
            proptest::prop_assert!(!breaks, "{:?}", m.subject);
        }
    }
}
