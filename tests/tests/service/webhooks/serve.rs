//! Webhooks through `crm serve` and its HTTP API, to receivers on loopback ports (SPEC §7):
//! deliveries verified by the PyPI package `standardwebhooks` (also the two signatures of a
//! rotation), and each outcome a receiver can cause, as the delivery records show it. The
//! retry waits are shortened (`CRM_WEBHOOK_RETRY_SCALE`) and so is an attempt's deadline
//! (`CRM_WEBHOOK_TIMEOUT_MS`) where a test waits for one; nothing asserts an absolute time.

use crm_tests::receiver::{Receiver, Reply, verify_with_standard_webhooks};
use crm_tests::{Client, Server, ServerOptions};
use serde_json::{Value, json};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

pub fn start(env: &[(&str, &str)]) -> Server {
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::block_in_place(|| {
        Server::start_with(ServerOptions {
            env,
            ..ServerOptions::default()
        })
    })
}

/// Retries within milliseconds: 5 s → 5 ms, 5 min → 300 ms, 30 min → 1.8 s.
pub const FAST_RETRIES: (&str, &str) = ("CRM_WEBHOOK_RETRY_SCALE", "0.001");

pub async fn subscribe(c: &Client, admin: &str, url: &str, events: Value) -> (String, String) {
    let r = c
        .post("/webhooks", admin, json!({"url": url, "events": events}))
        .await;
    r.expect(201);
    let d = r.data();
    (
        d["_id"].as_str().expect("id").to_owned(),
        d["secret"].as_str().expect("secret").to_owned(),
    )
}

pub async fn create_ticket(c: &Client, token: &str, title: &str) -> Value {
    let r = c
        .post(
            "/tickets",
            token,
            json!({"title": title, "description": format!("About {title}")}),
        )
        .await;
    r.expect(201);
    r.data().clone()
}

pub async fn deliveries(c: &Client, admin: &str, id: &str, query: &str) -> Vec<Value> {
    let r = c
        .get(&format!("/webhooks/{id}/deliveries{query}"), admin)
        .await;
    r.expect(200);
    r.data().as_array().cloned().unwrap_or_default()
}

