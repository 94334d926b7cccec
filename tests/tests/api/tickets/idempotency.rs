//! `Idempotency-Key` over HTTP (SPEC §3, issue 16) against `crm serve`: the replayed `201`
//! is the original body and `Location` plus `Idempotent-Replayed: true`; another body under
//! the key is `422 IDEMPOTENCY_KEY_REUSED`; a malformed key is a `400` naming the header.

use super::desk::HttpDesk;
use crm_tests::client::assert_error;
use serde_json::json;

async fn post(d: &HttpDesk, token: &str, key: &str, body: serde_json::Value) -> crm_tests::Resp {
    d.c.raw(
        "POST",
        "/tickets",
        &[
            ("content-type", "application/json"),
            ("x-access-token", token),
            ("idempotency-key", key),
        ],
        Some(body.to_string().into_bytes()),
    )
    .await
}

#[tokio::test]
async fn a_retried_creation_replays_the_original_201() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    let body = json!({"title": "Printer", "description": "Error 254."});
    let first = post(&d, &cust, "retry-me-1", body.clone()).await;
    first.expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post(&d, &cust, "retry-me-1", body.clone()).await;
    again.expect(201);
    assert_eq!(again.text, first.text, "the same body");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(d.all_tickets().await.len(), 1);
    assert_eq!(d.count("eng1").await, 1);

    let other = post(
        &d,
        &cust,
        "retry-me-1",
        json!({"title": "Scanner", "description": "x"}),
    )
    .await;
    assert_error(&other, 422, "IDEMPOTENCY_KEY_REUSED");
    // Without a key, the same body is simply another ticket.
    d.post_ticket(&cust, body).await.expect(201);
    assert_eq!(d.all_tickets().await.len(), 2);
}

#[tokio::test]
async fn a_malformed_key_is_400_naming_the_header_and_writes_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let body = json!({"title": "t", "description": "d"});
    for bad in ["", "has space", &"k".repeat(256)] {
        let r = post(&d, &cust, bad, body.clone()).await;
        assert_error(&r, 400, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], "Idempotency-Key", "{bad:?}");
    }
    assert!(d.all_tickets().await.is_empty());
}
