//! The dispatcher Lambda's input, typed: an SQS batch of queued deliveries (answered with the
//! partial batch failures), or the scheduled sweep of the due index (EventBridge's
//! "Scheduled Event", or `{"sweep": true}` by hand).

use crate::dispatch::{Dispatcher, HORIZON, Handled, SweepReport};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::webhooks::queue::DeliveryRef;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

/// What the dispatcher function is invoked with.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// Queued deliveries (a body that is not one fails alone and ends in the DLQ).
    Batch(SqsEvent),
    /// The schedule's tick.
    Sweep(SweepTick),
}

/// A scheduled sweep: an EventBridge scheduled event (`detail-type: Scheduled Event`) or
/// `{"sweep": true}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SweepTick {
    #[serde(rename = "detail-type", default)]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub sweep: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Output {
    Batch(SqsBatchResponse),
    Sweep(SweepReport),
}

impl Dispatcher {
    /// One invocation.
    pub async fn handle_input(&self, input: Input) -> Result<Output, String> {
        match input {
            Input::Batch(batch) => Ok(Output::Batch(self.handle_batch(batch).await)),
            Input::Sweep(tick) => {
                let scheduled = tick.detail_type.as_deref() == Some("Scheduled Event")
                    || tick.sweep == Some(true);
                if !scheduled {
                    return Err(
                        "unsupported event: expected SQS records or a scheduled sweep".into(),
                    );
                }
                self.sweep(HORIZON)
                    .await
                    .map(Output::Sweep)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The batch's deliveries at once (each attempt has its own deadline, so a hanging
    /// receiver holds its own message only); the ones whose record could not be read or
    /// written come back as failures for SQS to deliver again.
    pub async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let results = join_all(batch.records.iter().map(|r| async move {
            let id = r.message_id.clone().unwrap_or_default();
            let parsed = r
                .body
                .as_deref()
                .ok_or_else(|| "empty message".to_owned())
                .and_then(|b| serde_json::from_str::<DeliveryRef>(b).map_err(|e| e.to_string()));
            let ok = match parsed {
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "not a queued webhook delivery");
                    false
                }
                Ok(d) => match self.handle(&d).await {
                    Ok(Handled::Attempted { .. } | Handled::Stale | Handled::Dropped | Handled::Disabled) => true,
                    Err(e) => {
                        tracing::warn!(message_id = %id, delivery_id = %d.delivery_id, error = %e, "delivery not recorded; the queue retries it");
                        false
                    }
                },
            };
            (id, ok)
        }))
        .await;
        let mut resp = SqsBatchResponse::default();
        resp.batch_item_failures = results
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(id, _)| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        resp
    }
}
