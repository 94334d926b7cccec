//! The notifier: delivers each ticket event once to everyone concerned, and sweeps the
//! outbox for events whose push was lost. The same code serves the SQS-triggered Lambda
//! and `crm serve`'s in-process queue.

pub mod bus;
pub mod http_client;
pub mod integrations;
pub mod mail;
pub mod transport;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crm_shared::model::{
    Email, Event, EventType, Job, QueueMessage, TicketId, TicketSnapshot, Timestamp, UserId,
    new_ulid,
};
use crm_shared::policy::{self, MailRole};
use crm_shared::queue::{JobQueue, Publisher, PushError};
use crm_shared::service::workload::{JobReport, Workload, run_job};
use crm_shared::store::{Claim, OutboxEntry, Store, StoreError, UserRecord, keys};
use futures_util::future::{join_all, try_join_all};
pub use mail::{Mail, Thread, render};
use serde::{Deserialize, Serialize};
pub use transport::{SendError, Transport};

/// A sweep re-pushes one outbox item successfully at most this many times; after that it is
/// parked (every copy reached the queue, so they are in the dead-letter queue for an
/// operator to redrive). Failed pushes do not count: an outage parks nothing.
pub const MAX_SWEEPS: i64 = 5;
/// Outbox items a sweep looks at per run.
const SWEEP_BATCH: usize = 500;
/// The `alarm` field of the error logged when an outbox item is parked: a log metric filter
/// on it alarms like the dead-letter queue does.
pub const ALARM_PARKED: &str = "OUTBOX_PARKED";
/// Messages of one event in flight at once, where each recipient gets their own (SES).
const PER_RECIPIENT_CONCURRENCY: usize = 8;

pub struct Notifier {
    pub store: Store,
    pub transport: Transport,
    /// Where the sweep re-pushes events (the queue the notifier consumes).
    pub publisher: Publisher,
    /// How long a delivery claim holds before another delivery may take over.
    pub lease_seconds: i64,
    /// Outbox items older than this are re-pushed by the sweep.
    pub sweep_age_seconds: i64,
    /// Where the sweep re-pushes interrupted workload jobs.
    pub jobs: JobQueue,
    /// `CRM_ENGINEER_CAPACITY`, for the jobs this notifier runs.
    pub capacity: Option<i64>,
    /// The webhook fan-out and the bus, run beside the mail (integrations.rs).
    pub integrations: integrations::Integrations,
    /// The mail channel's reply addresses (SPEC §9: `CRM_INBOUND_ADDRESS`); `None`, mail
    /// carries no `Reply-To` and no thread ids.
    pub replies: Option<crm_shared::mail::ReplyAddresses>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        tracking_id: Option<String>,
        recipients: usize,
    },
    AlreadySent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Try again later (the message returns to the queue).
    Retry(String),
    /// The transport refused the mail for good; retries end in the dead-letter queue.
    Permanent(String),
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        DeliveryError::Retry(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub stale: usize,
    pub pushed: usize,
    pub taken_by_others: usize,
    pub parked: usize,
    pub push_failures: usize,
    /// Items the queue refused for good (their event can never be pushed): parked at once.
    pub refused: usize,
    /// Interrupted workload jobs pushed again.
    pub jobs_resumed: usize,
    /// SLA targets that came due, recorded (crm_shared::service::breaches).
    pub breaches: crm_shared::service::breaches::BreachReport,
}

/// What invokes the notifier: an SQS batch, or the schedule, whose input is the template's
/// `{"sweep": true}` or EventBridge's own "Scheduled Event". Anything else fails to
/// deserialize, which fails the invocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Sqs(SqsEvent),
    Scheduled(EventBridgeEvent),
    Sweep(SweepInput),
}

/// The schedule's input in template.yaml: `{"sweep": true}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepInput {
    pub sweep: bool,
}

impl Invocation {
    /// The scheduled sweep, as the template's schedule invokes it.
    pub fn sweep() -> Self {
        Invocation::Sweep(SweepInput { sweep: true })
    }
}

