//! Outgoing mail threads and can be answered (SPEC §9): with the mail channel on, every mail
//! about a ticket carries the ticket's reply address (`Reply-To`; the notification API's
//! `"replyTo"`) and `In-Reply-To` / `References` naming the ticket's thread root, and every
//! mail carries the event header the intake drops mail by. Through SES v2 on the emulator:
//! the request the SDK sends (read by an interceptor on its way to moto) and moto's record
//! that it took it. The reply address read off a sent mail then answers the ticket.

use super::cloud::{mails_about, ses_transport};
use super::notification_api::NotificationApi;
use super::support::*;
use crate::intake::{mail, replies};
use crm_intake::deliver::{Source, Taken, take};
use crm_notifier::{Notifier, Outcome, Transport};
use crm_shared::mail::{EVENT_HEADER, Recipient};
use crm_shared::model::CommentBody;
use crm_shared::queue::Publisher;
use crm_shared::service::{self, NewComment};
use crm_tests::desk::{TicketEvents, ticket_event_channel, tid};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Keeps the JSON body of every SES request the client sends (they still go to moto).
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<Value>>>);

impl aws_sdk_sesv2::config::Intercept for Capture {
    fn name(&self) -> &'static str {
        "capture"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_sesv2::config::RuntimeComponents,
        _: &mut aws_sdk_sesv2::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(v) = context
            .request()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            && v.get("Content").is_some()
        {
            self.0.lock().expect("capture").push(v);
        }
        Ok(())
    }
}

impl Capture {
    fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.0.lock().expect("capture"))
    }
}

/// SES on the emulator through a client that keeps its SendEmail requests.
async fn capturing_ses() -> (Transport, Capture) {
    let Transport::Ses { from, .. } = ses_transport().await else {
        unreachable!("ses_transport makes an SES transport")
    };
    let capture = Capture::default();
    let sdk = crm_tests::emulator::sdk_config().await;
    let conf = aws_sdk_sesv2::config::Builder::from(&sdk)
        .interceptor(capture.clone())
        .build();
    let client = aws_sdk_sesv2::Client::from_conf(conf);
    (Transport::Ses { client, from }, capture)
}

fn header<'a>(req: &'a Value, name: &str) -> Vec<&'a str> {
    req["Content"]["Simple"]["Headers"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter(|h| h["Name"].as_str() == Some(name))
                .filter_map(|h| h["Value"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// A desk on SQLite whose ticket events come back here, and a customer's ticket.
async fn desk_with_ticket() -> (Desk, TicketEvents, String) {
    let (publisher, rx) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let customer = desk.customer("cust1").await;
    desk.engineer("eng1").await;
    let t = desk.create(&customer, "Threaded").await;
    (desk, rx, t.id)
}

fn with_replies(mut n: Notifier, on: bool) -> Notifier {
    n.replies = on.then(replies);
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_mail_carries_the_reply_address_and_the_thread_headers() {
    let (desk, mut rx, id) = desk_with_ticket().await;
    let (transport, capture) = capturing_ses().await;
    let n = with_replies(
        notifier(desk.store().clone(), transport, Publisher::Outbox),
        true,
    );
    let created = rx.recv().await.expect("the creation event");
    let customer = desk.as_user("cust1", crm_shared::model::UserType::Customer);
    service::add_comment(
        &desk.ctx,
        &customer,
        &tid(&id),
        NewComment {
            body: CommentBody::parse("Any news?").expect("body"),
            internal: false,
            attachments: Vec::new(),
        },
    )
    .await
    .expect("comment");
    let commented = rx.recv().await.expect("the comment event");
    let reply_to = replies().reply_to(&tid(&id));
    let root = format!("<{id}@help.example.com>");
    for ev in [&created, &commented] {
        assert!(matches!(n.deliver(ev).await, Ok(Outcome::Sent { .. })));
        let sent = capture.take();
        assert!(!sent.is_empty(), "SES requests for {}", ev.id);
        for req in &sent {
            assert_eq!(
                req["ReplyToAddresses"],
                serde_json::json!([reply_to]),
                "{req}"
            );
            assert_eq!(header(req, "In-Reply-To"), vec![root.as_str()], "{req}");
            assert_eq!(header(req, "References"), vec![root.as_str()], "{req}");
            assert_eq!(header(req, EVENT_HEADER), vec![ev.id.as_str()], "{req}");
        }
    }
    // SES (the emulator) took them.
    assert!(!mails_about(&id).await.is_empty());
    // The reply address verifies as this ticket's.
    assert_eq!(replies().classify(&reply_to), Recipient::Reply(tid(&id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_mail_channel_ses_mail_carries_the_event_header_only() {
    let (desk, mut rx, _) = desk_with_ticket().await;
    let (transport, capture) = capturing_ses().await;
    let n = with_replies(
        notifier(desk.store().clone(), transport, Publisher::Outbox),
        false,
    );
    let ev = rx.recv().await.expect("the creation event");
    assert!(matches!(n.deliver(&ev).await, Ok(Outcome::Sent { .. })));
    for req in capture.take() {
        assert!(req.get("ReplyToAddresses").is_none(), "{req}");
        assert!(header(&req, "In-Reply-To").is_empty(), "{req}");
        assert_eq!(header(&req, EVENT_HEADER), vec![ev.id.as_str()], "{req}");
    }
}

#[tokio::test]
async fn the_notification_api_body_carries_the_reply_address_that_answers_the_ticket() {
    let api = NotificationApi::start().await;
    let (desk, mut rx, id) = desk_with_ticket().await;
    let n = with_replies(
        notifier(
            desk.store().clone(),
            Transport::http(api.url.clone()).expect("http transport"),
            Publisher::Outbox,
        ),
        true,
    );
    let ev = rx.recv().await.expect("the creation event");
    assert!(matches!(n.deliver(&ev).await, Ok(Outcome::Sent { .. })));
    let got = api.received();
    assert_eq!(got.len(), 1);
    let reply_to = got[0].body["replyTo"]
        .as_str()
        .expect("replyTo in the body")
        .to_owned();
    assert_eq!(reply_to, replies().reply_to(&tid(&id)));
    // The customer answers that address: a comment on the ticket.
    let raw = mail(
        "cust1@email.com",
        &reply_to,
        "answer@client.example",
        "Re: Threaded",
        "",
        "Thanks, it works now.",
    );
    let taken = take(&desk.ctx, &replies(), &raw, &[], Source::Local)
        .await
        .expect("taken");
    assert!(
        matches!(&taken, Taken::Comment { ticket_id, .. } if *ticket_id == id),
        "{taken:?}"
    );
}
