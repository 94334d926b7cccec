//! The subscription endpoints' rules (SPEC §7), one named test each, through `crm serve`:
//! approved ADMIN only (checked before existence), at most 20, known event types, the URL
//! rules under the cloud's address policy, the secret shown only at creation and rotation,
//! changes, deletion, the deliveries listing and the retry. Every refused input changes
//! nothing.

use super::serve::{FAST_RETRIES, create_ticket, deliveries, start, subscribe, wait_deliveries};
use crm_tests::receiver::{Receiver, Reply};
use crm_tests::{assert_error, assert_invalid};
use serde_json::{Value, json};

/// The cloud's rules: https only, no private or loopback host.
const CLOUD_RULES: [(&str, &str); 2] = [
    ("CRM_WEBHOOK_ALLOW_HTTP", "false"),
    ("CRM_WEBHOOK_ALLOW_PRIVATE", "false"),
];

const PUBLIC_URL: &str = "https://hooks.example.com/crm";

async fn count(c: &crm_tests::Client, admin: &str) -> usize {
    let r = c.get("/webhooks", admin).await;
    r.expect(200);
    r.body["documentResultsCount"].as_u64().unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_an_approved_admin_may_use_the_webhook_endpoints_checked_before_existence() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("whcust1").await;
    let engineer = c.engineer(&admin, "wheng1").await;
    let (id, _) = subscribe(&c, &admin, PUBLIC_URL, json!(["*"])).await;
    for token in [&customer, &engineer] {
        for (method, path) in [
            ("POST", "/webhooks".to_owned()),
            ("GET", "/webhooks".to_owned()),
            ("GET", format!("/webhooks/{id}")),
            ("GET", "/webhooks/01JD6E2Q7M0000000000000000".to_owned()),
            ("PUT", format!("/webhooks/{id}")),
            ("DELETE", format!("/webhooks/{id}")),
            ("DELETE", "/webhooks/nosuch".to_owned()),
            ("POST", format!("/webhooks/{id}/rotate-secret")),
            ("GET", format!("/webhooks/{id}/deliveries")),
            (
                "POST",
                format!("/webhooks/{id}/deliveries/01JD6E2Q7M0000000000000000/retry"),
            ),
        ] {
            let body = json!({"url": PUBLIC_URL, "events": ["*"]});
            let r = c.call(method, &path, Some(token), Some(body)).await;
            assert_error(&r, 403, "FORBIDDEN");
        }
    }
    let r = c.call("GET", "/webhooks", None, None).await;
    assert_error(&r, 401, "NO_TOKEN");
    assert_eq!(count(&c, &admin).await, 1, "nothing changed");
    let r = c.get("/webhooks/01JD6E2Q7M0000000000000000", &admin).await;
    assert_error(&r, 404, "WEBHOOK_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creation_answers_201_with_the_secret_once_and_no_other_answer_shows_it() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    let r = c
        .post(
            "/webhooks",
            &admin,
            json!({"url": PUBLIC_URL, "events": ["ticket.created", "comment.created"], "description": " Ops bridge "}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let d = r.data();
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "_id",
            "createdAt",
            "description",
            "enabled",
            "events",
            "secret",
            "updatedAt",
            "url"
        ]
    );
    assert_eq!(d["enabled"], true);
    assert_eq!(d["description"], "Ops bridge");
    assert_eq!(d["events"], json!(["ticket.created", "comment.created"]));
    let secret = d["secret"].as_str().unwrap();
    let decoded = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        secret.strip_prefix("whsec_").expect("whsec_ prefix"),
    )
    .expect("base64");
    assert_eq!(decoded.len(), 32, "32 random bytes");
    let id = d["_id"].as_str().unwrap();
    for r in [
        c.get(&format!("/webhooks/{id}"), &admin).await,
        c.get("/webhooks", &admin).await,
        c.put(
            &format!("/webhooks/{id}"),
            &admin,
            json!({"description": "other"}),
        )
        .await,
        c.get(&format!("/webhooks/{id}/deliveries"), &admin).await,
    ] {
        r.expect(200);
        assert!(
            !r.text.contains("whsec_") && !r.text.contains("secret"),
            "{}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_twenty_first_subscription_is_409_webhook_limit_even_when_created_at_once() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    let made = futures_util::future::join_all((0..25).map(|i| {
        let c = c.clone();
        let admin = admin.clone();
        async move {
            c.post(
                "/webhooks",
                &admin,
                json!({"url": format!("{PUBLIC_URL}/{i}"), "events": ["*"]}),
            )
            .await
        }
    }))
    .await;
    let created = made.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 20);
    for r in made.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "WEBHOOK_LIMIT");
    }
    assert_eq!(count(&c, &admin).await, 20);
    // Deleting one makes room for one.
    let first = made.iter().find(|r| r.status == 201).unwrap().data()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.call("DELETE", &format!("/webhooks/{first}"), Some(&admin), None)
        .await
        .expect(200);
    subscribe(&c, &admin, PUBLIC_URL, json!(["*"])).await;
    let r = c
        .post(
            "/webhooks",
            &admin,
            json!({"url": PUBLIC_URL, "events": ["*"]}),
        )
        .await;
    assert_error(&r, 409, "WEBHOOK_LIMIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_event_types_and_bad_events_are_400_naming_events() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    for events in [
        json!(["ticket.deleted"]),
        json!([]),
        json!("*"),
        json!(["*", "ticket.created"]),
        json!([1]),
        Value::Null,
    ] {
        let r = c
            .post(
                "/webhooks",
                &admin,
                json!({"url": PUBLIC_URL, "events": events}),
            )
            .await;
        assert_invalid(&r, "events");
    }
    let r = c
        .post("/webhooks", &admin, json!({"url": PUBLIC_URL}))
        .await;
    assert_invalid(&r, "events");
    assert_eq!(count(&c, &admin).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn urls_that_are_not_public_https_are_400_naming_url() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    let long = format!("https://example.com/{}", "a".repeat(2048));
    for url in [
        "http://hooks.example.com/crm",
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://10.1.2.3/h",
        "https://192.168.0.1/h",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/h",
        "https://[fd00::1]/h",
        "https://[::ffff:10.0.0.1]/h",
        "https://[fe80::1]/h",
        "https://0.0.0.0/h",
        "https://224.0.0.1/h",
        "https://0x7f.1/h",
        "https://user:pass@hooks.example.com/h",
        "ftp://hooks.example.com/h",
        "/relative",
        "",
        long.as_str(),
    ] {
        let r = c
            .post("/webhooks", &admin, json!({"url": url, "events": ["*"]}))
            .await;
        assert_invalid(&r, "url");
    }
    assert_eq!(count(&c, &admin).await, 0, "nothing was created");
    let (id, _) = subscribe(&c, &admin, PUBLIC_URL, json!(["*"])).await;
    let r = c
        .put(
            &format!("/webhooks/{id}"),
            &admin,
            json!({"url": "https://127.0.0.1/h"}),
        )
        .await;
    assert_invalid(&r, "url");
    let r = c.get(&format!("/webhooks/{id}"), &admin).await;
    assert_eq!(
        r.data()["url"],
        PUBLIC_URL,
        "the refused change changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_changes_url_events_description_and_enabled_and_delete_removes() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    let (id, _) = subscribe(&c, &admin, PUBLIC_URL, json!(["*"])).await;
    let r = c
        .put(
            &format!("/webhooks/{id}"),
            &admin,
            json!({"url": "https://other.example.com/x", "events": ["user.created"],
                   "description": "users", "enabled": false}),
        )
        .await;
    r.expect(200);
    let d = r.data();
    assert_eq!(d["url"], "https://other.example.com/x");
    assert_eq!(d["events"], json!(["user.created"]));
    assert_eq!(d["description"], "users");
    assert_eq!(d["enabled"], false);
    let r = c
        .put(
            &format!("/webhooks/{id}"),
            &admin,
            json!({"description": null}),
        )
        .await;
    assert_eq!(r.data()["description"], Value::Null);
    for bad in [json!({"enabled": "yes"}), json!({"events": ["nope"]})] {
        assert_eq!(
            c.put(&format!("/webhooks/{id}"), &admin, bad).await.status,
            400
        );
    }
    let r = c
        .call("DELETE", &format!("/webhooks/{id}"), Some(&admin), None)
        .await;
    r.expect(200);
    assert_error(
        &c.get(&format!("/webhooks/{id}"), &admin).await,
        404,
        "WEBHOOK_NOT_FOUND",
    );
    assert_error(
        &c.call("DELETE", &format!("/webhooks/{id}"), Some(&admin), None)
            .await,
        404,
        "WEBHOOK_NOT_FOUND",
    );
    assert_error(
        &c.get(&format!("/webhooks/{id}/deliveries"), &admin).await,
        404,
        "WEBHOOK_NOT_FOUND",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listings_page_with_next_token() {
    let server = start(&CLOUD_RULES);
    let c = server.client();
    let admin = c.admin().await;
    for i in 0..3 {
        subscribe(&c, &admin, &format!("{PUBLIC_URL}/{i}"), json!(["*"])).await;
    }
    let r = c.get("/webhooks?limit=2", &admin).await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 2);
    let next = r.body["nextToken"].as_str().expect("nextToken").to_owned();
    let r2 = c
        .get(
            &format!("/webhooks?limit=2&nextToken={}", crm_tests::enc(&next)),
            &admin,
        )
        .await;
    r2.expect(200);
    assert_eq!(r2.body["documentResultsCount"], 1);
    assert!(r2.body.get("nextToken").is_none());
    assert_eq!(
        r2.data()[0]["url"],
        format!("{PUBLIC_URL}/2"),
        "creation order"
    );
    assert_error(
        &c.get("/webhooks?limit=0", &admin).await,
        400,
        "INVALID_QUERY",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_list_newest_first_by_status_and_a_retry_attempts_again_now() {
    let receiver = Receiver::start(vec![Reply::Status(410), Reply::Status(200)]).await;
    let server = start(&[FAST_RETRIES]);
    let c = server.client();
    let admin = c.admin().await;
    let customer = c.customer("whcust8").await;
    let (id, _) = subscribe(&c, &admin, &receiver.url("/d"), json!(["ticket.created"])).await;
    create_ticket(&c, &customer, "First").await;
    let first = wait_deliveries(&c, &admin, &id, "the first failed", |d| {
        d.first().is_some_and(|d| d["status"] == "failed")
    })
    .await[0]
        .clone();
    // Enabled again, a second event succeeds.
    c.put(&format!("/webhooks/{id}"), &admin, json!({"enabled": true}))
        .await
        .expect(200);
    create_ticket(&c, &customer, "Second").await;
    let ds = wait_deliveries(&c, &admin, &id, "the second succeeded", |d| {
        d.len() == 2 && d[0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(ds[1]["_id"], first["_id"], "newest first");
    assert_eq!(deliveries(&c, &admin, &id, "?status=failed").await.len(), 1);
    assert_eq!(
        deliveries(&c, &admin, &id, "?status=succeeded").await.len(),
        1
    );
    assert_eq!(
        deliveries(&c, &admin, &id, "?status=pending").await.len(),
        0
    );
    let r = c
        .get(&format!("/webhooks/{id}/deliveries?status=done"), &admin)
        .await;
    assert_error(&r, 400, "INVALID_QUERY");
    assert_eq!(r.body["field"], "status");
    // The failed one, retried by hand: 202, then attempted again (the receiver now answers 200).
    let did = first["_id"].as_str().unwrap();
    let r = c
        .post(
            &format!("/webhooks/{id}/deliveries/{did}/retry"),
            &admin,
            json!({}),
        )
        .await;
    r.expect(202);
    assert_eq!(r.data()["status"], "pending");
    let ds = wait_deliveries(&c, &admin, &id, "the retried one succeeded", |d| {
        d.iter().all(|d| d["status"] == "succeeded")
    })
    .await;
    assert_eq!(ds[1]["attempts"], 2);
    assert_error(
        &c.post(
            &format!("/webhooks/{id}/deliveries/01JD6E2Q7M0000000000000000/retry"),
            &admin,
            json!({}),
        )
        .await,
        404,
        "DELIVERY_NOT_FOUND",
    );
}
