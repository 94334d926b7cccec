//! comment.created (SPEC §3 "Comments", §4): a comment is mailed to the ticket's concerned
//! users, an internal note to staff only (approved admins, the assignee, an engineer who
//! reported it), never to a customer; the mail shows the comment, the ticket's id and title;
//! a redelivered message sends nothing twice.

use super::cloud::{Queues, event_of, mails_about, ses_transport};
use super::support::*;
use crm_notifier::{Outcome, Transport};
use crm_shared::model::{CommentBody, Event, EventType, UserStatus, UserType};
use crm_shared::queue::Publisher;
use crm_shared::service::{self, Authed, NewComment};
use crm_shared::store::Store;
use crm_tests::desk::{ticket_event_channel, tid};

fn comment(body: &str, internal: bool) -> NewComment {
    NewComment {
        body: CommentBody::parse(body).expect("a body"),
        internal,
        attachments: Vec::new(),
    }
}

async fn add(desk: &Desk, who: &Authed, id: &str, body: &str, internal: bool) {
    service::add_comment(&desk.ctx, who, &tid(id), comment(body, internal))
        .await
        .unwrap_or_else(|e| panic!("{} commenting: {e:?}", who.id));
}

#[tokio::test]
async fn comment_mail_recipients_per_visibility() {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    desk.admin_with_status("admin2", UserStatus::Approved).await;
    desk.admin_with_status("waitingadmin", UserStatus::Pending)
        .await;
    let cust = desk.customer("cust1").await;
    let eng1 = desk.engineer("eng1").await;
    let eng2 = desk.engineer("eng2").await;
    let t = desk.create(&cust, "Printer on fire").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    // The least loaded engineer takes it: its reporter.
    let own = desk.create(&eng2, "Laptop of an engineer").await;
    assert_eq!(own.assignee.as_deref(), Some("eng2"));
    while rx.try_recv().is_ok() {}
    let log = crm_tests::server::temp_dir("notify-comments").join("mail.log");
    let n = notifier(
        desk.store().clone(),
        Transport::log(Some(log.clone())),
        Publisher::Outbox,
    );
    let admins = [email_of("admin"), email_of("admin2")];
    let with_admins = |others: &[&str]| {
        let mut v: Vec<String> = admins.to_vec();
        v.extend(others.iter().map(|o| email_of(o)));
        v
    };
    let who = |got: Vec<String>, want: Vec<String>| {
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_recipients(&got, &want);
    };

    // A public comment: the reporter, the assignee, the approved admins.
    add(
        &desk,
        &eng1,
        &t.id,
        "On my way.\nBring a fire extinguisher.",
        false,
    )
    .await;
    let public = rx.recv().await.expect("event");
    assert_eq!(public.event_type, EventType::CommentCreated);
    assert!(!public.is_internal());
    who(
        n.recipients(&public).await.expect("recipients"),
        with_admins(&["cust1", "eng1"]),
    );
    // An internal note: staff only, never the customer who reported the ticket.
    add(&desk, &eng1, &t.id, "The customer set it on fire.", true).await;
    let note = rx.recv().await.expect("event");
    assert!(note.is_internal());
    who(
        n.recipients(&note).await.expect("recipients"),
        with_admins(&["eng1"]),
    );
    // On an engineer's own ticket the reporter is staff: they get the note (once).
    add(&desk, &desk.admin, &own.id, "Order a new one.", true).await;
    let staff_note = rx.recv().await.expect("event");
    who(
        n.recipients(&staff_note).await.expect("recipients"),
        with_admins(&["eng2"]),
    );
    // Resolved at send time: demoted to CUSTOMER, the reporter no longer gets that note (a
    // customer never does), while a public comment still reaches them as its reporter.
    desk.set("eng2", Some(UserType::Customer), None).await;
    who(
        n.recipients(&staff_note).await.expect("recipients"),
        with_admins(&[]),
    );
    let mut public_on_own = staff_note.clone();
    if let Some(c) = public_on_own.data.comment.as_mut() {
        c.internal = false;
    }
    who(
        n.recipients(&public_on_own).await.expect("recipients"),
        with_admins(&["eng2"]),
    );
    // A pending assignee gets neither.
    desk.set("eng1", None, Some(UserStatus::Pending)).await;
    who(
        n.recipients(&note).await.expect("recipients"),
        with_admins(&[]),
    );
    desk.set("eng1", None, Some(UserStatus::Approved)).await;

    // The mails: the comment, the ticket's id and title; one line per event in the log.
    for ev in [&public, &note] {
        assert!(matches!(n.deliver(ev).await, Ok(Outcome::Sent { .. })));
    }
    let lines = mail_log(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (pm, nm) = (&lines[0], &lines[1]);
    assert_recipients(
        &recipients_of(pm),
        &with_admins(&["cust1", "eng1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        !recipients_of(nm).contains(&email_of("cust1")),
        "the customer got an internal note: {nm}"
    );
    let text = |v: &serde_json::Value| format!("{}\n{}", v["subject"], v["content"]);
    for want in [
        t.id.as_str(),
        "Printer on fire",
        "On my way.",
        "Bring a fire extinguisher.",
    ] {
        assert!(text(pm).contains(want), "lacks {want:?}: {}", text(pm));
    }
    for want in [
        t.id.as_str(),
        "Printer on fire",
        "The customer set it on fire.",
        "internal note",
    ] {
        assert!(text(nm).contains(want), "lacks {want:?}: {}", text(nm));
    }
    // Delivered again: nothing more.
    assert_eq!(n.deliver(&note).await, Ok(Outcome::AlreadySent));
    assert_eq!(mail_log(&log).len(), 2);
}

crm_tests::on_both_backends!(concurrent: a_redelivered_comment_event_sends_nothing_twice);

/// Through a real queue and SES (moto): each comment's message handed over three times
/// sends one mail per recipient, an internal note none to the customer; the reply that
/// reopens the ticket is one event, mailed once.
async fn a_redelivered_comment_event_sends_nothing_twice(store: Store) {
    let queues = Queues::new(5, 30).await;
    let desk = Desk::new(store).await.with_publisher(queues.publisher());
    let cust = desk.customer("cust1").await;
    let eng = desk.engineer("eng1").await;
    let t = desk.create(&cust, "Comment delivered more than once").await;
    let created = queues.receive_exactly(1).await;
    queues.delete(&created[0]).await;
    desk.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("the ticket update");
    let closed = queues.receive_exactly(1).await;
    queues.delete(&closed[0]).await;
    let n = notifier(
        desk.store().clone(),
        ses_transport().await,
        queues.publisher(),
    );

    add(&desk, &eng, &t.id, "Internal: replaced the fuser.", true).await;
    add(&desk, &cust, &t.id, "Still smoking.", false).await;
    // The note, the reply, and the reopening the reply made (mailed with the reply).
    let msgs = queues.receive_exactly(3).await;
    for round in 0..3 {
        let resp = n.handle_sqs(event_of(&msgs)).await;
        assert_eq!(
            failed_ids(&resp),
            Vec::<String>::new(),
            "delivery {round} failed"
        );
    }
    let mails = mails_about(&t.id).await;
    let to = |kind: &str| {
        let mut v: Vec<String> = mails
            .iter()
            .filter(|m| m.subject.contains(kind))
            .map(|m| {
                assert_eq!(m.destinations.len(), 1, "one address per message: {m:?}");
                m.destinations[0].clone()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        to("internal note"),
        [email_of("admin"), email_of("eng1")],
        "staff only, once each"
    );
    assert_eq!(
        to(" comment:"),
        [email_of("admin"), email_of("cust1"), email_of("eng1")],
        "everyone concerned, once each"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.body.contains("Still smoking.") && m.body.contains("reopened")),
        "the reply's mail shows it and the reopening"
    );
    assert_eq!(
        desk.store()
            .get_ticket(&crm_shared::model::TicketId::parse(&t.id).expect("id"))
            .await
            .expect("read")
            .expect("ticket")
            .status,
        crm_shared::model::TicketStatus::Open
    );
    let mut types = Vec::new();
    for m in &msgs {
        let ev: Event = serde_json::from_str(m.body.as_deref().expect("body")).expect("event");
        types.push(ev.event_type);
        assert_eq!(n.deliver(&ev).await, Ok(Outcome::AlreadySent));
    }
    types.sort();
    assert_eq!(
        types,
        [
            EventType::TicketUpdated,
            EventType::CommentCreated,
            EventType::CommentCreated
        ]
    );
}
