//! The cloud side on the moto emulator: a real SQS queue with a dead-letter queue behind a
//! redrive policy, SES v2 with a verified sender domain, the mail moto recorded as sent, and
//! the Lambda runtime's part of an SQS trigger (receive, invoke, delete what succeeded).

use super::support::sqs_event;
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use crm_notifier::{Notifier, Transport};
use crm_shared::model::Event;
use crm_shared::queue::Publisher;
use serde_json::Value;
use std::time::{Duration, Instant};

pub const MAIL_FROM: &str = "no-reply@crm.local";

pub struct Queues {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub dlq_url: String,
}

impl Queues {
    /// A fresh queue whose messages move to a fresh DLQ after `max_receives` receives.
    pub async fn new(max_receives: u32, visibility_seconds: u32) -> Queues {
        let sdk = crm_tests::emulator::sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let name = crm_tests::unique("crm-events");
        let dlq_url = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("creating the DLQ on the emulator")
            .queue_url
            .expect("DLQ url");
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("DLQ attributes")
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .expect("DLQ arn");
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives.to_string(),
        })
        .to_string();
        let url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_seconds.to_string(),
            )
            .send()
            .await
            .expect("creating the queue on the emulator")
            .queue_url
            .expect("queue url");
        Queues { sqs, url, dlq_url }
    }

    pub fn publisher(&self) -> Publisher {
        Publisher::Sqs {
            client: self.sqs.clone(),
            queue_url: self.url.clone(),
        }
    }

    async fn receive_from(&self, url: &str, wait_seconds: i32) -> Vec<Message> {
        self.sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .expect("receiving from the emulator")
            .messages
            .unwrap_or_default()
    }

    /// One receive from the queue (waiting up to `wait_seconds` for a message).
    pub async fn receive(&self, wait_seconds: i32) -> Vec<Message> {
        self.receive_from(&self.url, wait_seconds).await
    }

    /// One receive, with the user events (a fixture's sign-ups and approvals record them;
    /// these tests watch tickets) deleted and left out.
    async fn receive_tickets(&self, wait_seconds: i32) -> Vec<Message> {
        let mut out = Vec::new();
        for m in self.receive(wait_seconds).await {
            let user_event = m
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Event>(b).ok())
                .is_some_and(|e| !e.event_type.is_ticket());
            if user_event {
                self.delete(&m).await;
            } else {
                out.push(m);
            }
        }
        out
    }

    /// Receives until `n` messages (other than user events) came (fails after 10 s), then
    /// once more to make sure no other message is there; deletes none of them.
    pub async fn receive_exactly(&self, n: usize) -> Vec<Message> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got: Vec<Message> = Vec::new();
        while got.len() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} messages on the queue, got {}",
                got.len()
            );
            got.extend(self.receive_tickets(1).await);
        }
        let more = self.receive_tickets(0).await;
        assert!(
            more.is_empty() && got.len() == n,
            "expected exactly {n} messages, got {} and then {} more",
            got.len(),
            more.len()
        );
        got
    }

    /// The bodies now in the dead-letter queue.
    pub async fn dead_letters(&self) -> Vec<String> {
        self.receive_from(&self.dlq_url, 0)
            .await
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    pub async fn delete(&self, m: &Message) {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(m.receipt_handle.clone().expect("receipt handle"))
            .send()
            .await
            .expect("deleting a message");
    }

    /// Receives the one message on the queue (the event a ticket change pushed), has the
    /// notifier handle it as an SQS trigger would, deletes it; returns its event.
    pub async fn deliver_next(&self, notifier: &Notifier) -> Event {
        let msgs = self.receive_exactly(1).await;
        let ev: Event = serde_json::from_str(msgs[0].body.as_deref().expect("a body"))
            .expect("the message is a ticket event");
        let resp = notifier.handle_sqs(event_of(&msgs)).await;
        assert!(
            resp.batch_item_failures.is_empty(),
            "delivery of {} failed",
            ev.id
        );
        self.delete(&msgs[0]).await;
        ev
    }

    /// What the Lambda runtime does for one trigger: receive a batch, invoke the handler,
    /// delete every message not reported as failed. Returns the failed message ids.
    pub async fn pump(&self, notifier: &Notifier) -> (usize, Vec<String>) {
        let msgs = self.receive(1).await;
        if msgs.is_empty() {
            return (0, Vec::new());
        }
        let resp = notifier.handle_sqs(event_of(&msgs)).await;
        let failed = super::support::failed_ids(&resp);
        for m in &msgs {
            if !failed.contains(m.message_id.as_ref().expect("message id")) {
                self.delete(m).await;
            }
        }
        (msgs.len(), failed)
    }
}

