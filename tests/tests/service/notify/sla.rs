//! sla.breached (SPEC §10): a breach found by the sweep is mailed to the assignee and the
//! approved admins, never to the customer who reported the ticket.

use super::support::*;
use crm_notifier::Transport;
use crm_shared::model::{EventType, UserStatus};
use crm_shared::queue::Publisher;
use crm_shared::service::{self, breaches};
use crm_tests::desk::ticket_event_channel;
use serde_json::json;

#[tokio::test]
async fn a_breach_is_mailed_to_the_assignee_and_admins_never_the_customer() {
    let (publisher, mut rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    desk.admin_with_status("admin2", UserStatus::Approved).await;
    let cust = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    service::put_sla(
        &desk.ctx,
        &desk.admin,
        &json!({"targets": {"4": {"firstResponseMinutes": 1}}}),
    )
    .await
    .expect("PUT /sla");
    let t = desk.create(&cust, "Printer on fire").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    while rx.try_recv().is_ok() {}
    desk.ctx.clock.advance(2 * 60_000);
    let r = breaches::sweep(&desk.ctx.writer(), desk.ctx.clock.now())
        .await
        .expect("sweep");
    assert_eq!(r.recorded, 1);
    let e = rx.recv().await.expect("the breach event");
    assert_eq!(e.event_type, EventType::SlaBreached);
    assert_eq!(e.data.target.as_deref(), Some("firstResponse"));
    assert!(rx.try_recv().is_err(), "one event only");
    let log = crm_tests::server::temp_dir("notify-sla").join("mail.log");
    let n = notifier(
        desk.store().clone(),
        Transport::log(Some(log)),
        Publisher::Outbox,
    );
    let got = n.recipients(&e).await.expect("recipients");
    let want = [email_of("admin"), email_of("admin2"), email_of("eng1")];
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_recipients(&got, &want);
    assert!(!got.contains(&email_of("cust1")), "never the customer");
}
