//! Issue 26 item 1: an address SES will not take fails that recipient alone, never the event.
//! Through SES each recipient is mailed alone: one that SES refuses for good is recorded as
//! refused (and never tried again) while the others are mailed; an address stored before the
//! address rule is mailed in the form SES takes (a Unicode domain in Punycode) or, when it has
//! none (a non-ASCII local part), not sent at all. SES is moto behind a stand-in that applies
//! SES's documented address rule (`standin.rs`).

use super::cloud::one_mail_each;
use super::standin::{Rule, StandIn};
use super::support::*;
use crm_notifier::Outcome;
use crm_shared::model::UserId;
use crm_shared::queue::Publisher;
use crm_shared::store::{Store, keys};
use serde_json::Value;

crm_tests::on_both_backends!(
    concurrent: a_recipient_ses_refuses_for_good_is_recorded_and_the_others_are_mailed,
    addresses_stored_before_the_rule_fail_only_their_recipient,
);

async fn a_recipient_ses_refuses_for_good_is_recorded_and_the_others_are_mailed(store: Store) {
    let desk = Desk::new(store).await.with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    let t = desk.create(&customer, "One address refused").await;
    let ev = desk.outbox_events_of(&t.id).await.pop().expect("the event");
    let (first, refused, third) = (email_of("cust1"), email_of("eng1"), email_of("admin"));
    let ses = StandIn::start(Rule::RefuseSesFor(refused.clone())).await;
    let n = notifier(
        desk.store().clone(),
        ses.ses_transport().await,
        Publisher::Outbox,
    );

    // Before: Err(Permanent): the whole event dead-lettered for one address.
    let out = n.deliver(&ev).await;
    assert!(
        matches!(out, Ok(Outcome::Sent { recipients: 3, .. })),
        "one refused recipient does not fail the event: {out:?}"
    );
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_none(),
        "the event is delivered"
    );
    let marker = desk
        .store()
        .get(&keys::mailed(ev.key_id(), &refused))
        .await
        .expect("marker item")
        .expect("the refusal is recorded");
    assert_eq!(
        marker.get("refused"),
        Some(&Value::Bool(true)),
        "{marker:?}"
    );
    assert_eq!(one_mail_each(&t.id).await, set(&[&first, &third]));

    // A copy of the message (SQS redelivers) sends nothing, to the refused address neither.
    assert_eq!(n.deliver(&ev).await, Ok(Outcome::AlreadySent));
    let asked = ses
        .seen()
        .iter()
        .filter(|s| s.destinations == [refused.clone()])
        .count();
    assert_eq!(asked, 1, "the refused address is tried once");
}

/// Replaces the stored address of `id` as an item written before the address rule could
/// hold it.
async fn store_address_as_is(desk: &Desk, id: &str, address: &str) {
    let user = UserId::parse(id).expect("userId");
    let mut item = desk
        .store()
        .get(&keys::user(&user))
        .await
        .expect("user item")
        .expect("the user exists");
    item.insert("email".into(), Value::String(address.into()));
    desk.put_raw(item).await;
}

async fn addresses_stored_before_the_rule_fail_only_their_recipient(store: Store) {
    let desk = Desk::new(store).await.with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    store_address_as_is(&desk, "cust1", "j\u{f6}hn@example.com").await;
    store_address_as_is(&desk, "eng1", "eng1@ex\u{e4}mple.com").await;
    let t = desk.create(&customer, "Old addresses").await;
    let ev = desk.outbox_events_of(&t.id).await.pop().expect("the event");
    let ses = StandIn::start(Rule::SesAscii).await;
    let n = notifier(
        desk.store().clone(),
        ses.ses_transport().await,
        Publisher::Outbox,
    );

    let out = n.deliver(&ev).await;
    assert!(matches!(out, Ok(Outcome::Sent { .. })), "{out:?}");
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&["eng1@xn--exmple-cua.com", &email_of("admin")]),
        "the Unicode domain in Punycode, the non-ASCII local part not at all"
    );
    assert!(
        ses.seen().iter().all(|s| !s.refused),
        "nothing SES refuses is sent: {:?}",
        ses.seen()
    );
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_none(),
        "the event is delivered"
    );
}