/// Waits until the subscription's deliveries satisfy `pred`; returns them.
pub async fn wait_deliveries(
    c: &Client,
    admin: &str,
    id: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let got = deliveries(c, admin, id, "").await;
        if pred(&got) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WITHIN:?}; deliveries: {got:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn created_events(got: &[crm_tests::receiver::Received]) -> usize {
    got.iter()
        .filter(|r| r.json()["type"] == "ticket.created")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_verify_with_the_standardwebhooks_package_and_carry_the_event_id() {
    let receiver = Receiver::start(vec![Reply::Status(204)]).await;
    let server = start(&[]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust1").await;
    let (id, secret) = subscribe(
        &c,
        &admin,
        &receiver.url("/hooks"),
        json!(["ticket.created"]),
    )
    .await;
    let t = create_ticket(&c, &customer, "Printer on fire").await;

    let got = receiver
        .wait_for(WITHIN, "the ticket.created delivery", |r| {
            created_events(r) == 1
        })
        .await;
    let r = &got[0];
    let event = r.json();
    assert_eq!(event["data"]["ticket"]["_id"], t["_id"]);
    assert_eq!(r.header("webhook-id"), event["id"].as_str().unwrap());
    assert!(r.header("webhook-id").starts_with("evt_"));
    assert_eq!(r.header("content-type"), "application/json");
    let ts: i64 = r.header("webhook-timestamp").parse().expect("Unix seconds");
    assert!((ts - chrono::Utc::now().timestamp()).abs() < 300);
    assert!(r.header("webhook-signature").starts_with("v1,"));
    assert!(
        !r.header("webhook-signature").contains(' '),
        "one secret, one signature"
    );
    assert_eq!(
        verify_with_standard_webhooks(r, std::slice::from_ref(&secret)),
        ["ok"]
    );
    // Another secret is refused: the library really checks.
    let other = crm_shared::webhooks::signature::Secret::generate().reveal();
    assert!(verify_with_standard_webhooks(r, &[other])[0].starts_with("refused"));

    // The record: succeeded at the first attempt, as the API lists it.
    let ds = wait_deliveries(&c, &admin, &id, "the delivery recorded", |d| {
        d.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    assert_eq!(ds.len(), 1, "the subscription wants ticket.created only");
    let d = &ds[0];
    assert_eq!(d["eventId"], event["id"]);
    assert_eq!(d["type"], "ticket.created");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["lastStatusCode"], 204);
    assert_eq!(d["lastError"], Value::Null);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert!(d["lastAttemptAt"].as_str().is_some());
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "_id",
            "attempts",
            "eventId",
            "lastAttemptAt",
            "lastError",
            "lastStatusCode",
            "nextAttemptAt",
            "status",
            "type"
        ],
        "SPEC §7's delivery fields, and never the receiver's answer"
    );
    assert!(
        !d.to_string().contains("received"),
        "the receiver's body never reaches a client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_rotation_both_secrets_sign_and_each_verifies() {
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    let server = start(&[]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust2").await;
    let (id, old) = subscribe(&c, &admin, &receiver.url("/r"), json!(["*"])).await;
    let r = c
        .post(&format!("/webhooks/{id}/rotate-secret"), &admin, json!({}))
        .await;
    r.expect(200);
    let new = r.data()["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    create_ticket(&c, &customer, "After the rotation").await;
    let got = receiver
        .wait_for(WITHIN, "a delivery after the rotation", |r| {
            created_events(r) == 1
        })
        .await;
    let r = got
        .iter()
        .find(|r| r.json()["type"] == "ticket.created")
        .unwrap();
    let signatures: Vec<&str> = r.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "two signatures during the overlap");
    assert!(signatures.iter().all(|s| s.starts_with("v1,")));
    assert_eq!(
        verify_with_standard_webhooks(r, &[new.clone(), old.clone()]),
        ["ok", "ok"],
        "a receiver with either secret verifies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_that_fails_then_succeeds_is_retried_until_it_does() {
    let receiver = Receiver::start(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(200),
    ])
    .await;
    let server = start(&[FAST_RETRIES]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust3").await;
    let (id, _) = subscribe(
        &c,
        &admin,
        &receiver.url("/flaky"),
        json!(["ticket.created"]),
    )
    .await;
    create_ticket(&c, &customer, "Flaky receiver").await;
    let ds = wait_deliveries(&c, &admin, &id, "success on the third attempt", |d| {
        d.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    assert_eq!(ds[0]["attempts"], 3);
    assert_eq!(ds[0]["lastStatusCode"], 200);
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one event id on every attempt: {ids:?}"
    );
    let sub = c.get(&format!("/webhooks/{id}"), &admin).await;
    assert_eq!(sub.data()["enabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_410_disables_the_subscription_at_once() {
    let receiver = Receiver::start(vec![Reply::Status(410)]).await;
    let server = start(&[FAST_RETRIES]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust4").await;
    let (id, _) = subscribe(
        &c,
        &admin,
        &receiver.url("/gone"),
        json!(["ticket.created"]),
    )
    .await;
    create_ticket(&c, &customer, "Receiver gone").await;
    let ds = wait_deliveries(&c, &admin, &id, "the 410 recorded", |d| {
        d.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(ds[0]["attempts"], 1, "no retry after a 410");
    assert_eq!(ds[0]["lastStatusCode"], 410);
    let sub = c.get(&format!("/webhooks/{id}"), &admin).await;
    sub.expect(200);
    assert_eq!(sub.data()["enabled"], false);
    assert!(
        sub.data()["disabledReason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{}",
        sub.text
    );
    // A disabled subscription gets nothing more.
    create_ticket(&c, &customer, "After the 410").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(deliveries(&c, &admin, &id, "").await.len(), 1);
    assert_eq!(receiver.received().len(), 1);
    // Enabled again by an admin, it receives again and its reason is gone.
    let r = c
        .put(&format!("/webhooks/{id}"), &admin, json!({"enabled": true}))
        .await;
    r.expect(200);
    assert_eq!(r.data()["enabled"], true);
    assert!(r.data().get("disabledReason").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_receiver_times_out_and_the_attempt_is_recorded() {
    let receiver = Receiver::start(vec![Reply::Hang]).await;
    let server = start(&[("CRM_WEBHOOK_TIMEOUT_MS", "500")]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust5").await;
    let (id, _) = subscribe(
        &c,
        &admin,
        &receiver.url("/hang"),
        json!(["ticket.created"]),
    )
    .await;
    create_ticket(&c, &customer, "Receiver hangs").await;
    let ds = wait_deliveries(&c, &admin, &id, "the timeout recorded", |d| {
        d.first().is_some_and(|d| d["attempts"] == 1)
    })
    .await;
    let d = &ds[0];
    assert_eq!(d["status"], "pending", "retried later (5 s)");
    assert_eq!(d["lastStatusCode"], Value::Null);
    assert!(
        d["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within 500 ms")),
        "{d}"
    );
    assert!(d["nextAttemptAt"].as_str().is_some());
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redirect_to_a_private_address_is_not_followed_and_fails_the_attempt() {
    // Where the redirect points: a listener that must never be reached, on a private
    // (loopback) address, as the metadata service would be.
    let target = Receiver::start(vec![Reply::Status(200)]).await;
    let receiver = Receiver::start(vec![Reply::Redirect(target.url("/latest/meta-data/"))]).await;
    let server = start(&[FAST_RETRIES]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("hookcust6").await;
    let (id, _) = subscribe(
        &c,
        &admin,
        &receiver.url("/moved"),
        json!(["ticket.created"]),
    )
    .await;
    create_ticket(&c, &customer, "Receiver redirects").await;
    let ds = wait_deliveries(&c, &admin, &id, "the redirect recorded", |d| {
        d.first().is_some_and(|d| d["attempts"].as_u64() >= Some(2))
    })
    .await;
    let d = &ds[0];
    assert_eq!(d["lastStatusCode"], 302);
    assert!(
        d["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("redirects are not followed")),
        "{d}"
    );
    assert_eq!(
        target.connections(),
        0,
        "the redirect's target was never contacted"
    );
}
