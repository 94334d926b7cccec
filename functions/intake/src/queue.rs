//! The intake function's work (SPEC §9): a batch from the intake queue, each message either
//! S3's notification that SES receiving stored a raw mail (read from the bucket, then
//! `deliver::take` as on every path) or a JSON command (`command::run`). Partial batch
//! failures: a message that may pass later is reported failed and comes back (the queue's
//! redrive moves it to the DLQ after its receives); one that can never succeed goes to the
//! DLQ at once with its reason in the `reason` message attribute, and counts as handled.
//!
//! The bucket notifies the queue directly (an S3 event notification, s3:ObjectCreated:*):
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
//! gives the record shape, whose object key is URL-encoded as in an HTML form.

use crate::MAX_MESSAGE_BYTES;
use crate::command::{self, Failure};
use crate::deliver::{Source, Taken, take};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crm_shared::attachments::download::{HeadClient, S3Error};
use crm_shared::attachments::location::{Bucket, BucketAddress, Endpoint};
use crm_shared::mail::ReplyAddresses;
use crm_shared::model::Timestamp;
use crm_shared::service::Ctx;
use serde_json::Value;

/// The message attribute that carries why a message went to the DLQ.
pub const REASON_ATTRIBUTE: &str = "reason";

/// Where SES receiving's stored mail is read.
pub struct Mailbox {
    pub client: HeadClient,
    /// AWS, or an emulator's URL (tests).
    pub endpoint: Endpoint,
    pub credentials: SharedCredentialsProvider,
    /// The region of a record that names none.
    pub region: String,
}

/// The intake DLQ, for messages that can never succeed.
pub struct DeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

pub struct Intake {
    pub ctx: Ctx,
    /// The mail channel (`CRM_INBOUND_ADDRESS`); `None`: stored mail is refused for good.
    pub replies: Option<ReplyAddresses>,
    pub mailbox: Option<Mailbox>,
    pub dead_letters: DeadLetters,
}

/// What one queue message came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// A command's result line, or what became of each stored mail.
    Done(Value),
    Failed(Failure),
}

impl Intake {
    /// One batch: the ids of the messages to deliver again.
    pub async fn handle(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for m in &batch.records {
            let id = m.message_id.clone().unwrap_or_default();
            let outcome = self.message(m).await;
            let again = match outcome {
                Handled::Done(_) => false,
                Handled::Failed(f @ Failure::Permanent { .. }) => {
                    tracing::warn!(message_id = %id, reason = %f.reason(), "intake: to the DLQ");
                    self.dead_letter(m, &f.reason()).await.is_err()
                }
                Handled::Failed(Failure::Transient(why)) => {
                    tracing::warn!(message_id = %id, reason = %why, "intake: will retry");
                    true
                }
            };
            if again {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                failures.push(f);
            }
        }
        let mut out = SqsBatchResponse::default();
        out.batch_item_failures = failures;
        out
    }

    /// One queue message, by its kind.
    pub async fn message(&self, m: &SqsMessage) -> Handled {
        let body = m.body.as_deref().unwrap_or_default();
        let value = match serde_json::from_str::<Value>(body) {
            Ok(v) => v,
            Err(_) => {
                return Handled::Failed(permanent(
                    "not JSON: neither a command nor S3's notification",
                ));
            }
        };
        if value.get("Records").is_some() {
            return match serde_json::from_value::<S3Event>(value) {
                Ok(ev) => self.stored_mail(ev).await,
                Err(e) => Handled::Failed(permanent(&format!("not an S3 notification: {e}"))),
            };
        }
        // S3's test message when the notification is configured: nothing to do.
        if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Handled::Done(Value::Null);
        }
        match command::run(&self.ctx, body.as_bytes()).await {
            Ok(line) => Handled::Done(line),
            Err(f) => Handled::Failed(f),
        }
    }

    async fn stored_mail(&self, ev: S3Event) -> Handled {
        let (Some(replies), Some(mailbox)) = (&self.replies, &self.mailbox) else {
            return Handled::Failed(permanent(
                "stored mail, but the mail channel is off (CRM_INBOUND_ADDRESS unset)",
            ));
        };
        let mut done = Vec::new();
        for r in &ev.records {
            let (Some(bucket), Some(key)) =
                (r.s3.bucket.name.as_deref(), r.s3.object.key.as_deref())
            else {
                return Handled::Failed(permanent("S3 notification without bucket or key"));
            };
            let key = form_decoded(key);
            let region = r.aws_region.as_deref().unwrap_or(&mailbox.region);
            let address = match Bucket::parse(bucket)
                .and_then(|b| BucketAddress::new(b, region, mailbox.endpoint.clone()))
            {
                Ok(a) => a,
                Err(e) => return Handled::Failed(permanent(&format!("bucket: {e}"))),
            };
            let credentials = match mailbox.credentials.provide_credentials().await {
                Ok(c) => c,
                Err(e) => return Handled::Failed(Failure::Transient(format!("credentials: {e}"))),
            };
            let raw = mailbox
                .client
                .get(
                    &address,
                    &credentials,
                    &key,
                    Timestamp::now(),
                    MAX_MESSAGE_BYTES as u64 + 1,
                )
                .await;
            let raw = match raw {
                Ok(Some(raw)) => raw,
                // Expired (7 days) or removed: it will not come back.
                Ok(None) => return Handled::Failed(permanent("stored mail not found")),
                Err(S3Error::TooLarge(_)) => {
                    // Over the limit: refused, as parse would (one line, nothing created).
                    tracing::info!(reason = "message over 10485760 bytes", "mail in: dropped");
                    done.push(Value::from("dropped"));
                    continue;
                }
                Err(S3Error::Status(403)) => {
                    return Handled::Failed(permanent("S3 refused the read (403)"));
                }
                Err(e) => return Handled::Failed(Failure::Transient(e.to_string())),
            };
            match take(&self.ctx, replies, &raw, &[], Source::Ses).await {
                Ok(t) => done.push(Value::from(match t {
                    Taken::Ticket { .. } => "ticket",
                    Taken::Comment { .. } => "comment",
                    Taken::Dropped(_) => "dropped",
                })),
                Err(e) => return Handled::Failed(Failure::from(e)),
            }
        }
        Handled::Done(Value::from(done))
    }

    /// Sends the message to the DLQ with its reason (its body as it came).
    async fn dead_letter(&self, m: &SqsMessage, reason: &str) -> Result<(), ()> {
        use aws_sdk_sqs::types::MessageAttributeValue;
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason.chars().take(1000).collect::<String>())
            .build()
            .map_err(|_| ())?;
        let d = &self.dead_letters;
        match d
            .client
            .send_message()
            .queue_url(&d.queue_url)
            .message_body(m.body.clone().unwrap_or_else(|| "(empty)".into()))
            .message_attributes(REASON_ATTRIBUTE, attr)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "intake: DLQ send failed; the message comes back");
                Err(())
            }
        }
    }
}

fn permanent(reason: &str) -> Failure {
    Failure::Permanent {
        code: "UNPROCESSABLE".into(),
        message: reason.to_owned(),
    }
}

/// An S3 notification's object key: URL-encoded as an HTML form (`+` a space).
fn form_decoded(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}
