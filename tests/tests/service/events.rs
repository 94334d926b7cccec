//! The event (SPEC §6) on both backends: every change records one event of the one shape,
//! committed with it (its outbox item), read back from the outbox: ids `evt_…`, the seven
//! dotted types, the ticket's version, user events that never carry a password or hash, and
//! a reopening reply's two events.

use crm_shared::model::{Event, EventType, Password, TicketStatus};
use crm_shared::service::{self, PasswordChange, UserUpdate};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, PASSWORD, status_patch, ticket_of};
use serde_json::json;

crm_tests::on_both_backends!(
    ticket_changes_carry_the_ticket_and_its_version,
    user_changes_are_events_without_secrets,
    a_reopening_reply_records_its_comment_and_the_change,
    the_system_changes_are_ticket_updated_by_system,
);

/// The events now in the outbox, oldest first, and (once read) gone from it.
async fn take(w: &Desk) -> Vec<Event> {
    let events: Vec<Event> = w.outbox().await.into_iter().map(|e| e.event).collect();
    w.drop_all_events().await;
    events
}

fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

async fn ticket_changes_carry_the_ticket_and_its_version(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    take(&w).await;
    let t = w.create(&cust, "Printer").await;
    assert_eq!(t.version, 1);
    let blocked = w
        .update(&eng, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("update");
    assert_eq!(blocked.version, 2);
    // An update that changes nothing records nothing and keeps the version.
    let same = w
        .update(&eng, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("update");
    assert_eq!(same.version, 2);
    let events = take(&w).await;
    assert_eq!(types(&events), ["ticket.created", "ticket.updated"]);
    for e in &events {
        assert!(e.id.starts_with("evt_") && e.id.len() == 30, "{}", e.id);
    }
    assert_eq!(events[0].data.actor.as_deref(), Some("cust"));
    assert_eq!(*ticket_of(&events[0]), t);
    assert!(events[0].data.changes.is_none(), "no changes at creation");
    assert_eq!(events[0].timestamp, t.created_at);
    assert_eq!(events[1].data.actor.as_deref(), Some("eng"));
    assert_eq!(*ticket_of(&events[1]), blocked);
    assert_eq!(
        serde_json::to_value(&events[1].data.changes).expect("json"),
        json!({"status": {"from": "OPEN", "to": "BLOCKED"}})
    );
    assert_ne!(events[0].id, events[1].id);
}

async fn user_changes_are_events_without_secrets(store: Store) {
    let w = Desk::new(store).await;
    let cust = crm_tests::desk::signup(&w.ctx, "cust", crm_shared::model::UserType::Customer)
        .await
        .expect("signup");
    service::update_user(
        &w.ctx,
        &w.admin,
        "cust",
        UserUpdate {
            name: Some(crm_shared::model::Name::parse("Cust Omer").expect("name")),
            ..Default::default()
        },
    )
    .await
    .expect("rename");
    service::change_password(
        &w.ctx,
        &cust,
        "cust",
        PasswordChange {
            current: Some(PASSWORD.into()),
            new: Password::parse("N3w-password!").expect("password"),
        },
    )
    .await
    .expect("password change");
    service::signout(&w.ctx, &w.admin).await.expect("signout");
    let events = take(&w).await;
    assert_eq!(
        types(&events),
        ["user.created", "user.updated", "user.updated"],
        "a sign-out records no event"
    );
    let text = serde_json::to_string(&events).expect("json");
    for secret in ["passwordHash", "$2", "N3w-password!", PASSWORD] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let created = &events[0];
    assert_eq!(created.data.actor.as_deref(), Some("cust"));
    let user = created.data.user.as_ref().expect("the user");
    assert_eq!(
        (user.user_id.as_str(), user.email.as_str()),
        ("cust", "cust@email.com")
    );
    assert!(created.data.ticket.is_none());
    assert_eq!(events[1].data.actor.as_deref(), Some("admin"));
    assert_eq!(
        serde_json::to_value(&events[1].data.changes).expect("json"),
        json!({"name": {"from": "CUST", "to": "Cust Omer"}})
    );
    assert_eq!(
        serde_json::to_value(&events[2].data.changes).expect("json"),
        json!({"password": {}}),
        "a password change says so with no values"
    );
}

async fn a_reopening_reply_records_its_comment_and_the_change(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng").await;
    let t = w.create(&cust, "Printer").await;
    w.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    take(&w).await;
    let reply = crate::tickets::comments::comment(
        &w,
        &cust,
        &t.id,
        crate::tickets::comments::public("Still broken."),
    )
    .await;
    let note = crate::tickets::comments::comment(
        &w,
        &eng,
        &t.id,
        crate::tickets::comments::note("Replacing the fuser."),
    )
    .await;
    let events = take(&w).await;
    assert_eq!(
        types(&events),
        ["comment.created", "ticket.updated", "comment.created"]
    );
    let (said, reopened, noted) = (&events[0], &events[1], &events[2]);
    assert_eq!(said.data.comment.as_ref(), Some(&reply));
    assert_eq!(reopened.data.comment.as_ref(), Some(&reply), "the cause");
    for e in [said, reopened] {
        assert_eq!(ticket_of(e).status, "OPEN");
        assert_eq!(ticket_of(e).version, 3);
        assert_eq!(
            serde_json::to_value(&e.data.changes).expect("json"),
            json!({"status": {"from": "CLOSED", "to": "OPEN"}})
        );
    }
    assert!(noted.is_internal());
    assert_eq!(noted.data.comment.as_ref(), Some(&note));
    assert!(noted.data.changes.is_none());
    assert_eq!(ticket_of(noted).version, 3, "a note changes no version");
    assert_eq!(noted.event_type, EventType::CommentCreated);
}

async fn the_system_changes_are_ticket_updated_by_system(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let t = w.create(&cust, "Waiting in the backlog").await;
    assert_eq!(t.assignee, None);
    take(&w).await;
    w.engineer("eng").await;
    crate::tickets::workload::run_pending(&w).await;
    let events: Vec<Event> = take(&w)
        .await
        .into_iter()
        .filter(|e| e.event_type.is_ticket())
        .collect();
    assert_eq!(types(&events), ["ticket.updated"]);
    assert_eq!(events[0].data.actor.as_deref(), Some("system"));
    assert_eq!(ticket_of(&events[0]).assignee.as_deref(), Some("eng"));
    assert_eq!(ticket_of(&events[0]).version, 2);
}
