//! Followers are mailed (SPEC §11, §4): like the reporter for public changes and comments,
//! an internal note only when staff, never when rejected; the followers are read when the
//! mail is sent, so a follower removed before then is not mailed, not even about a change
//! committed before the removal (and one added since is not mailed about an earlier one).
//! The recipients on both backends; then through SES on the emulator (one message per
//! recipient) and through the notification API.

use super::cloud::{MAIL_FROM, Queues, SentMail, mails_about, ses_transport};
use super::notification_api::NotificationApi;
use super::support::*;
use crm_notifier::{Notifier, Transport};
use crm_shared::model::{CommentBody, Event, EventType, UserStatus, UserType};
use crm_shared::queue::Publisher;
use crm_shared::service::{self, Authed, NewComment};
use crm_shared::store::Store;
use crm_tests::desk::{TicketEvents, ticket_event_channel, tid};

crm_tests::on_both_backends!(
    followers_are_mailed_like_the_reporter_internal_notes_to_staff_followers_only,
    a_removed_follower_is_not_mailed_even_for_an_event_before_the_removal,
);

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

/// The admin, customer `cust` (reporter), engineer `eng` (assignee), followers `fcust` (a
/// customer) and `feng` (an engineer), and `fgone` (a customer, following too); a ticket
/// they all follow; the events on a channel, drained.
async fn office(store: Store) -> (Desk, Notifier, TicketEvents, Authed, Authed, String) {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(store).await.with_publisher(publisher);
    let cust = desk.customer("cust").await;
    let eng = desk.engineer("eng").await;
    desk.customer("fcust").await;
    desk.engineer("feng").await;
    desk.customer("fgone").await;
    let t = desk.create(&cust, "Printer on fire").await;
    assert_eq!(t.assignee.as_deref(), Some("eng"));
    for f in ["fcust", "feng", "fgone"] {
        desk.follow(&cust, &t.id, f).await;
    }
    while rx.try_recv().is_ok() {}
    let n = notifier(
        desk.store().clone(),
        Transport::log(None),
        Publisher::Outbox,
    );
    (desk, n, rx, cust, eng, t.id)
}

#[track_caller]
fn assert_mailed(got: Vec<String>, ids: &[&str]) {
    let want: Vec<String> = ids.iter().map(|i| email_of(i)).collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_recipients(&got, &want);
}

