//! Publishing ticket events after their transaction commits. The outbox item written in the
//! same transaction is the durable record; a push here only makes delivery prompt, so a
//! failed push is logged and never fails the request (the sweep re-pushes it later).

use crate::model::TicketEvent;

/// Where committed events are pushed.
#[derive(Clone, Default)]
pub enum Publisher {
    /// No queue: events wait in the outbox for the sweep.
    #[default]
    Outbox,
    /// The local server's in-process queue (in place of SQS).
    Channel(tokio::sync::mpsc::UnboundedSender<TicketEvent>),
    /// The SQS queue the notifier consumes.
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
}

impl Publisher {
    /// Pushes one event: one call, no store write. Errors are for the caller to log.
    pub async fn push(&self, event: &TicketEvent) -> Result<(), String> {
        match self {
            Publisher::Outbox => Ok(()),
            Publisher::Channel(tx) => tx
                .send(event.clone())
                .map_err(|_| "event queue closed".to_owned()),
            Publisher::Sqs { client, queue_url } => {
                let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
                client
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        aws_smithy_types::error::display::DisplayErrorContext(&e).to_string()
                    })
            }
        }
    }

    /// Pushes a committed event on the request path: never fails the request.
    pub async fn publish(&self, event: &TicketEvent) {
        if let Err(e) = self.push(event).await {
            tracing::warn!(event_id = %event.event_id, error = %e, "event push failed; the outbox keeps it for the sweep");
        }
    }
}
