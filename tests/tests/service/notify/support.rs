//! The notification fixture: the service fixture (`crm_tests::desk::Desk`, re-exported), a
//! notifier over the same store, SQS batches as the Lambda runtime hands them over, polling
//! with a deadline, and reading mails.

use crm_notifier::{Notifier, Transport};
use crm_shared::model::TicketSnapshot;
pub use crm_shared::model::TicketStatus;
use crm_shared::queue::Publisher;
use crm_shared::store::Store;
pub use crm_tests::desk::{Desk, assignee_patch, authed, email_of, status_patch, token};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// A set of addresses, for exact comparisons.
pub fn set<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_owned()).collect()
}

/// A notifier over `store` (a short lease, the sweep age of the cloud default).
pub fn notifier(store: Store, transport: Transport, publisher: Publisher) -> Notifier {
    Notifier {
        store,
        transport,
        publisher,
        lease_seconds: 30,
        sweep_age_seconds: 120,
        jobs: crm_shared::queue::JobQueue::default(),
        capacity: None,
        integrations: Default::default(),
        replies: None,
    }
}

/// A batch as the Lambda runtime hands it over: (messageId, body) per record.
pub fn sqs_event(records: &[(&str, Option<&str>)]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:crm-events",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// The failed message ids of a batch response, sorted.
pub fn failed_ids(r: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

/// Polls `probe` until it returns Some, failing the test after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `count` until it reaches `n`, then keeps watching for `settle` to make sure it
/// stays at `n` (nothing is delivered twice a little later).
pub async fn exactly<F, Fut>(what: &str, n: usize, within: Duration, settle: Duration, mut count: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let deadline = Instant::now() + within;
    loop {
        let c = count().await;
        assert!(c <= n, "{what}: expected {n}, got {c}");
        if c == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {c} of {n}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let until = Instant::now() + settle;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let c = count().await;
        assert_eq!(c, n, "{what}: more arrived after the first {n}");
    }
}

/// The lines of a mail log (`Transport::Log` / `<data-dir>/mail.log`), parsed.
pub fn mail_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("mail.log line {l:?}: {e}")))
        .collect()
}

/// The recipients of a mail-log line or a notification API body.
pub fn recipients_of(v: &Value) -> Vec<String> {
    v["recipientEmails"]
        .as_array()
        .unwrap_or_else(|| panic!("no recipientEmails in {v}"))
        .iter()
        .map(|e| e.as_str().expect("an address").to_owned())
        .collect()
}

/// Asserts a list of addresses names each address once and is exactly `want`.
#[track_caller]
pub fn assert_recipients(got: &[String], want: &[&str]) {
    let as_set = set(got);
    assert_eq!(as_set.len(), got.len(), "an address repeats in {got:?}");
    assert_eq!(as_set, set(want), "recipients");
}

/// Asserts a mail's subject and body carry what SPEC §4 asks for.
#[track_caller]
pub fn assert_mail_describes(subject: &str, body: &str, t: &TicketSnapshot, extra: &[&str]) {
    let text = format!("{subject}\n{body}");
    let assignee = t.assignee.clone().unwrap_or_else(|| "(unassigned)".into());
    for want in [
        t.id.as_str(),
        t.title.as_str(),
        t.description.as_str(),
        t.status.as_str(),
        t.reporter.as_str(),
        assignee.as_str(),
    ] {
        assert!(text.contains(want), "mail lacks {want:?}:\n{text}");
    }
    let priority = t.ticket_priority.to_string();
    assert!(
        body.lines()
            .any(|l| l.to_lowercase().contains("priority") && l.contains(&priority)),
        "mail lacks the priority {priority}:\n{text}"
    );
    for want in extra {
        assert!(text.contains(want), "mail lacks {want:?}:\n{text}");
    }
}
