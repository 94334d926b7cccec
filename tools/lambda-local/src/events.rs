//! The event sources: the SQS poller Lambda runs for an SQS trigger (ReceiveMessage with the
//! template's BatchSize, one invoke per batch, then DeleteMessageBatch of every message not
//! reported in `batchItemFailures`; the failed ones stay on the queue and its redrive policy
//! moves them to the DLQ after maxReceiveCount receives), and the schedule that invokes a
//! function with its fixed Input.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// Invokes a function through the emulator's Invoke API; Ok is the function's result, Err a
/// function error, a timeout or an unreachable emulator.
pub async fn invoke(
    http: &reqwest::Client,
    emulator: &str,
    function: &str,
    event: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let resp = http
        .post(format!(
            "{emulator}/2015-03-31/functions/{function}/invocations"
        ))
        .json(event)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("invoking {function}: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("reading {function}'s result: {e}"))?;
    if !status.is_success() {
        return Err(format!("{function} failed ({status}): {text}"));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text)
        .map_err(|e| format!("{function}'s result is not JSON ({e}): {text}"))
}

/// One record of Lambda's SQS event.
fn record(m: &Message, queue_arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: Map<String, Value> = m
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    let mut o = json!({
                        "dataType": v.data_type(),
                        "stringListValues": v.string_list_values(),
                        "binaryListValues": v.binary_list_values().iter().map(|b| aws_smithy_types::base64::encode(b.as_ref())).collect::<Vec<_>>(),
                    });
                    if let Some(s) = v.string_value() {
                        o["stringValue"] = json!(s);
                    }
                    if let Some(b) = v.binary_value() {
                        o["binaryValue"] = json!(aws_smithy_types::base64::encode(b.as_ref()));
                    }
                    (k.clone(), o)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut r = json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let Some(md5) = m.md5_of_message_attributes() {
        r["md5OfMessageAttributes"] = json!(md5);
    }
    r
}

/// Which messages of a batch to delete after an invocation: every one on success without
/// ReportBatchItemFailures; with it, every one not listed (a malformed or unknown
/// itemIdentifier fails the whole batch, as Lambda does); none when the function failed.
pub fn to_delete(
    ids: &[String],
    result: &Result<Value, String>,
    report_failures: bool,
) -> Vec<String> {
    let Ok(v) = result else {
        return Vec::new();
    };
    if !report_failures {
        return ids.to_vec();
    }
    let mut failed = HashSet::new();
    if let Some(items) = v.get("batchItemFailures") {
        let Some(items) = items.as_array() else {
            return Vec::new();
        };
        for i in items {
            match i["itemIdentifier"].as_str() {
                Some(id) if ids.iter().any(|x| x == id) => {
                    failed.insert(id.to_owned());
                }
                _ => return Vec::new(),
            }
        }
    }
    ids.iter()
        .filter(|i| !failed.contains(*i))
        .cloned()
        .collect()
}

pub struct Poller {
    pub sqs: aws_sdk_sqs::Client,
    pub http: reqwest::Client,
    pub emulator: String,
    pub function: String,
    pub timeout: Duration,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    pub report_failures: bool,
    pub wait_seconds: i32,
}

impl Poller {
    /// Polls forever; every failure is logged and retried after a pause.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.once().await {
                eprintln!("lambda-local: SQS poller for {}: {e}", self.function);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn once(&self) -> Result<(), String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ReceiveMessage: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let messages = out.messages();
        if messages.is_empty() {
            return Ok(());
        }
        let event = json!({
            "Records": messages.iter().map(|m| record(m, &self.queue_arn, &self.region)).collect::<Vec<_>>(),
        });
        let ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_owned())
            .collect();
        let result = invoke(
            &self.http,
            &self.emulator,
            &self.function,
            &event,
            self.timeout,
        )
        .await;
        if let Err(e) = &result {
            eprintln!("lambda-local: {e}");
        }
        let delete = to_delete(&ids, &result, self.report_failures);
        if delete.len() < ids.len() {
            eprintln!(
                "lambda-local: {} of {} messages stay on the queue (batchItemFailures or a failed invoke)",
                ids.len() - delete.len(),
                ids.len()
            );
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| delete.iter().any(|d| Some(d.as_str()) == m.message_id()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let out = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DeleteMessageBatch: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        if !out.failed().is_empty() {
            return Err(format!("DeleteMessageBatch failed for {:?}", out.failed()));
        }
        Ok(())
    }
}

/// Invokes `function` with `input` every `every` (the first time after one period).
pub async fn schedule(
    http: reqwest::Client,
    emulator: String,
    function: String,
    input: Value,
    every: Duration,
    timeout: Duration,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = invoke(&http, &emulator, &function, &input, timeout).await {
            eprintln!("lambda-local: scheduled invoke: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_what_the_batch_response_does_not_report() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let ok = |v: Value| Ok::<_, String>(v);
        assert_eq!(
            to_delete(&ids, &ok(json!({"batchItemFailures": []})), true),
            ids
        );
        assert_eq!(to_delete(&ids, &ok(Value::Null), true), ids);
        assert_eq!(
            to_delete(
                &ids,
                &ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                true
            ),
            vec!["a".to_owned(), "c".to_owned()]
        );
        assert!(
            to_delete(
                &ids,
                &ok(json!({"batchItemFailures": [{"itemIdentifier": "z"}]})),
                true
            )
            .is_empty()
        );
        assert!(to_delete(&ids, &ok(json!({"batchItemFailures": [{}]})), true).is_empty());
        assert!(to_delete(&ids, &Err("boom".into()), true).is_empty());
        assert_eq!(
            to_delete(
                &ids,
                &ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                false
            ),
            ids
        );
    }
}
