//! Who is mailed (SPEC §4): the reporter, every approved ADMIN, the assignee if any and, on
//! reassignment, the previous assignee; each address once; only users approved at send time
//! who may see the ticket (pending, rejected and demoted users not).

use super::support::*;
use crm_notifier::{Notifier, Transport};
use crm_shared::model::{Change, Changes, Event, UserStatus};
use crm_shared::queue::Publisher;
use crm_tests::desk::ticket_event_channel;
use crm_tests::desk::{ticket_of, ticket_of_mut};
use serde_json::json;

/// Users: approved admins `admin` and `admin2`, a pending and a rejected admin, customer
/// `cust1`, approved engineers `eng1` and `eng2` and a pending engineer `eng3`.
async fn office() -> (Desk, Notifier, crm_tests::desk::TicketEvents) {
    let (publisher, rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    desk.admin_with_status("admin2", UserStatus::Approved).await;
    desk.admin_with_status("waitingadmin", UserStatus::Pending)
        .await;
    desk.admin_with_status("refusedadmin", UserStatus::Rejected)
        .await;
    desk.customer("cust1").await;
    desk.engineer("eng1").await;
    desk.engineer("eng2").await;
    desk.signup("eng3", crm_shared::model::UserType::Engineer)
        .await
        .expect("engineer signup");
    let n = notifier(
        desk.store().clone(),
        Transport::log(None),
        Publisher::Outbox,
    );
    (desk, n, rx)
}

async fn recipients(n: &Notifier, ev: &Event) -> Vec<String> {
    n.recipients(ev).await.expect("recipients")
}

const ADMINS: [&str; 2] = ["admin@email.com", "admin2@email.com"];

fn with_admins(others: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ADMINS.iter().map(|s| (*s).to_owned()).collect();
    v.extend(others.iter().map(|o| email_of(o)));
    v
}

#[track_caller]
fn assert_exactly(got: &[String], want: &[String]) {
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_recipients(got, &want);
}

#[tokio::test]
async fn reporter_admins_and_assignee_then_the_previous_assignee_on_reassignment() {
    let (desk, n, mut rx) = office().await;
    let cust = authed(&desk.ctx, "cust1", crm_shared::model::UserType::Customer);
    let t = desk.create(&cust, "Who hears about it").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    let created = rx.recv().await.expect("event");
    assert_exactly(
        &recipients(&n, &created).await,
        &with_admins(&["cust1", "eng1"]),
    );

    desk.update(&desk.admin, &t.id, assignee_patch("eng2"))
        .await
        .expect("the ticket update");
    let moved = rx.recv().await.expect("event");
    assert_eq!(moved.previous_assignee(), Some("eng1"));
    assert_exactly(
        &recipients(&n, &moved).await,
        &with_admins(&["cust1", "eng1", "eng2"]),
    );

    // A later change that is not a reassignment: the former assignee is no longer mailed.
    desk.update(&desk.admin, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("the ticket update");
    let blocked = rx.recv().await.expect("event");
    assert_eq!(blocked.previous_assignee(), None);
    assert_exactly(
        &recipients(&n, &blocked).await,
        &with_admins(&["cust1", "eng2"]),
    );
}

#[tokio::test]
async fn an_unassigned_ticket_mails_the_reporter_and_the_admins() {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let cust = desk.customer("cust1").await;
    let t = desk.create(&cust, "Nobody to take it").await;
    assert_eq!(t.assignee, None);
    let ev = rx.recv().await.expect("event");
    let n = notifier(
        desk.store().clone(),
        Transport::log(None),
        Publisher::Outbox,
    );
    assert_exactly(
        &recipients(&n, &ev).await,
        &[email_of("admin"), email_of("cust1")],
    );
}

#[tokio::test]
async fn an_admin_who_reports_is_mailed_once() {
    let (desk, n, mut rx) = office().await;
    let admin2 = authed(&desk.ctx, "admin2", crm_shared::model::UserType::Admin);
    desk.create(&admin2, "Reported by an admin").await;
    let ev = rx.recv().await.expect("event");
    assert_eq!(ticket_of(&ev).reporter, "admin2");
    assert_exactly(&recipients(&n, &ev).await, &with_admins(&["eng1"]));
}

/// One row: a reporter, an assignee, a previous assignee, and who is mailed besides the
/// approved admins.
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

#[tokio::test]
async fn each_address_once_whatever_the_roles_overlap() {
    let (desk, n, mut rx) = office().await;
    let cust = authed(&desk.ctx, "cust1", crm_shared::model::UserType::Customer);
    desk.create(&cust, "Template").await;
    let template = rx.recv().await.expect("event");
    let cases: &[Case] = &[
        ("cust1", None, None, &["cust1"]),
        ("cust1", Some("eng1"), None, &["cust1", "eng1"]),
        (
            "cust1",
            Some("eng2"),
            Some("eng1"),
            &["cust1", "eng1", "eng2"],
        ),
        // An engineer who reported and is assigned.
        ("eng1", Some("eng1"), None, &["eng1"]),
        // Reassigned away from the engineer who reported it.
        ("eng1", Some("eng2"), Some("eng1"), &["eng1", "eng2"]),
        // An admin reporter, and a reassignment back and forth.
        ("admin", Some("eng1"), Some("eng2"), &["eng1", "eng2"]),
        // The previous assignee left unassigned (no current assignee).
        ("cust1", None, Some("eng1"), &["cust1", "eng1"]),
        // A pending admin is not mailed, not even as the reporter (SPEC §4: approved only).
        ("waitingadmin", None, None, &[]),
    ];
    for (reporter, assignee, previous, others) in cases {
        let mut ev = template.clone();
        ticket_of_mut(&mut ev).reporter = (*reporter).to_owned();
        ticket_of_mut(&mut ev).assignee = assignee.map(str::to_owned);
        ev.data.changes = previous.map(|p| {
            Changes(vec![Change {
                field: "assignee".into(),
                from: json!(p),
                to: json!(assignee),
            }])
        });
        let got = recipients(&n, &ev).await;
        let want = with_admins(others);
        let as_set = set(&got);
        assert_eq!(
            as_set.len(),
            got.len(),
            "{reporter}/{assignee:?}/{previous:?}: an address repeats in {got:?}"
        );
        assert_eq!(as_set, set(&want), "{reporter}/{assignee:?}/{previous:?}");
    }
}

#[tokio::test]
async fn pending_and_rejected_admins_and_other_users_are_not_mailed() {
    let (desk, n, mut rx) = office().await;
    let cust = authed(&desk.ctx, "cust1", crm_shared::model::UserType::Customer);
    desk.create(&cust, "Not for everyone").await;
    let ev = rx.recv().await.expect("event");
    let got = recipients(&n, &ev).await;
    for outsider in ["waitingadmin", "refusedadmin", "eng2", "eng3"] {
        assert!(
            !got.contains(&email_of(outsider)),
            "{outsider} is mailed: {got:?}"
        );
    }
    // An admin approved later is mailed from then on; one rejected later no longer.
    desk.set("waitingadmin", None, Some(UserStatus::Approved))
        .await;
    desk.set("admin2", None, Some(UserStatus::Rejected)).await;
    let got = recipients(&n, &ev).await;
    assert_exactly(
        &got,
        &[
            email_of("admin"),
            email_of("waitingadmin"),
            email_of("cust1"),
            email_of("eng1"),
        ],
    );
}

crm_tests::on_both_backends!(concurrent: revoked_users_are_not_mailed);

/// SPEC §4: only users APPROVED at send time who may see the ticket are mailed. Between the
/// change and the mail, the previous assignee is demoted to CUSTOMER, the assignee set
/// PENDING and the reporter rejected: the mail goes to the approved admins only.
async fn revoked_users_are_not_mailed(store: crm_shared::store::Store) {
    use crm_shared::model::UserType;
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(store).await.with_publisher(publisher);
    let cust = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    desk.engineer("eng2").await;
    desk.engineer("eng3").await;
    let t = desk.create(&cust, "Mailed to whom it may concern").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    let _created = rx.recv().await.expect("event");
    desk.update(&desk.admin, &t.id, assignee_patch("eng2"))
        .await
        .expect("the ticket update");
    let moved = rx.recv().await.expect("event");
    assert_eq!(moved.previous_assignee(), Some("eng1"));
    let log = crm_tests::server::temp_dir("notify-revoked").join("mail.log");
    let n = notifier(
        desk.store().clone(),
        Transport::log(Some(log.clone())),
        Publisher::Outbox,
    );
    // Everyone is mailed while approved and staff.
    assert_exactly(
        &recipients(&n, &moved).await,
        &[
            email_of("admin"),
            email_of("cust1"),
            email_of("eng1"),
            email_of("eng2"),
        ],
    );
    // An engineer who reported a ticket and is demoted to CUSTOMER still hears about it as
    // its reporter (a customer sees what they reported), no longer as its assignee.
    let mut own = moved.clone();
    ticket_of_mut(&mut own).reporter = "eng3".into();
    ticket_of_mut(&mut own).assignee = Some("eng3".into());
    own.data.changes = None;
    desk.set("eng3", Some(UserType::Customer), None).await;
    assert_exactly(
        &recipients(&n, &own).await,
        &[email_of("admin"), email_of("eng3")],
    );

    desk.set("eng1", Some(UserType::Customer), None).await;
    desk.set("eng2", None, Some(UserStatus::Pending)).await;
    desk.set("cust1", None, Some(UserStatus::Rejected)).await;
    assert_exactly(&recipients(&n, &moved).await, &[email_of("admin")]);
    n.deliver(&moved).await.expect("delivered");
    let lines = mail_log(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_exactly(&recipients_of(&lines[0]), &[email_of("admin")]);
    // Approved again (and staff again): mailed again.
    desk.set("eng2", None, Some(UserStatus::Approved)).await;
    desk.set("cust1", None, Some(UserStatus::Approved)).await;
    assert_exactly(
        &recipients(&n, &moved).await,
        &[email_of("admin"), email_of("cust1"), email_of("eng2")],
    );
}
