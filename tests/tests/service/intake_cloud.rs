//! The intake's cloud path on the emulator (SPEC §9): a raw message put in a real S3 bucket
//! (moto) with S3's notification of it on a real intake queue with its DLQ, consumed by the
//! intake function's handler as the SQS trigger would (reading the object with its signed
//! GET): SES verdicts `pass` make a ticket and `fail` nothing; a command that can never
//! succeed ends in the DLQ with its reason in the `reason` attribute; a redelivered message
//! creates nothing twice.

use crate::intake::{INBOUND, replies};
use crate::notify::cloud::{Queues, event_of};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use crm_intake::queue::{DeadLetters, Intake, Mailbox, REASON_ATTRIBUTE};
use crm_shared::attachments::download::HeadClient;
use crm_shared::attachments::location::Endpoint;
use crm_shared::config::Secret;
use crm_shared::service::{Ctx, TicketFilter};
use crm_tests::desk::{Desk, SECRET};
use serde_json::json;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A fresh bucket on the emulator (moto takes any signature).
async fn bucket() -> String {
    let name = crm_tests::unique("crm-inbound").to_lowercase();
    let moto = crm_tests::emulator::endpoint();
    let r = reqwest::Client::new()
        .put(format!("{}/{name}", moto.trim_end_matches('/')))
        .header("authorization", AUTH)
        .send()
        .await
        .expect("creating the bucket");
    assert!(r.status().is_success(), "{}", r.status());
    name
}

/// Stores `raw` as SES receiving would and queues S3's notification of it.
async fn store_mail(q: &Queues, bucket: &str, key: &str, raw: &[u8]) {
    let moto = crm_tests::emulator::endpoint();
    let r = reqwest::Client::new()
        .put(format!("{}/{bucket}/{key}", moto.trim_end_matches('/')))
        .header("authorization", AUTH)
        .body(raw.to_vec())
        .send()
        .await
        .expect("putting the mail");
    assert!(r.status().is_success(), "{}", r.status());
    // The record shape of
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    let note = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-06T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:SES"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbound-mail",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A"},
                          "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": raw.len(), "eTag": "e", "sequencer": "0"}}
    }]});
    send(q, &note.to_string()).await;
}

async fn send(q: &Queues, body: &str) {
    q.sqs
        .send_message()
        .queue_url(&q.url)
        .message_body(body)
        .send()
        .await
        .expect("queueing");
}

fn intake(desk: &Desk, q: &Queues) -> Intake {
    Intake {
        ctx: Ctx::new(desk.store().clone(), &Secret::new(SECRET), 3600, 4),
        replies: Some(replies()),
        mailbox: Some(Mailbox {
            client: HeadClient::for_function().expect("the S3 client"),
            endpoint: Endpoint::parse_override(&crm_tests::emulator::endpoint()).expect("endpoint"),
            credentials: SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "tests",
            )),
            region: "us-east-1".into(),
        }),
        dead_letters: DeadLetters {
            client: q.sqs.clone(),
            queue_url: q.dlq_url.clone(),
        },
    }
}

/// One trigger, as the runtime runs it: receive, handle, delete what did not fail. Returns
/// the bodies handled.
async fn pump(q: &Queues, i: &Intake) -> Vec<String> {
    let msgs = q.receive(1).await;
    let resp = i.handle(event_of(&msgs)).await;
    let failed: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}");
    for m in &msgs {
        q.delete(m).await;
    }
    msgs.into_iter().filter_map(|m| m.body).collect()
}

fn ses_mail(id: &str, verdict: &str, subject: &str) -> Vec<u8> {
    format!(
        "Authentication-Results: amazonses.com;\r\n spf={verdict} (spfCheck: domain of email.com) client-ip=203.0.113.1; envelope-from=cust@email.com; helo=mail.email.com;\r\n dkim={verdict} header.i=@email.com;\r\n dmarc={verdict} header.from=email.com;\r\n\
         From: cust@email.com\r\nTo: {INBOUND}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nFrom the cloud.\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_mail_and_commands_through_the_intake_queue() {
    let desk = Desk::new(crm_tests::emulator::dynamo_store().await).await;
    desk.customer("cust").await;
    let q = Queues::new(3, 30).await;
    let b = bucket().await;
    let i = intake(&desk, &q);
    let tickets = || async {
        desk.list_all(&desk.admin, TicketFilter::default(), 100)
            .await
    };

    // Verdicts FAIL: nothing; PASS: a ticket.
    store_mail(
        &q,
        &b,
        "inbound/fail1",
        &ses_mail("fail1@email.com", "fail", "Forged"),
    )
    .await;
    assert_eq!(pump(&q, &i).await.len(), 1);
    assert!(tickets().await.is_empty());
    store_mail(
        &q,
        &b,
        "inbound/pass1",
        &ses_mail("pass1@email.com", "pass", "Real"),
    )
    .await;
    let bodies = pump(&q, &i).await;
    let made = tickets().await;
    assert_eq!(made.len(), 1);
    assert_eq!(desk.ticket(&made[0]).await.title.as_str(), "Real");

    // Redelivered (the same notification again): nothing twice.
    send(&q, &bodies[0]).await;
    pump(&q, &i).await;
    assert_eq!(tickets().await.len(), 1);

    // A command that can never succeed: to the DLQ with its reason, not retried.
    let poison = json!({"type": "ticket.create", "reporter": "nobody", "title": "x",
                        "description": "y"})
    .to_string();
    send(&q, &poison).await;
    pump(&q, &i).await;
    let dead = q
        .sqs
        .receive_message()
        .queue_url(&q.dlq_url)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .expect("DLQ")
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].body.as_deref(), Some(poison.as_str()));
    let reason = dead[0]
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(REASON_ATTRIBUTE))
        .and_then(|v| v.string_value())
        .expect("the reason attribute");
    assert!(reason.contains("USER_NOT_FOUND"), "{reason}");
    // A good command through the same queue.
    send(
        &q,
        &json!({"type": "comment.create", "ticketId": made[0], "author": "cust",
                "body": "Via the queue"})
        .to_string(),
    )
    .await;
    pump(&q, &i).await;
    let c = crm_shared::service::list_comments(
        &desk.ctx,
        &desk.admin,
        &crm_tests::desk::tid(&made[0]),
        None,
        10,
    )
    .await
    .expect("comments");
    assert_eq!(c.items.len(), 1);
    // The stored mail gone (expired): to the DLQ, not retried forever.
    let note = bodies[0].replace("inbound/pass1", "inbound/expired");
    send(&q, &note).await;
    pump(&q, &i).await;
    assert!(q.receive(0).await.is_empty());
}
