//! The notification path inside `crm serve`: the same notifier code as the cloud Lambda,
//! fed by an in-process queue instead of SQS, with the same outbox sweep. Deliveries retry
//! with backoff (as SQS would redeliver) and end in `<data-dir>/dead-letter.log` (as in the
//! DLQ) when they keep failing. Beside it the webhook dispatcher (hooks.rs), fed by the
//! notifier's fan-out.

use crm_notifier::{DeliveryError, Notifier, Transport};
use crm_shared::config::Config;
use crm_shared::model::{Event, Job, Timestamp};
use crm_shared::queue::{JobQueue, Publisher, Queues};
use crm_shared::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Delays before each delivery attempt: 6 attempts over 15.5 s, longer than the local claim
/// lease, so a delivery cut off by a crash is taken over within the retries.
const RETRY_DELAYS_MS: [u64; 6] = [0, 500, 1_000, 2_000, 4_000, 8_000];
const LOCAL_LEASE_SECONDS: i64 = 10;
const CONCURRENCY: usize = 8;

pub struct LocalNotifier {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    dispatcher: crate::hooks::LocalDispatcher,
}

/// Starts the delivery worker, the job worker and the sweeper; returns the queues (events and
/// jobs) the API should push to.
pub async fn start(
    store: Store,
    config: &Config,
    data_dir: &Path,
    replies: Option<crm_shared::mail::ReplyAddresses>,
) -> anyhow::Result<(Queues, LocalNotifier)> {
    // The mail log holds addresses and mail bodies, the dead-letter log whole events: the
    // owner's alone (new files are made so; ones from before are narrowed).
    for log in ["mail.log", "dead-letter.log"] {
        crate::local::narrow_to_owner(&data_dir.join(log))?;
    }
    let transport = Transport::new(
        &config.mail,
        async || aws_sdk_sesv2::Client::new(&crm_shared::cloud::sdk_config().await),
        Some(data_dir.join("mail.log")),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let publisher = Publisher::Channel(tx);
    let (job_tx, job_rx) = mpsc::unbounded_channel();
    let jobs = JobQueue::Channel(job_tx);
    let (webhooks, dispatcher) =
        crate::hooks::start(store.clone(), config, crate::hooks::system_resolver())?;
    let notifier = Arc::new(Notifier {
        store,
        transport,
        publisher: publisher.clone(),
        lease_seconds: LOCAL_LEASE_SECONDS,
        sweep_age_seconds: config.outbox_sweep_age_seconds,
        jobs: jobs.clone(),
        capacity: config.engineer_capacity,
        // `crm serve` has no bus (SPEC §7).
        integrations: crm_notifier::integrations::Integrations {
            webhooks: webhooks.clone(),
            bus: None,
        },
        replies,
    });
    let (stop, stopped) = watch::channel(false);
    let dead_letters = data_dir.join("dead-letter.log");
    let worker = tokio::spawn(work(notifier.clone(), rx, stopped.clone(), dead_letters));
    let job_worker = tokio::spawn(run_jobs(notifier.clone(), job_rx, stopped.clone()));
    let sweeper = tokio::spawn(sweep(notifier, stopped));
    Ok((
        Queues {
            events: publisher,
            jobs,
            webhooks,
        },
        LocalNotifier {
            stop,
            tasks: vec![worker, job_worker, sweeper],
            dispatcher,
        },
    ))
}

impl LocalNotifier {
    /// Stops taking events and lets deliveries in flight finish (what is left stays in the
    /// outbox and goes out after the next start).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.dispatcher.stop().await;
    }
}

async fn work(
    notifier: Arc<Notifier>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut stopped: watch::Receiver<bool>,
    dead_letters: PathBuf,
) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                let Ok(slot) = slots.clone().acquire_owned().await else { break };
                let n = notifier.clone();
                let dl = dead_letters.clone();
                let stop = stopped.clone();
                running.spawn(async move {
                    deliver_with_retries(&n, &ev, &dl, stop).await;
                    drop(slot);
                });
            }
            _ = stopped.changed() => break,
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::warn!("deliveries still running at shutdown; the outbox keeps their events");
    }
}

async fn deliver_with_retries(
    n: &Notifier,
    ev: &Event,
    dead_letters: &Path,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = String::new();
    for delay in RETRY_DELAYS_MS {
        if delay > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
                // Stopping: leave the event in the outbox for the next start.
                _ = stop.changed() => return,
            }
        }
        match n.deliver(ev).await {
            Ok(_) => return,
            Err(DeliveryError::Retry(e)) => last = e,
            Err(DeliveryError::Permanent(e)) => {
                last = e;
                break;
            }
        }
    }
    tracing::error!(event_id = %ev.id, error = %last, "delivery failed; dead-lettered");
    let line = serde_json::json!({
        "at": Timestamp::now().rfc3339(),
        "eventId": ev.id,
        "error": last,
        "event": ev,
    });
    let written = async {
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dead_letters)
            .await?;
        f.write_all(format!("{line}\n").as_bytes()).await?;
        f.flush().await
    };
    if let Err(e) = written.await {
        tracing::error!(event_id = %ev.id, error = %e, "could not write the dead-letter log");
    }
}

/// Runs workload jobs one after another as they come (in the cloud the notifier Lambda runs
/// them from the queue). A job that fails stays in the table; the sweep pushes it again.
async fn run_jobs(
    notifier: Arc<Notifier>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { return };
                if let Err(e) = notifier.run_job(&job).await {
                    tracing::warn!(job_id = %job.job_id, error = %e, "job failed; the sweep resumes it");
                }
            }
            _ = stopped.changed() => return,
        }
    }
}

async fn sweep(notifier: Arc<Notifier>, mut stopped: watch::Receiver<bool>) {
    // At start every outbox item is an orphan of an earlier run: push them all now.
    if let Err(e) = notifier.sweep(0).await {
        tracing::warn!(error = %e, "start-up outbox sweep failed");
    }
    let period = Duration::from_secs(notifier.sweep_age_seconds.clamp(1, 30) as u64);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {
                if let Err(e) = notifier.sweep(notifier.sweep_age_seconds).await {
                    tracing::warn!(error = %e, "outbox sweep failed");
                }
            }
            _ = stopped.changed() => return,
        }
    }
}
