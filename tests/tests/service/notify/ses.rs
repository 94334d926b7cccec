//! The cloud path end to end on the emulator: a ticket change commits on DynamoDB, its event
//! goes to a real SQS queue, the notifier consumes it as the SQS trigger would and mails
//! through SES v2; the mail is read back from what the emulator recorded.

use super::cloud::{MAIL_FROM, Queues, SentMail, mails_about, ses_transport};
use super::support::*;
use crm_shared::model::{Event, EventType, UserStatus};
use crm_tests::desk::ticket_of;
use serde_json::{Value, json};

/// The mails about a ticket that are not in `seen`; records them in `seen`.
async fn new_mails(ticket_id: &str, seen: &mut Vec<String>) -> Vec<SentMail> {
    let fresh: Vec<SentMail> = mails_about(ticket_id)
        .await
        .into_iter()
        .filter(|m| !seen.contains(&m.id))
        .collect();
    seen.extend(fresh.iter().map(|m| m.id.clone()));
    fresh
}

/// One message per recipient: each with exactly one destination, each wanted address once.
#[track_caller]
fn assert_one_each(mails: &[SentMail], want: &[&str]) {
    for m in mails {
        assert_eq!(
            m.destinations.len(),
            1,
            "one destination per message: {m:?}"
        );
        assert_eq!(m.from, MAIL_FROM);
    }
    let got: Vec<String> = mails.iter().flat_map(|m| m.destinations.clone()).collect();
    assert_recipients(&got, want);
}

#[track_caller]
fn assert_change_line(body: &str, field: &str, from: &str, to: &str) {
    assert!(
        body.lines().any(|l| l.contains(field)
            && l.contains(from)
            && l.contains(to)
            && l.find(from) < l.rfind(to)),
        "no line saying {field}: {from} -> {to} in\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ses_mails_each_concerned_user_alone_on_create_update_and_reassign() {
    let queues = Queues::new(2, 30).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(queues.publisher());
    desk.admin_with_status("admin2", UserStatus::Approved).await;
    desk.admin_with_status("waitingadmin", UserStatus::Pending)
        .await;
    desk.admin_with_status("refusedadmin", UserStatus::Rejected)
        .await;
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    let notifier = notifier(
        desk.store().clone(),
        ses_transport().await,
        queues.publisher(),
    );
    let mut seen = Vec::new();

    // Creation: auto-assigned to the only engineer.
    let created = desk.create(&customer, "Printer shows error 254").await;
    assert_eq!(created.assignee.as_deref(), Some("eng1"));
    let msgs = queues.receive_exactly(1).await;
    let ev: Event =
        serde_json::from_str(msgs[0].body.as_deref().expect("body")).expect("a ticket event");
    let raw: Value = serde_json::from_str(msgs[0].body.as_deref().expect("body")).expect("json");
    // SPEC §6's shape: id, type, timestamp, data (actor, ticket; no changes at creation).
    assert!(raw["id"].as_str().is_some_and(|id| id.starts_with("evt_")));
    assert_eq!(raw["type"], json!("ticket.created"));
    assert!(
        raw["data"].get("comment").is_none(),
        "no comment on a ticket change"
    );
    assert!(raw["data"].get("changes").is_none(), "none at creation");
    assert_eq!(*ticket_of(&ev), created);
    assert_eq!(ev.data.actor.as_deref(), Some("cust1"));
    assert_eq!(ev.previous_assignee(), None);
    assert_eq!(
        ev.timestamp, created.created_at,
        "the event is the creation"
    );
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox read")
            .is_some(),
        "the outbox keeps the event until it is delivered"
    );
    let resp = notifier.handle_sqs(super::cloud::event_of(&msgs)).await;
    assert_eq!(failed_ids(&resp), Vec::<String>::new());
    queues.delete(&msgs[0]).await;
    let mails = new_mails(&created.id, &mut seen).await;
    assert_one_each(
        &mails,
        &[
            &email_of("cust1"),
            &email_of("admin"),
            &email_of("admin2"),
            &email_of("eng1"),
        ],
    );
    for m in &mails {
        assert_mail_describes(&m.subject, &m.body, &created, &[]);
    }
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox read")
            .is_none(),
        "the notifier removes the outbox item"
    );

    // A status change.
    let blocked = desk
        .update(
            &desk.admin,
            &created.id,
            status_patch(TicketStatus::Blocked),
        )
        .await
        .expect("the ticket update");
    let ev = queues.deliver_next(&notifier).await;
    assert_eq!(ev.event_type, EventType::TicketUpdated);
    assert_eq!(*ticket_of(&ev), blocked);
    assert_eq!(ev.data.actor.as_deref(), Some("admin"));
    assert_eq!(ev.timestamp, blocked.updated_at, "the event is the update");
    assert_eq!(ev.previous_assignee(), None);
    assert_eq!(
        serde_json::to_value(&ev.data.changes).expect("changes"),
        json!({"status": {"from": "OPEN", "to": "BLOCKED"}})
    );
    let mails = new_mails(&created.id, &mut seen).await;
    assert_one_each(
        &mails,
        &[
            &email_of("cust1"),
            &email_of("admin"),
            &email_of("admin2"),
            &email_of("eng1"),
        ],
    );
    for m in &mails {
        assert_mail_describes(&m.subject, &m.body, &blocked, &[]);
        assert_change_line(&m.body, "status", "OPEN", "BLOCKED");
    }

    // An update that changes nothing publishes nothing.
    desk.update(
        &desk.admin,
        &created.id,
        status_patch(TicketStatus::Blocked),
    )
    .await
    .expect("the ticket update");
    assert!(
        queues.receive(0).await.is_empty(),
        "a no-op update pushed an event"
    );

    // A reassignment: the old and the new assignee are both mailed.
    desk.engineer("eng2").await;
    let moved = desk
        .update(&desk.admin, &created.id, assignee_patch("eng2"))
        .await
        .expect("the ticket update");
    let ev = queues.deliver_next(&notifier).await;
    assert_eq!(*ticket_of(&ev), moved);
    assert_eq!(ev.previous_assignee(), Some("eng1"));
    assert_eq!(
        serde_json::to_value(&ev.data.changes).expect("changes"),
        json!({"assignee": {"from": "eng1", "to": "eng2"}})
    );
    let mails = new_mails(&created.id, &mut seen).await;
    assert_one_each(
        &mails,
        &[
            &email_of("cust1"),
            &email_of("admin"),
            &email_of("admin2"),
            &email_of("eng1"),
            &email_of("eng2"),
        ],
    );
    for m in &mails {
        assert_mail_describes(&m.subject, &m.body, &moved, &[]);
        assert_change_line(&m.body, "assignee", "eng1", "eng2");
    }
    assert!(desk.outbox().await.is_empty(), "every event was delivered");
}

