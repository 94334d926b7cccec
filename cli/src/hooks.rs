//! The webhook dispatcher inside `crm serve`: the same code as the dispatcher Lambda, fed by
//! an in-process queue instead of SQS. Each subscription has its own few slots, so a receiver
//! that hangs holds only its own deliveries; a sweep at start finds every pending delivery
//! again (a crash loses only timers, never records), and a sweep every few seconds finds
//! what a lost message left due.

use crm_dispatcher::dispatch::HORIZON;
use crm_dispatcher::{Dispatcher, Policy, Resolve, SystemResolver, WebhookClient};
use crm_shared::config::Config;
use crm_shared::store::Store;
use crm_shared::webhooks::queue::{Queued, WebhookQueue};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Attempts in flight for one subscription.
pub const PER_SUBSCRIPTION: usize = 4;
/// Attempts in flight in all.
const TOTAL: usize = 64;
/// How often the due index is read (a delivery whose message was lost waits this much more
/// than its lease).
const SWEEP_PERIOD: Duration = Duration::from_secs(5);
/// At start every pending delivery is due: its timer died with the last process.
const EVERYTHING: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub struct LocalDispatcher {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the dispatcher and its sweeper; returns the queue that hands deliveries to it.
pub fn start(
    store: Store,
    config: &Config,
    resolver: Arc<dyn Resolve>,
) -> anyhow::Result<(WebhookQueue, LocalDispatcher)> {
    let client = WebhookClient::new()
        .map_err(|e| anyhow::anyhow!("webhooks: the system's root certificates: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = WebhookQueue::Channel(tx);
    let dispatcher = Arc::new(Dispatcher {
        store,
        client,
        resolver,
        policy: Policy {
            addresses: (&config.webhooks).into(),
            timeout: Duration::from_millis(config.webhooks.timeout_ms),
        },
        queue: queue.clone(),
        retry_scale: config.webhooks.retry_scale,
    });
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(work(dispatcher.clone(), rx, stopped.clone()));
    let sweeper = tokio::spawn(sweep(dispatcher, stopped));
    Ok((
        queue,
        LocalDispatcher {
            stop,
            tasks: vec![worker, sweeper],
        },
    ))
}

/// The system's resolver (tests of the address rules bring a stand-in).
pub fn system_resolver() -> Arc<dyn Resolve> {
    Arc::new(SystemResolver)
}

impl LocalDispatcher {
    /// Stops taking deliveries; attempts in flight get a moment to finish (what is left stays
    /// pending and is found again at the next start).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn work(
    dispatcher: Arc<Dispatcher>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    mut stopped: watch::Receiver<bool>,
) {
    let total = Arc::new(Semaphore::new(TOTAL));
    let mut slots: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            m = rx.recv() => {
                let Some(m) = m else { break };
                let own = slots
                    .entry(m.delivery.subscription_id.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_SUBSCRIPTION)))
                    .clone();
                let total = total.clone();
                let d = dispatcher.clone();
                let mut stop = stopped.clone();
                running.spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(m.delay) => {}
                        _ = stop.changed() => return,
                    }
                    // Its own subscription's slot first: a hanging receiver waits on its own
                    // slots and takes at most PER_SUBSCRIPTION of the total.
                    let Ok(_own) = own.acquire_owned().await else { return };
                    let Ok(_any) = total.acquire_owned().await else { return };
                    if let Err(e) = d.handle(&m.delivery).await {
                        tracing::warn!(delivery_id = %m.delivery.delivery_id, error = %e, "webhook delivery not recorded; the sweep takes it again");
                    }
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
        tracing::warn!(
            "webhook attempts still running at shutdown; they are found again at the next start"
        );
    }
}

async fn sweep(dispatcher: Arc<Dispatcher>, mut stopped: watch::Receiver<bool>) {
    if let Err(e) = dispatcher.sweep(EVERYTHING).await {
        tracing::warn!(error = %e, "start-up webhook sweep failed");
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_PERIOD) => {
                if let Err(e) = dispatcher.sweep(HORIZON).await {
                    tracing::warn!(error = %e, "webhook sweep failed");
                }
            }
            _ = stopped.changed() => return,
        }
    }
}
