//! The queue side: pushing committed ticket events (`model::event`) and workload jobs
//! (`model::job`) to SQS, or to the local server's in-process channels, after their
//! transaction commits. The outbox or job item written in the same transaction is the
//! durable record; a push here only makes delivery prompt, so a failed push is logged and
//! never fails the request (the sweep re-pushes it later). (The repository's `events/`
//! folder is something else: sample Lambda payloads, SAM's convention.)

use crate::model::{Event, Job};

/// Where committed events are pushed.
#[derive(Clone, Default)]
pub enum Publisher {
    /// No queue: events wait in the outbox for the sweep.
    #[default]
    Outbox,
    /// The local server's in-process queue (in place of SQS). It refuses what SQS refuses
    /// (`sqs_accepts`), so an event that could never reach the cloud queue fails here too.
    Channel(tokio::sync::mpsc::UnboundedSender<Event>),
    /// The SQS queue the notifier consumes.
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
}

/// Why a push failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue is down, slow or throttling: a later push may succeed.
    #[error("{0}")]
    Transient(String),
    /// The queue refuses this event itself (its body): pushing it again will never succeed.
    #[error("refused for good: {0}")]
    Permanent(String),
}

/// Whether SQS takes this text as a message body. SQS allows only `#x9 | #xA | #xD |
/// #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF` and refuses any other character with
/// `InvalidMessageContents`:
/// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
/// (a Rust string holds no surrogates, so only the C0 controls and U+FFFE/U+FFFF can fail).
pub fn sqs_accepts(body: &str) -> bool {
    body.chars().all(|c| {
        matches!(c,
            '\u{9}' | '\u{A}' | '\u{D}'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'..='\u{10FFFF}')
    })
}

/// How long a push on a request's path may take: one attempt, no retry. The outbox item (or
/// the job item) committed with the change is the durable record and the sweep re-pushes
/// what this loses, so a queue that is down or slow costs a request at most this, never the
/// SDK's retries with backoff (3 attempts within 5 s, `cloud::sdk_config`). A cold
/// connection to SQS in its region (TCP and TLS) takes tens of milliseconds.
pub const REQUEST_PATH_PUSH_BUDGET: std::time::Duration = std::time::Duration::from_millis(300);

/// How hard one push tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effort {
    /// On a request's path: one attempt within `REQUEST_PATH_PUSH_BUDGET`.
    Once,
    /// The sweep's: the client's own timeouts and retries.
    Retrying,
}

/// One SQS SendMessage of a message's JSON: the one way events and jobs reach the queue.
async fn send_sqs(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    message: &impl serde::Serialize,
    effort: Effort,
) -> Result<(), PushError> {
    use aws_sdk_sqs::config::{retry::RetryConfig, timeout::TimeoutConfig};
    let body = serde_json::to_string(message).map_err(|e| PushError::Permanent(e.to_string()))?;
    let send = client
        .send_message()
        .queue_url(queue_url)
        .message_body(body);
    let sent = match effort {
        Effort::Retrying => send.send().await,
        Effort::Once => {
            send.customize()
                .config_override(
                    aws_sdk_sqs::config::Builder::default()
                        .retry_config(RetryConfig::disabled())
                        .timeout_config(
                            TimeoutConfig::builder()
                                .connect_timeout(REQUEST_PATH_PUSH_BUDGET)
                                .operation_attempt_timeout(REQUEST_PATH_PUSH_BUDGET)
                                .operation_timeout(REQUEST_PATH_PUSH_BUDGET)
                                .build(),
                        ),
                )
                .send()
                .await
        }
    };
    sent.map(|_| ()).map_err(|e| {
        use aws_sdk_sqs::error::ProvideErrorMetadata;
        let text = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
        // SQS refuses the body's characters: the same body fails every time (see
        // `sqs_accepts`). Everything else (timeouts, throttling, a missing queue, an
        // outage) may pass later.
        let refused = e
            .as_service_error()
            .is_some_and(|s| s.is_invalid_message_contents())
            || e.code() == Some("InvalidMessageContents");
        if refused {
            PushError::Permanent(text)
        } else {
            PushError::Transient(text)
        }
    })
}

impl Publisher {
    /// Pushes one event: one call, no store write, with the client's retries (the sweep's
    /// push). Errors are for the caller to log.
    pub async fn push(&self, event: &Event) -> Result<(), PushError> {
        self.push_with(event, Effort::Retrying).await
    }

    async fn push_with(&self, event: &Event, effort: Effort) -> Result<(), PushError> {
        match self {
            Publisher::Outbox => Ok(()),
            Publisher::Channel(tx) => {
                let body = serde_json::to_string(event)
                    .map_err(|e| PushError::Permanent(e.to_string()))?;
                if !sqs_accepts(&body) {
                    return Err(PushError::Permanent(
                        "the event holds characters SQS refuses (InvalidMessageContents)".into(),
                    ));
                }
                tx.send(event.clone())
                    .map_err(|_| PushError::Transient("event queue closed".to_owned()))
            }
            Publisher::Sqs { client, queue_url } => {
                send_sqs(client, queue_url, event, effort).await
            }
        }
    }