/// What the notifier answers: a batch's failed records (`ReportBatchItemFailures`), or a
/// sweep's report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Batch(SqsBatchResponse),
    Swept(SweepReport),
}

/// Why an invocation failed as a whole (the batch's records fail one by one instead).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("an EventBridge event that is not a schedule: {0}")]
    NotScheduled(String),
    #[error("a sweep input without sweep: true")]
    NoSweep,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether an event is mailed at all: ticket events are, except a change that came with a
/// comment (its `comment.created` mails it); user events are not.
fn mailed(e: &Event) -> bool {
    e.event_type.is_ticket()
        && !(e.event_type == EventType::TicketUpdated && e.data.comment.is_some())
}

impl Notifier {
    /// Everyone concerned who may be mailed now (SPEC §4), each address once: the reporter,
    /// the assignee, the previous assignee (on reassignment), the followers (SPEC §11) and
    /// every approved ADMIN, each as the store has them at send time
    /// (`policy::may_be_mailed`): a user rejected, set PENDING or demoted since the change is
    /// not mailed. An internal note goes to staff only: a customer is never mailed one,
    /// whatever their role. A breach or a rating goes to the assignee and the admins; user
    /// events and a change mailed with its comment (a reopening reply) to nobody.
    pub async fn recipients(&self, e: &Event) -> Result<Vec<String>, StoreError> {
        let Some(t) = e.data.ticket.as_ref().filter(|_| mailed(e)) else {
            return Ok(Vec::new());
        };
        let staff_only = matches!(
            e.event_type,
            EventType::SlaBreached | EventType::SatisfactionRated
        );
        let mut ids: Vec<(UserId, Vec<MailRole>)> = Vec::new();
        for (id, role) in [
            (
                Some(t.reporter.as_str()).filter(|_| !staff_only),
                MailRole::Reporter,
            ),
            (t.assignee.as_deref(), MailRole::Assignee),
            (e.previous_assignee(), MailRole::PreviousAssignee),
        ] {
            let Some(Ok(u)) = id.map(UserId::parse) else {
                continue;
            };
            match ids.iter_mut().find(|(known, _)| known == &u) {
                Some((_, roles)) => roles.push(role),
                None => ids.push((u, vec![role])),
            }
        }
        let (users, admins, followers) = tokio::try_join!(
            try_join_all(ids.iter().map(|(id, _)| self.store.get_user_eventually(id))),
            self.store.approved_admins(),
            self.followers_now(t, staff_only)
        )?;
        let followers = followers
            .into_iter()
            .map(|u| (u, &[MailRole::Follower][..]));
        let concerned = users
            .into_iter()
            .zip(ids.iter().map(|(_, roles)| roles.as_slice()))
            .filter_map(|(u, roles)| u.map(|u| (u, roles)));
        let admins = admins.into_iter().map(|u| (u, &[MailRole::Admin][..]));
        let mut out: Vec<String> = Vec::new();
        for (u, roles) in concerned.chain(followers).chain(admins) {
            let mailed = roles.iter().any(|r| {
                policy::may_be_mailed_about(*r, u.user_type, u.user_status, e.is_internal())
            });
            if !mailed {
                continue;
            }
            // An address stored before the address rule (model::user::Email) goes out in the
            // form mail services take (a Unicode domain in Punycode), or not at all when it has
            // none: that recipient alone is not mailed.
            let Ok(email) = Email::parse(u.email.as_str()) else {
                tracing::error!(
                    event_id = %e.id,
                    user_id = %u.user_id,
                    "the user's stored address cannot be mailed; this recipient is skipped"
                );
                continue;
            };
            if !out.iter().any(|o| o == email.as_str()) {
                out.push(email.as_str().to_owned());
            }
        }
        Ok(out)
    }

