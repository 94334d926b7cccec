//! Handing a webhook delivery to the dispatcher: a small message naming the delivery record
//! and the attempt it is for, on the webhooks SQS queue in the cloud (with SQS's delay, at
//! most 15 minutes) or on `crm serve`'s in-process channel. The delivery record is the
//! durable state; a message only makes an attempt prompt, and one that is lost is found again
//! by the dispatcher's sweep of the due index.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// SQS's longest message delay.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(15 * 60);

/// One attempt of one delivery, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRef {
    pub subscription_id: String,
    pub delivery_id: String,
    /// Attempts the delivery had made when this message was sent: a message whose count no
    /// longer matches the record is a stale copy and does nothing.
    pub attempts: u32,
}

/// A message due after `delay` (at most [`MAX_QUEUE_DELAY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub delivery: DeliveryRef,
    pub delay: Duration,
}

/// Where deliveries are handed to the dispatcher.
#[derive(Clone, Default)]
pub enum WebhookQueue {
    /// No dispatcher reachable from here: the records wait for the dispatcher's sweep.
    #[default]
    Table,
    /// `crm serve`'s in-process dispatcher.
    Channel(tokio::sync::mpsc::UnboundedSender<Queued>),
    /// The webhooks queue the dispatcher Lambda consumes.
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
}

impl WebhookQueue {
    /// Sends each message (SendMessageBatch, 10 to a call, the calls at once). Fails if any
    /// was not sent; the caller's records stay due for the sweep either way.
    pub async fn send(&self, messages: Vec<Queued>) -> Result<(), String> {
        if messages.is_empty() {
            return Ok(());
        }
        match self {
            WebhookQueue::Table => Ok(()),
            WebhookQueue::Channel(tx) => {
                for m in messages {
                    tx.send(m)
                        .map_err(|_| "the dispatcher has stopped".to_owned())?;
                }
                Ok(())
            }
            WebhookQueue::Sqs { client, queue_url } => {
                let calls = messages.chunks(10).map(|chunk| async move {
                    let mut batch = client.send_message_batch().queue_url(queue_url);
                    for (i, m) in chunk.iter().enumerate() {
                        let body = serde_json::to_string(&m.delivery).map_err(|e| e.to_string())?;
                        let delay = m.delay.min(MAX_QUEUE_DELAY).as_secs();
                        let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body)
                            .delay_seconds(i32::try_from(delay).unwrap_or(900))
                            .build()
                            .map_err(|e| e.to_string())?;
                        batch = batch.entries(entry);
                    }
                    let out = batch.send().await.map_err(|e| {
                        aws_smithy_types::error::display::DisplayErrorContext(&e).to_string()
                    })?;
                    match out.failed().first() {
                        None => Ok(()),
                        Some(f) => Err(format!(
                            "{} of {} not queued: {}",
                            out.failed().len(),
                            chunk.len(),
                            f.code()
                        )),
                    }
                });
                futures_util::future::try_join_all(calls).await.map(|_| ())
            }
        }
    }
}