/// SES refusing the mail (an unverified sender) is permanent: the claim is given back, the
/// outbox keeps the event, and the record is reported failed so it ends in the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ses_refusal_is_permanent_and_reported() {
    let queues = Queues::new(2, 30).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(queues.publisher());
    let customer = desk.customer("cust1").await;
    let t = desk.create(&customer, "From an unverified sender").await;
    let msgs = queues.receive_exactly(1).await;
    let ev: Event =
        serde_json::from_str(msgs[0].body.as_deref().expect("body")).expect("a ticket event");
    ses_transport().await; // the crm.local identity exists; this sender is elsewhere
    let sdk = crm_tests::emulator::sdk_config().await;
    let n = notifier(
        desk.store().clone(),
        crm_notifier::Transport::Ses {
            client: aws_sdk_sesv2::Client::new(&sdk),
            from: format!("no-reply@{}.example", crm_tests::unique("unverified")),
        },
        queues.publisher(),
    );
    match n.deliver(&ev).await {
        Err(crm_notifier::DeliveryError::Permanent(_)) => {}
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
    assert_eq!(
        desk.store()
            .delivery(ev.key_id())
            .await
            .expect("marker read"),
        None,
        "the claim is given back"
    );
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_some()
    );
    let resp = n.handle_sqs(super::cloud::event_of(&msgs)).await;
    assert_eq!(
        failed_ids(&resp),
        vec![msgs[0].message_id.clone().expect("id")]
    );
    assert!(mails_about(&t.id).await.is_empty());
}