    /// The followers the event's ticket named who still follow it now (SPEC §11), as users:
    /// a follower removed since the change is not mailed about it, nor is one added since.
    /// Read at send time, after the ticket (none for a ticket the event shows without
    /// followers, so most events cost no read more); a breach or a rating mails none.
    async fn followers_now(
        &self,
        t: &TicketSnapshot,
        staff_only: bool,
    ) -> Result<Vec<UserRecord>, StoreError> {
        if t.followers.is_empty() || staff_only {
            return Ok(Vec::new());
        }
        let Ok(id) = TicketId::parse(&t.id) else {
            return Ok(Vec::new());
        };
        let now = self
            .store
            .get_ticket(&id)
            .await?
            .map(|now| now.followers)
            .unwrap_or_default();
        let still: Vec<&UserId> = now
            .iter()
            .filter(|f| t.followers.iter().any(|s| s == f.as_str()))
            .collect();
        let users =
            try_join_all(still.into_iter().map(|f| self.store.get_user_eventually(f))).await?;
        Ok(users.into_iter().flatten().collect())
    }

    /// Delivers one event at most once (see docs/events.md for the exact guarantee). `id`
    /// keys the event's items in the store; the transports name the event by `e.id`.
    pub async fn deliver(&self, e: &Event) -> Result<Outcome, DeliveryError> {
        let id = e.key_id();
        let claim = new_ulid().to_string();
        let now = Timestamp::now();
        // The claim and the recipients side by side: a first delivery reads no marker.
        let (claimed, recipients) = tokio::try_join!(
            self.store
                .claim_delivery(id, &claim, now, self.lease_seconds),
            self.recipients(e)
        )?;
        let recovered = match claimed {
            // SENT is written just before the outbox item's deletion: a copy of a delivered
            // event (re-pushed by the sweep after a crash between the two) removes the item.
            Claim::AlreadySent => {
                self.store.delete_outbox(id).await?;
                return Ok(Outcome::AlreadySent);
            }
            Claim::Busy => {
                return Err(DeliveryError::Retry(
                    "another delivery is in progress".into(),
                ));
            }
            Claim::Granted { recovered } => recovered,
        };
        // The webhook fan-out and the bus, beside the mail (they never wait for a receiver);
        // the outbox item goes only once both are done.
        // Boxed: the fan-out and the bus put are a large future, and this one is awaited on
        // a worker thread's stack beside the mail's send.
        let integrations = Box::pin(self.integrations.handle(&self.store, e));
        if recovered && self.transport.already_sent(&e.id).await {
            if let Err(x) = integrations.await {
                return Err(self.integrations_failed(id, &claim, x).await);
            }
            self.store
                .finish_delivery(id, &claim, None, Timestamp::now())
                .await?;
            return Ok(Outcome::AlreadySent);
        }
        let count = recipients.len();
        let mail = render(e, recipients).threaded(self.replies.as_ref(), e);
        let send = async {
            if mail.recipients.is_empty() {
                Ok(None)
            } else if self.transport.one_message_per_recipient() {
                self.send_each(&mail, e).await
            } else {
                self.transport.send(&mail, &e.id).await
            }
        };
        let (integrated, sent) = tokio::join!(integrations, send);
        match sent {
            Ok(tracking_id) => {
                if let Err(x) = integrated {
                    return Err(self.integrations_failed(id, &claim, x).await);
                }
                if !self
                    .store
                    .finish_delivery(id, &claim, tracking_id.clone(), Timestamp::now())
                    .await?
                {
                    tracing::warn!(
                        event_id = id,
                        "delivery claim lapsed before it was recorded"
                    );
                }
                tracing::info!(
                    event_id = id,
                    recipients = count,
                    transport = self.transport.name(),
                    "mail sent"
                );
                Ok(Outcome::Sent {
                    tracking_id,
                    recipients: count,
                })
            }
            Err(err) => {
                self.store.release_delivery(id, &claim).await?;
                match err {
                    SendError::Transient(m) => {
                        tracing::warn!(event_id = id, error = %m, "mail not sent; will retry");
                        Err(DeliveryError::Retry(m))
                    }
                    SendError::Permanent(m) | SendError::Refused(m) => {
                        tracing::error!(event_id = id, error = %m, "mail refused permanently");
                        Err(DeliveryError::Permanent(m))
                    }
                }
            }
        }
    }

