//! `kill -9` of `crm serve` between the commit and the delivery (SPEC §7: "Every event reaches
//! every subscription that wanted it when the event was committed, at least once, through
//! crashes and redeliveries"). Three subscriptions want different types; the receivers hold
//! every request (no delivery completes) while tickets are created and updated; the server is
//! killed right after the last answer, with events in its in-process queues, deliveries
//! recorded and not, attempts in flight. After a restart on the same data dir (the outbox
//! sweep re-pushes, the fan-out records what was missing, the dispatcher's start sweep finds
//! every pending delivery) and with the receivers answering, each receiver gets every event
//! it wanted: checked by (ticket, version), each delivery's `webhook-id` the event's id.

use super::support::*;
use crm_tests::ServerOptions;
use crm_tests::receiver::{Receiver, Reply};
use crm_tests::server::temp_dir;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const TICKETS: usize = 8;

/// (ticket id, version) of every ticket event a receiver got (the `*` one gets the user
/// events too), checking each `webhook-id`.
fn seen(r: &Receiver) -> BTreeSet<(String, u64)> {
    r.received()
        .iter()
        .filter_map(|x| {
            let e = x.json();
            assert_eq!(x.header("webhook-id"), e["id"].as_str().unwrap());
            e["data"]["ticket"].is_object().then_some(e)
        })
        .map(|e| {
            (
                e["data"]["ticket"]["_id"].as_str().unwrap().to_owned(),
                e["data"]["ticket"]["version"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_reaches_every_subscription_after_a_kill_between_commit_and_delivery() {
    let _heavy = heavy().await;
    let all = Receiver::start(vec![Reply::Status(200)]).await;
    let created = Receiver::start(vec![Reply::Status(200)]).await;
    let updated = Receiver::start(vec![Reply::Status(200)]).await;
    for r in [&all, &created, &updated] {
        r.hold(true);
    }
    let dir = temp_dir("crm-rel-hooks");
    let opts = ServerOptions {
        data_dir: Some(dir.clone()),
        env: vec![
            ("CRM_WEBHOOK_RETRY_SCALE".into(), "0.001".into()),
            ("CRM_WEBHOOK_TIMEOUT_MS".into(), "2000".into()),
        ],
        ..ServerOptions::default()
    };
    let mut server = start(opts.clone());
    let c = server.client();
    let admin = c.admin().await;
    for (r, events) in [
        (&all, json!(["*"])),
        (&created, json!(["ticket.created"])),
        (&updated, json!(["ticket.updated"])),
    ] {
        c.post(
            "/webhooks",
            &admin,
            json!({"url": r.url("/in"), "events": events}),
        )
        .await
        .expect(201);
    }
    let customer = c.customer("crashhook1").await;
    let made = futures_util::future::join_all((0..TICKETS).map(|i| {
        let c = c.clone();
        let customer = customer.clone();
        async move {
            let r = c
                .post(
                    "/tickets",
                    &customer,
                    json!({"title": format!("Hook crash {i}"), "description": "d"}),
                )
                .await;
            r.expect(201);
            let id = id_of(r.data());
            c.put(
                &format!("/tickets/{id}"),
                &customer,
                json!({"description": "changed"}),
            )
            .await
            .expect(200);
            id
        }
    }))
    .await;
    let status = tokio::task::block_in_place(|| server.signal_and_wait("KILL"));
    assert!(!status.success());
    assert!(
        all.received().is_empty(),
        "no delivery completed before the kill"
    );

    for r in [&all, &created, &updated] {
        r.hold(false);
    }
    let _server = start(opts);
    let want_all: BTreeSet<(String, u64)> = made
        .iter()
        .flat_map(|id| [(id.clone(), 1), (id.clone(), 2)])
        .collect();
    let want_created: BTreeSet<_> = want_all.iter().filter(|(_, v)| *v == 1).cloned().collect();
    let want_updated: BTreeSet<_> = want_all.iter().filter(|(_, v)| *v == 2).cloned().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (a, cr, up) = (seen(&all), seen(&created), seen(&updated));
        if a == want_all && cr == want_created && up == want_updated {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the restart: all {}/{}, created {}/{}, updated {}/{}",
            a.len(),
            want_all.len(),
            cr.len(),
            want_created.len(),
            up.len(),
            want_updated.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    figure(
        "webhooks after kill -9: deliveries received (at least once) / events wanted",
        format!(
            "{}/{}",
            all.received().len() + created.received().len() + updated.received().len(),
            want_all.len() * 2
        ),
    );
}
