//! Twenty subscriptions, one of them to a receiver that never answers, do not slow a ticket
//! creation (SPEC §7: "A slow, failing or hostile receiver never slows or fails an API
//! request"). One `crm serve`, one run: the latency of creations before the subscriptions
//! exist, then with them while every creation fans out to 19 answering receivers and the
//! hanging one; the ratio of the medians is the figure (no absolute time is asserted).
//!
//! Creations are paced (one every 100 ms, the time a creation's fan-out and deliveries take
//! here): the ratio then shows what the request path waits for, which is nothing of the
//! webhooks. Back to back, a second figure shows the price of the work itself in one process:
//! `crm serve`'s embedded store has one writer, which each creation shares with its twenty
//! delivery records and twenty attempt results (in the cloud those are the notifier's and the
//! dispatcher's own Lambdas, on other DynamoDB partitions).

use super::support::*;
use crm_tests::ServerOptions;
use crm_tests::receiver::{Receiver, Reply};
use serde_json::json;
use std::time::{Duration, Instant};

const CREATIONS: usize = 60;

async fn median_create(
    c: &crm_tests::Client,
    token: &str,
    label: &str,
    pace: Duration,
) -> Duration {
    let mut took = Vec::with_capacity(CREATIONS);
    for i in 0..CREATIONS {
        tokio::time::sleep(pace).await;
        let start = Instant::now();
        let r = c
            .post(
                "/tickets",
                token,
                json!({"title": format!("{label} {i}"), "description": "Latency probe."}),
            )
            .await;
        took.push(start.elapsed());
        r.expect(201);
    }
    took.sort();
    percentile(&took, 50.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_subscriptions_and_a_hanging_receiver_do_not_slow_a_creation() {
    let _heavy = heavy().await;
    let answering = Receiver::start(vec![Reply::Status(200)]).await;
    let hanging = Receiver::start(vec![Reply::Hang]).await;
    let server = start(ServerOptions::default());
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("loadhook1").await;
    // Warm up, then the baseline.
    let paced = Duration::from_millis(100);
    median_create(&c, &customer, "warm-up", paced).await;
    let before = median_create(&c, &customer, "before", paced).await;
    let before_burst = median_create(&c, &customer, "before, back to back", Duration::ZERO).await;
    for i in 0..20 {
        let url = if i == 0 {
            hanging.url("/hang")
        } else {
            answering.url(&format!("/r{i}"))
        };
        c.post("/webhooks", &admin, json!({"url": url, "events": ["*"]}))
            .await
            .expect(201);
    }
    let with = median_create(&c, &customer, "with", paced).await;
    let with_burst = median_create(&c, &customer, "with, back to back", Duration::ZERO).await;
    let ratio = with.as_secs_f64() / before.as_secs_f64();
    let burst_ratio = with_burst.as_secs_f64() / before_burst.as_secs_f64();
    figure(
        "POST /tickets median with 20 subscriptions (one hanging) / without, one crm serve, paced",
        format!("{ratio:.2} ({with:?} / {before:?})"),
    );
    figure(
        "the same, back to back (the embedded store's one writer shared with the deliveries)",
        format!("{burst_ratio:.2} ({with_burst:?} / {before_burst:?})"),
    );
    assert!(
        answering.received().len() >= 19 * CREATIONS,
        "the fan-out ran during the measurement ({} deliveries)",
        answering.received().len()
    );
    assert!(hanging.connections() >= 1, "the hanging receiver was tried");
    assert!(
        ratio < 3.0,
        "creations slowed by the webhooks: ratio {ratio:.2}"
    );
}