async fn followers_are_mailed_like_the_reporter_internal_notes_to_staff_followers_only(
    store: Store,
) {
    let (desk, n, mut rx, cust, eng, id) = office(store).await;
    // A public change and a public comment: everyone concerned, followers included.
    desk.update(&eng, &id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    let blocked = rx.recv().await.expect("event");
    let everyone = ["admin", "cust", "eng", "fcust", "feng", "fgone"];
    assert_mailed(n.recipients(&blocked).await.expect("recipients"), &everyone);
    add(&desk, &cust, &id, "Any news?", false).await;
    let public = rx.recv().await.expect("event");
    assert_mailed(n.recipients(&public).await.expect("recipients"), &everyone);
    // An internal note: staff only, the staff follower included, no customer follower.
    add(&desk, &eng, &id, "Call the fire brigade.", true).await;
    let note = rx.recv().await.expect("event");
    assert!(note.is_internal());
    assert_mailed(
        n.recipients(&note).await.expect("recipients"),
        &["admin", "eng", "feng"],
    );
    // A staff follower's own internal note: the same.
    let feng = desk.as_user("feng", UserType::Engineer);
    add(&desk, &feng, &id, "Brigade called.", true).await;
    let own = rx.recv().await.expect("event");
    assert_mailed(
        n.recipients(&own).await.expect("recipients"),
        &["admin", "eng", "feng"],
    );
    // A follower rejected (or pending) when the mail is sent is not mailed; one approved
    // again is.
    desk.set_status("fcust", UserStatus::Rejected).await;
    desk.set_status("feng", UserStatus::Pending).await;
    assert_mailed(
        n.recipients(&public).await.expect("recipients"),
        &["admin", "cust", "eng", "fgone"],
    );
    desk.set_status("fcust", UserStatus::Approved).await;
    assert_mailed(
        n.recipients(&public).await.expect("recipients"),
        &["admin", "cust", "eng", "fcust", "fgone"],
    );
    // A follower who is also the assignee, or an admin following, is mailed once.
    desk.follow(&desk.admin, &id, "admin").await;
    let followed = rx.recv().await.expect("event");
    let got = n.recipients(&followed).await.expect("recipients");
    assert_mailed(got, &["admin", "cust", "eng", "fcust", "fgone"]);
    // A breach or a rating goes to staff only: never to a follower (SPEC §10, §12).
    let mut breach = blocked.clone();
    breach.event_type = EventType::SlaBreached;
    breach.data.changes = None;
    assert_mailed(
        n.recipients(&breach).await.expect("recipients"),
        &["admin", "eng"],
    );
}

async fn a_removed_follower_is_not_mailed_even_for_an_event_before_the_removal(store: Store) {
    let (desk, n, mut rx, cust, eng, id) = office(store).await;
    desk.update(&eng, &id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let closed = rx.recv().await.expect("event");
    assert!(
        crm_tests::desk::ticket_of(&closed)
            .followers
            .contains(&"fgone".to_owned()),
        "the event names the follower"
    );
    // Removed after the change, before its mail: not mailed about it.
    let fgone = desk.as_user("fgone", UserType::Customer);
    desk.remove_follower(&fgone, &id, "fgone")
        .await
        .expect("leaves");
    let left = rx.recv().await.expect("event");
    let rest = ["admin", "cust", "eng", "fcust", "feng"];
    assert_mailed(n.recipients(&closed).await.expect("recipients"), &rest);
    // Nor about their own removal, nor anything later.
    assert_mailed(n.recipients(&left).await.expect("recipients"), &rest);
    add(&desk, &cust, &id, "Reopening.", false).await;
    let reply = rx.recv().await.expect("event");
    assert_eq!(reply.event_type, EventType::CommentCreated);
    assert_mailed(n.recipients(&reply).await.expect("recipients"), &rest);
    // The reopening's own ticket.updated rides with the comment: not mailed again.
    let reopened = rx.recv().await.expect("event");
    assert_eq!(reopened.event_type, EventType::TicketUpdated);
    assert!(
        n.recipients(&reopened)
            .await
            .expect("recipients")
            .is_empty()
    );
    // A follower added since a change is not mailed about it (they were not following).
    desk.customer("late").await;
    desk.follow(&cust, &id, "late").await;
    let joined = rx.recv().await.expect("event");
    assert_mailed(n.recipients(&reply).await.expect("recipients"), &rest);
    let mut with_late: Vec<&str> = rest.to_vec();
    with_late.push("late");
    assert_mailed(n.recipients(&joined).await.expect("recipients"), &with_late);
    // Removed by the reporter: the same.
    desk.remove_follower(&cust, &id, "fcust")
        .await
        .expect("removed");
    assert_mailed(
        n.recipients(&joined).await.expect("recipients"),
        &["admin", "cust", "eng", "feng", "late"],
    );
}

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

/// One message per recipient, each alone in it, each wanted address once.
#[track_caller]
fn assert_one_each(mails: &[SentMail], ids: &[&str]) {
    for m in mails {
        assert_eq!(
            m.destinations.len(),
            1,
            "one destination per message: {m:?}"
        );
        assert_eq!(m.from, MAIL_FROM);
    }
    let got: Vec<String> = mails.iter().flat_map(|m| m.destinations.clone()).collect();
    assert_mailed(got, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ses_mails_a_follower_customer_public_changes_and_never_an_internal_note() {
    let queues = Queues::new(2, 30).await;
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await)
        .await
        .with_publisher(queues.publisher());
    let cust = desk.customer("cust").await;
    let eng = desk.engineer("eng").await;
    let notifier = notifier(
        desk.store().clone(),
        ses_transport().await,
        queues.publisher(),
    );
    let suffix = crm_tests::unique("f").replace('-', "");
    // Addresses are the emulator's to share: the followers' are unique to this test.
    let (fcust, feng, fgone) = (
        format!("fcust{suffix}"),
        format!("feng{suffix}"),
        format!("fgone{suffix}"),
    );
    desk.customer(&fcust).await;
    desk.engineer(&feng).await;
    desk.customer(&fgone).await;
    let mut seen = Vec::new();
    let t = desk.create(&cust, "Printer on fire").await;
    queues.deliver_next(&notifier).await;
    new_mails(&t.id, &mut seen).await;
    for f in [&fcust, &feng, &fgone] {
        desk.follow(&cust, &t.id, f).await;
        let ev = queues.deliver_next(&notifier).await;
        assert_eq!(ev.event_type, EventType::TicketUpdated);
    }
    // The last addition mailed everyone following then, the new follower included.
    let everyone = [
        "admin",
        "cust",
        "eng",
        fcust.as_str(),
        feng.as_str(),
        fgone.as_str(),
    ];
    // (the additions' mails are checked by the recipients tests; start counting here)
    new_mails(&t.id, &mut seen).await;

    // A public comment: one message each, the follower customer's included.
    add(&desk, &eng, &t.id, "On my way.", false).await;
    let ev = queues.deliver_next(&notifier).await;
    assert_eq!(ev.event_type, EventType::CommentCreated);
    let mails = new_mails(&t.id, &mut seen).await;
    assert_one_each(&mails, &everyone);
    let to_follower = mails
        .iter()
        .find(|m| m.destinations == [email_of(&fcust)])
        .expect("the follower's mail");
    assert!(
        to_follower.body.contains("On my way."),
        "{}",
        to_follower.body
    );

    // An internal note: never the customers, the follower customer included.
    add(&desk, &eng, &t.id, "The customer set it on fire.", true).await;
    queues.deliver_next(&notifier).await;
    let mails = new_mails(&t.id, &mut seen).await;
    assert_one_each(&mails, &["admin", "eng", feng.as_str()]);
    assert!(
        !mails.iter().any(|m| m.destinations == [email_of(&fcust)]),
        "a follower customer got an internal note"
    );

    // A status change committed, then a follower removed before its mail goes out: the
    // removed follower is not mailed about it.
    let blocked = desk
        .update(&eng, &t.id, status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    let gone_user = desk.as_user(&fgone, UserType::Customer);
    let msgs = queues.receive_exactly(1).await;
    let pending: Event =
        serde_json::from_str(msgs[0].body.as_deref().expect("body")).expect("event");
    assert_eq!(crm_tests::desk::ticket_of(&pending), &blocked);
    desk.remove_follower(&gone_user, &t.id, &fgone)
        .await
        .expect("leaves");
    let resp = notifier.handle_sqs(super::cloud::event_of(&msgs)).await;
    assert_eq!(failed_ids(&resp), Vec::<String>::new());
    queues.delete(&msgs[0]).await;
    let mails = new_mails(&t.id, &mut seen).await;
    let rest = ["admin", "cust", "eng", fcust.as_str(), feng.as_str()];
    assert_one_each(&mails, &rest);
    for m in &mails {
        assert_mail_describes(&m.subject, &m.body, &blocked, &["status: OPEN -> BLOCKED"]);
    }
    // The removal's own event: the same, and the change it says.
    queues.deliver_next(&notifier).await;
    let mails = new_mails(&t.id, &mut seen).await;
    assert_one_each(&mails, &rest);
    assert!(
        mails[0].body.contains(&format!(
            "followers: {fcust}, {feng}, {fgone} -> {fcust}, {feng}"
        )),
        "{}",
        mails[0].body
    );
    assert!(desk.outbox().await.is_empty(), "every event was delivered");
}

#[tokio::test]
async fn the_notification_api_gets_a_follower_customer_for_public_changes_only() {
    let api = NotificationApi::start().await;
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let cust = desk.customer("cust").await;
    let eng = desk.engineer("eng").await;
    desk.customer("fcust").await;
    desk.customer("fgone").await;
    let t = desk.create(&cust, "Mailed through the API").await;
    desk.follow(&cust, &t.id, "fcust").await;
    desk.follow(&cust, &t.id, "fgone").await;
    while rx.try_recv().is_ok() {}
    let n = notifier(
        desk.store().clone(),
        Transport::http(api.url.clone()).expect("http transport"),
        Publisher::Outbox,
    );
    let public = ["admin", "cust", "eng", "fcust", "fgone"];
    let as_addresses = |ids: &[&str]| -> Vec<String> { ids.iter().map(|i| email_of(i)).collect() };

    add(&desk, &eng, &t.id, "A public answer.", false).await;
    let ev = rx.recv().await.expect("event");
    n.deliver(&ev).await.expect("delivered");
    add(&desk, &eng, &t.id, "An internal note.", true).await;
    let ev = rx.recv().await.expect("event");
    n.deliver(&ev).await.expect("delivered");
    // A change, then the removal of a follower, then its mail.
    desk.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let closed = rx.recv().await.expect("event");
    desk.remove_follower(&cust, &t.id, "fgone")
        .await
        .expect("removed");
    n.deliver(&closed).await.expect("delivered");

    let got = api.about(&t.id);
    assert_eq!(got.len(), 3, "{got:?}");
    let want: [Vec<String>; 3] = [
        as_addresses(&public),
        as_addresses(&["admin", "eng"]),
        as_addresses(&["admin", "cust", "eng", "fcust"]),
    ];
    for (body, want) in got.iter().zip(&want) {
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_recipients(&recipients_of(body), &want);
    }
    assert!(
        got[0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("A public answer.")),
        "{}",
        got[0]
    );
    assert!(
        !recipients_of(&got[1]).contains(&email_of("fcust")),
        "a follower customer got an internal note"
    );
}