    /// The fan-out or the bus failed: the claim goes back and the event is handled again
    /// (the mail already sent is not sent twice where the transport can tell: SES's
    /// recipient markers, the notification API's `Idempotency-Key`).
    async fn integrations_failed(&self, id: &str, claim: &str, why: String) -> DeliveryError {
        tracing::warn!(event_id = id, error = %why, "webhook fan-out or bus put failed; the event is handled again");
        if let Err(e) = self.store.release_delivery(id, claim).await {
            tracing::warn!(event_id = id, error = %e, "claim not released; its lease runs out");
        }
        DeliveryError::Retry(why)
    }

    /// One message per recipient, each recorded by its own marker as soon as it is sent, so
    /// a retry after a partial failure mails only those not mailed yet. The markers are read
    /// only once the claim is held: every earlier holder wrote its markers before it gave
    /// the claim back (or lost it), so none is missed. Returns the message ids in recipient
    /// order; fails if any recipient failed (transient if any failure was).
    ///
    /// A recipient the mail service refuses for good (`SendError::Refused`: SES will not take
    /// the address) fails alone: it is recorded as refused (never tried again) and logged
    /// with the event id, and the others are mailed. Unless nobody at all is mailed: when
    /// every recipient is refused the cause is more likely the sender or the account than
    /// the addresses, so the event fails for good as before (to the dead-letter queue, where
    /// a redrive after the fix mails everyone).
    async fn send_each(&self, mail: &Mail, e: &Event) -> Result<Option<String>, SendError> {
        /// How one recipient went.
        enum Each {
            Mailed(Option<String>),
            /// Refused now, with the service's error code.
            Refused(String),
            /// Refused by an earlier attempt (its marker says so).
            WasRefused,
            Failed(SendError),
        }
        let store_err = |e: StoreError| SendError::Transient(format!("recipient marker: {e}"));
        let event_id = e.key_id();
        let mailed = self.store.mailed(event_id).await.map_err(store_err)?;
        let mut results: Vec<(&String, Each)> = Vec::new();
        for chunk in mail.recipients.chunks(PER_RECIPIENT_CONCURRENCY) {
            results.extend(
                join_all(chunk.iter().map(|to| {
                    let done = mailed.iter().find(|m| &m.address == to);
                    async move {
                        let each = match done {
                            Some(m) if m.refused => Each::WasRefused,
                            Some(m) => Each::Mailed(m.tracking_id.clone()),
                            None => {
                                let one = Mail {
                                    recipients: vec![to.clone()],
                                    ..mail.clone()
                                };
                                match self.transport.send(&one, &e.id).await {
                                    Ok(tracking) => match self
                                        .store
                                        .record_mailed(
                                            event_id,
                                            to,
                                            tracking.clone(),
                                            Timestamp::now(),
                                        )
                                        .await
                                    {
                                        Ok(()) => Each::Mailed(tracking),
                                        Err(e) => Each::Failed(store_err(e)),
                                    },
                                    Err(SendError::Refused(code)) => Each::Refused(code),
                                    Err(e) => Each::Failed(e),
                                }
                            }
                        };
                        (to, each)
                    }
                }))
                .await,
            );
        }
        let total = results.len();
        let anyone_mailed = results.iter().any(|(_, e)| matches!(e, Each::Mailed(_)));
        let mut ids = Vec::new();
        let mut failures = Vec::new();
        let mut refused = Vec::new();
        for (to, each) in results {
            match each {
                Each::Mailed(t) => ids.extend(t),
                Each::Refused(code) => refused.push((to, code)),
                Each::WasRefused => {}
                Each::Failed(e) => failures.push(e),
            }
        }
        if !refused.is_empty() && !anyone_mailed && failures.is_empty() {
            return Err(SendError::Permanent(format!(
                "every recipient refused ({} of {total}): {}",
                refused.len(),
                refused[0].1
            )));
        }
        if anyone_mailed {
            for (to, code) in &refused {
                tracing::error!(
                    event_id,
                    error = %code,
                    "a recipient's address is refused for good; the others are mailed, it is not retried"
                );
                self.store
                    .record_refused(event_id, to, Timestamp::now())
                    .await
                    .map_err(store_err)?;
            }
        }
        let Some(first) = failures.first().cloned() else {
            return Ok((!ids.is_empty()).then(|| ids.join(",")));
        };
        let n = failures.len() + if anyone_mailed { 0 } else { refused.len() };
        let transient = failures
            .iter()
            .any(|f| matches!(f, SendError::Transient(_)));
        Err(match (first, transient) {
            (SendError::Transient(m) | SendError::Permanent(m) | SendError::Refused(m), true) => {
                SendError::Transient(format!("{n} of {total} recipients not mailed: {m}"))
            }
            (SendError::Transient(m) | SendError::Permanent(m) | SendError::Refused(m), false) => {
                SendError::Permanent(format!("{n} of {total} recipients not mailed: {m}"))
            }
        })
    }