    /// Pushes a committed event on the request path: one short attempt
    /// (`REQUEST_PATH_PUSH_BUDGET`), and never fails the request.
    pub async fn publish(&self, event: &Event) {
        match self.push_with(event, Effort::Once).await {
            Ok(()) => {}
            Err(PushError::Transient(e)) => {
                tracing::warn!(event_id = %event.id, error = %e, "event push failed; the outbox keeps it for the sweep");
            }
            Err(PushError::Permanent(e)) => {
                tracing::warn!(event_id = %event.id, error = %e, "the queue refuses this event; the sweep parks its outbox item");
            }
        }
    }
}

/// Where committed workload jobs are pushed: the same SQS queue as the events (the notifier
/// runs them), locally an in-process channel to the job worker. The job item written in the
/// triggering transaction is the durable record; the sweep re-pushes what a push lost.
#[derive(Clone, Default)]
pub enum JobQueue {
    /// No queue: jobs wait for the sweep.
    #[default]
    Table,
    Channel(tokio::sync::mpsc::UnboundedSender<Job>),
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
}

/// Where an entry point pushes what it commits: ticket events and workload jobs (and, for the
/// integrations' retries of webhook deliveries, the dispatcher's queue).
#[derive(Clone, Default)]
pub struct Queues {
    pub events: Publisher,
    pub jobs: JobQueue,
    pub webhooks: crate::webhooks::queue::WebhookQueue,
}

impl Queues {
    /// Events to `events`, and jobs beside them (on the same SQS queue; the notifier runs
    /// them).
    pub fn beside(events: Publisher) -> Self {
        Self {
            jobs: JobQueue::beside(&events),
            events,
            webhooks: Default::default(),
        }
    }
}

impl JobQueue {
    /// The queue beside an event publisher: SQS jobs travel on the events' queue.
    pub fn beside(p: &Publisher) -> Self {
        match p {
            Publisher::Sqs { client, queue_url } => JobQueue::Sqs {
                client: client.clone(),
                queue_url: queue_url.clone(),
            },
            Publisher::Outbox | Publisher::Channel(_) => JobQueue::Table,
        }
    }

    /// Pushes one job with the client's retries (the sweep's push).
    pub async fn push(&self, job: &Job) -> Result<(), PushError> {
        self.push_with(job, Effort::Retrying).await
    }

    async fn push_with(&self, job: &Job, effort: Effort) -> Result<(), PushError> {
        match self {
            JobQueue::Table => Ok(()),
            JobQueue::Channel(tx) => tx
                .send(job.clone())
                .map_err(|_| PushError::Transient("job queue closed".to_owned())),
            JobQueue::Sqs { client, queue_url } => send_sqs(client, queue_url, job, effort).await,
        }
    }

    /// Pushes a committed job on the request path: one short attempt, and never fails the
    /// request.
    pub async fn publish(&self, job: &Job) {
        if let Err(e) = self.push_with(job, Effort::Once).await {
            tracing::warn!(job_id = %job.job_id, error = %e, "job push failed; the sweep resumes it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqs_accepts_exactly_its_documented_characters() {
        let table = [
            ("plain text", true),
            ("tab\tline\nreturn\r", true),
            ("\u{20}\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}", true),
            ("emoji 🎫 and ü", true),
            ("", true),
            ("nul \u{0}", false),
            ("bell \u{7}", false),
            ("unit separator \u{1F}", false),
            ("U+FFFE \u{FFFE}", false),
            ("U+FFFF \u{FFFF}", false),
        ];
        for (s, ok) in table {
            assert_eq!(sqs_accepts(s), ok, "{s:?}");
        }
    }

    #[test]
    fn json_escapes_controls_but_not_noncharacters() {
        // serde_json writes C0 controls as \u escapes (SQS takes those), but U+FFFF as is.
        assert!(sqs_accepts(
            &serde_json::to_string("a\u{0}b\u{1F}").unwrap()
        ));
        assert!(!sqs_accepts(&serde_json::to_string("a\u{FFFF}b").unwrap()));
    }

    #[tokio::test]
    async fn the_channel_refuses_what_sqs_refuses() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = Publisher::Channel(tx);
        let mut ev: Event = serde_json::from_value(serde_json::json!({
            "id": "evt_01E", "type": "ticket.created",
            "timestamp": "2022-08-05T12:55:42.348Z",
            "data": {"actor": "cust1",
                "ticket": {"_id": "01T", "title": "ok", "ticketPriority": 4,
                    "description": "d", "status": "OPEN", "reporter": "cust1",
                    "assignee": null, "createdAt": "a", "updatedAt": "a", "version": 1}}
        }))
        .unwrap();
        assert_eq!(p.push(&ev).await, Ok(()));
        assert!(rx.try_recv().is_ok());
        if let Some(t) = ev.data.ticket.as_mut() {
            t.title = "bad \u{FFFF}".into();
        }
        assert!(matches!(p.push(&ev).await, Err(PushError::Permanent(_))));
        assert!(rx.try_recv().is_err(), "nothing reached the channel");
    }
}