/// Hands SQS messages to the handler as the runtime would.
pub fn event_of(msgs: &[Message]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<(&str, Option<&str>)> = msgs
        .iter()
        .map(|m| {
            (
                m.message_id.as_deref().expect("message id"),
                m.body.as_deref(),
            )
        })
        .collect();
    sqs_event(&records)
}

/// An SQS client whose endpoint is a closed loopback port (and that does not retry):
/// every push fails at once.
pub async fn unreachable_publisher() -> Publisher {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").port()
    };
    let sdk = crm_tests::emulator::sdk_config().await;
    let conf = aws_sdk_sqs::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .build();
    Publisher::Sqs {
        client: aws_sdk_sqs::Client::from_conf(conf),
        queue_url: format!("http://127.0.0.1:{port}/123456789012/crm-events"),
    }
}

/// SES v2 on the emulator with the sender's domain verified, as the notifier's transport.
pub async fn ses_transport() -> Transport {
    let sdk = crm_tests::emulator::sdk_config().await;
    let client = aws_sdk_sesv2::Client::new(&sdk);
    if let Err(e) = client
        .create_email_identity()
        .email_identity("crm.local")
        .send()
        .await
    {
        use aws_sdk_sesv2::error::ProvideErrorMetadata;
        assert_eq!(
            e.code(),
            Some("AlreadyExistsException"),
            "creating the SES identity: {e:?}"
        );
    }
    Transport::Ses {
        client,
        from: MAIL_FROM.into(),
    }
}

/// A mail SES accepted, as moto recorded it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub id: String,
    pub from: String,
    /// Every destination address: To, Cc and Bcc.
    pub destinations: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Every mail moto's SES has recorded (all tests share the emulator: filter by ticket id).
pub async fn sent_mails() -> Vec<SentMail> {
    let url = format!(
        "{}/moto-api/data.json",
        crm_tests::emulator::endpoint().trim_end_matches('/')
    );
    // moto's data.json dumps every service's state, and fails now and then (a 500: "keys
    // must be str ..., not DynamoType") while another test's DynamoDB call is half-way: ask
    // again.
    let mut attempts = 0;
    let data: Value = loop {
        attempts += 1;
        let resp = reqwest::get(&url)
            .await
            .expect("reading the emulator's state");
        let status = resp.status();
        let body = resp.text().await.expect("the emulator's state");
        match serde_json::from_str(&body) {
            Ok(v) if status.is_success() => break v,
            _ if attempts < 40 => tokio::time::sleep(Duration::from_millis(50)).await,
            _ => panic!("the emulator's state is not JSON after {attempts} reads ({status})"),
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| SentMail {
            id: text(&m["id"]),
            from: text(&m["source"]),
            destinations: ["ToAddresses", "CcAddresses", "BccAddresses"]
                .iter()
                .flat_map(|k| {
                    m["destinations"][*k]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .map(|v| text(&v))
                .collect(),
            subject: text(&m["subject"]),
            body: text(&m["body"]),
        })
        .collect()
}

/// The mails about one ticket (its id is in every subject).
pub async fn mails_about(ticket_id: &str) -> Vec<SentMail> {
    sent_mails()
        .await
        .into_iter()
        .filter(|m| m.subject.contains(ticket_id) || m.body.contains(ticket_id))
        .collect()
}

/// The addresses mailed about one ticket, after asserting that every SES message about it
/// has exactly one destination (nobody sees another's address) and that no address got two.
pub async fn one_mail_each(ticket_id: &str) -> std::collections::BTreeSet<String> {
    let mails = mails_about(ticket_id).await;
    let mut out = std::collections::BTreeSet::new();
    for m in &mails {
        assert_eq!(
            m.destinations.len(),
            1,
            "an SES message with more than one destination: {m:?}"
        );
        assert!(
            out.insert(m.destinations[0].clone()),
            "{} got two mails: {mails:?}",
            m.destinations[0]
        );
    }
    out
}