    /// One invocation: an SQS batch, or the scheduled sweep.
    pub async fn handle(&self, invocation: Invocation) -> Result<Answer, InvocationError> {
        match invocation {
            Invocation::Sqs(batch) => Ok(Answer::Batch(Box::pin(self.handle_sqs(batch)).await)),
            Invocation::Scheduled(e) if e.detail_type != "Scheduled Event" => {
                Err(InvocationError::NotScheduled(e.detail_type))
            }
            Invocation::Sweep(SweepInput { sweep: false }) => Err(InvocationError::NoSweep),
            Invocation::Scheduled(_) | Invocation::Sweep(_) => Ok(Answer::Swept(
                Box::pin(self.sweep(self.sweep_age_seconds)).await?,
            )),
        }
    }

    /// An SQS batch, concurrently; only the records that failed are returned for retry. A
    /// record that is not a ticket event fails every time and so ends in the DLQ.
    pub async fn handle_sqs(&self, batch: SqsEvent) -> SqsBatchResponse {
        let results = join_all(batch.records.iter().map(|r| async move {
            let id = r.message_id.clone().unwrap_or_default();
            let parsed = r
                .body
                .as_deref()
                .ok_or_else(|| "empty message".to_owned())
                .and_then(|b| {
                    serde_json::from_str::<QueueMessage>(b).map_err(|e| e.to_string())
                });
            let ok = match parsed {
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "neither a ticket event nor a job");
                    false
                }
                Ok(QueueMessage::Event(ev)) => self.deliver(&Event::from(*ev)).await.is_ok(),
                Ok(QueueMessage::Job(job)) => match self.run_job(&job).await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(job_id = %job.job_id, error = %e, "job failed; the queue retries it");
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

    /// Runs one workload job (service/workload.rs); the ticket events it makes are pushed
    /// like any other.
    pub async fn run_job(&self, job: &Job) -> Result<JobReport, StoreError> {
        run_job(
            &Workload {
                store: &self.store,
                capacity: self.capacity,
                publisher: &self.publisher,
            },
            job,
        )
        .await
    }

    /// Re-pushes outbox items older than the sweep age. Safe beside deliveries and other
    /// sweeps: each item's age key moves under a condition, so one sweep pushes it per
    /// period, and the delivery marker makes any extra copy harmless.
    pub async fn sweep(&self, age_seconds: i64) -> Result<SweepReport, StoreError> {
        let now = Timestamp::now();
        // The outbox and jobs beside the SLA breaches that came due (SPEC §10, their own
        // module): a sweep that finds nothing (nearly every one) is one round trip.
        let writer = crm_shared::service::transition::Writer {
            store: &self.store,
            capacity: self.capacity,
            events: &self.publisher,
            jobs: &self.jobs,
        };
        let breaches = crm_shared::service::breaches::sweep(&writer, now);
        let (mut report, breaches) =
            tokio::try_join!(self.sweep_outbox(now, age_seconds), breaches)?;
        report.breaches = breaches;
        Ok(report)
    }

    /// The outbox items and workload jobs whose push is older than `age_seconds`, pushed
    /// again (or parked).
    async fn sweep_outbox(
        &self,
        now: Timestamp,
        age_seconds: i64,
    ) -> Result<SweepReport, StoreError> {
        let before = now.plus_seconds(-age_seconds);
        // Both partitions at once: a sweep that finds nothing (nearly every one) is one
        // round trip, not two.
        let (stale, stale_jobs) = futures_util::future::try_join(
            self.store.stale_outbox(before, SWEEP_BATCH),
            self.store.stale_jobs(before, SWEEP_BATCH),
        )
        .await?;
        let mut report = SweepReport {
            stale: stale.len(),
            ..SweepReport::default()
        };
        for entry in stale {
            if entry.sweeps >= MAX_SWEEPS {
                if self.store.park_outbox(&entry).await? {
                    tracing::error!(event_id = %entry.event.id, alarm = ALARM_PARKED, "event undeliverable after {MAX_SWEEPS} sweeps; parked (see the dead-letter queue)");
                    report.parked += 1;
                }
                continue;
            }
            if !self.store.mark_outbox_pushed(&entry, now).await? {
                report.taken_by_others += 1;
                continue;
            }
            match self.publisher.push(&entry.event).await {
                Ok(()) => {
                    self.store.record_outbox_push(entry.event.key_id()).await?;
                    report.pushed += 1;
                }
                Err(PushError::Transient(e)) => {
                    tracing::warn!(event_id = %entry.event.id, error = %e, "sweep push failed; next sweep retries");
                    report.push_failures += 1;
                }
                Err(PushError::Permanent(e)) => {
                    // Pushing it again would fail the same way every period, forever: park
                    // it now and raise the alarm. It never reached the queue, so it is not
                    // in the dead-letter queue: the parked outbox item is its only copy.
                    report.refused += 1;
                    let moved = OutboxEntry {
                        order: keys::age_key(now, entry.event.key_id()),
                        ..entry.clone()
                    };
                    if self.store.park_outbox(&moved).await? {
                        tracing::error!(event_id = %entry.event.id, alarm = ALARM_PARKED, error = %e, "the queue refuses this event for good; parked under OUTBOX#PARKED (not in the dead-letter queue)");
                        report.parked += 1;
                    }
                }
            }
        }
        // Jobs a crash or a lost push interrupted: pushed again, at most once per period.
        for entry in stale_jobs {
            if self.store.mark_job_pushed(&entry, now).await? {
                match self.jobs.push(&entry.job).await {
                    Ok(()) => report.jobs_resumed += 1,
                    Err(e) => {
                        tracing::warn!(job_id = %entry.job.job_id, error = %e, "job re-push failed; next sweep retries");
                    }
                }
            }
        }
        if report.stale > 0 || report.jobs_resumed > 0 {
            tracing::info!(?report, "outbox sweep");
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/../../events/notifier/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_sample_events_are_typed_invocations() {
        let sqs = serde_json::from_value::<Invocation>(sample("sqs-batch.json")).unwrap();
        assert!(matches!(sqs, Invocation::Sqs(b) if b.records.len() == 3));
        let eb = serde_json::from_value::<Invocation>(sample("schedule-eventbridge.json")).unwrap();
        assert!(matches!(eb, Invocation::Scheduled(e) if e.detail_type == "Scheduled Event"));
        let sweep = serde_json::from_value::<Invocation>(sample("schedule-sweep.json")).unwrap();
        assert!(matches!(
            sweep,
            Invocation::Sweep(SweepInput { sweep: true })
        ));
    }

    #[test]
    fn other_input_is_no_invocation() {
        for other in [
            serde_json::json!({}),
            serde_json::json!({"sweep": true, "more": 1}),
            serde_json::json!({"Records": "none"}),
            serde_json::json!([1, 2]),
        ] {
            assert!(
                serde_json::from_value::<Invocation>(other.clone()).is_err(),
                "{other}"
            );
        }
    }

    #[test]
    fn the_answers_serialize_as_the_runtime_sends_them() {
        let batch = serde_json::to_value(Answer::Batch(SqsBatchResponse::default())).unwrap();
        assert_eq!(batch, serde_json::json!({"batchItemFailures": []}));
        let swept = serde_json::to_value(Answer::Swept(SweepReport::default())).unwrap();
        assert_eq!(swept["stale"], 0);
    }
}
