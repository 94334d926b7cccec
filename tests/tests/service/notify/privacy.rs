//! SPEC §4: no recipient sees another's address. Through SES each recipient gets their own
//! message, recorded by its own marker, so a retry after a partial failure mails only those
//! not mailed yet. SES is moto behind a stand-in that fails one recipient (`standin.rs`).

use super::cloud::{mails_about, one_mail_each};
use super::standin::{Rule, StandIn};
use super::support::*;
use crm_notifier::{DeliveryError, Outcome};
use crm_shared::model::Timestamp;
use crm_shared::queue::Publisher;
use crm_shared::store::{MARKER_TTL_SECONDS, Store, keys};

crm_tests::on_both_backends!(concurrent: a_retry_after_a_partial_ses_failure_mails_nobody_twice);

async fn a_retry_after_a_partial_ses_failure_mails_nobody_twice(store: Store) {
    let desk = Desk::new(store).await.with_publisher(Publisher::Outbox);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    let t = desk.create(&customer, "Mailed one by one").await;
    let ev = desk.outbox_events_of(&t.id).await.pop().expect("the event");
    // Recipients in order: the reporter, the assignee, the admins. The 2nd fails once.
    let (first, second, third) = (email_of("cust1"), email_of("eng1"), email_of("admin"));
    let ses = StandIn::start(Rule::FailSesFor(second.clone(), 1)).await;
    let n = notifier(
        desk.store().clone(),
        ses.ses_transport().await,
        Publisher::Outbox,
    );

    match n.deliver(&ev).await {
        Err(DeliveryError::Retry(_)) => {}
        other => panic!("the failed recipient fails the delivery: {other:?}"),
    }
    assert_eq!(
        desk.store().delivery(ev.key_id()).await.expect("marker"),
        None,
        "the claim is given back"
    );
    let mut marked: Vec<String> = desk
        .store()
        .mailed(ev.key_id())
        .await
        .expect("recipient markers")
        .into_iter()
        .map(|m| m.address)
        .collect();
    marked.sort();
    assert_eq!(marked, {
        let mut v = vec![first.clone(), third.clone()];
        v.sort();
        v
    });
    for who in [&first, &third] {
        let raw = desk
            .store()
            .get(&keys::mailed(ev.key_id(), who))
            .await
            .expect("marker item")
            .expect("a recipient marker");
        let ttl = raw.get("ttl").and_then(|v| v.as_i64()).expect("a ttl");
        let expected = Timestamp::now().seconds() + MARKER_TTL_SECONDS;
        assert!((expected - 900..=expected).contains(&ttl), "ttl {ttl}");
    }

    // The retry (SQS redelivers): only the one not mailed yet is sent.
    let out = n.deliver(&ev).await;
    assert!(
        matches!(out, Ok(Outcome::Sent { recipients: 3, .. })),
        "{out:?}"
    );
    assert_eq!(n.deliver(&ev).await, Ok(Outcome::AlreadySent));
    assert_eq!(
        one_mail_each(&t.id).await,
        set(&[&first, &second, &third]),
        "each recipient exactly one mail in total"
    );
    let seen = ses.seen();
    for s in &seen {
        assert_eq!(s.destinations.len(), 1, "one address per message: {s:?}");
    }
    assert_eq!(
        seen.iter().filter(|s| s.refused).count(),
        1,
        "the stand-in failed one request"
    );
    let asked = |a: &str| seen.iter().filter(|s| s.destinations[0] == a).count();
    assert_eq!(
        (asked(&first), asked(&second), asked(&third)),
        (1, 2, 1),
        "only the failed recipient was sent to again: {seen:?}"
    );
    assert_eq!(mails_about(&t.id).await.len(), 3);
    assert!(
        desk.store()
            .outbox_entry(ev.key_id())
            .await
            .expect("outbox")
            .is_none()
    );
}
