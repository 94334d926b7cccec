//! A table that is down or failing (SPEC §1: a dependency that is down is 503 with
//! Retry-After, never a 500), seen through ticket requests on the DynamoDB backend: nothing
//! listens at the endpoint, or every request is answered by a 5xx whose body is not
//! DynamoDB's JSON (as a load balancer or a crashed emulator answers).

use crm_shared::service;
use crm_shared::store::{DynamoBackend, Store};
use crm_tests::desk::{Desk, new_ticket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A store whose table lives at `url` (nothing is created there).
async fn store_at(url: String) -> Store {
    let sdk = crm_tests::emulator::sdk_config_for(url).await;
    Store::dynamo(DynamoBackend::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "crm".to_owned(),
    ))
}

/// Answers every request with `500 Internal Server Error` and an HTML page.
async fn html_500_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let body = "<!doctype html><title>500 Internal Server Error</title>";
                let resp = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    url
}

/// A ticket request against a failing table: 503 with Retry-After.
async fn assert_unavailable(store: Store) {
    let w = Desk::attach(store);
    let who = w.as_user("cust", crm_shared::model::UserType::Customer);
    let r = service::create_ticket(&w.ctx, &who, new_ticket("t")).await;
    let e = r.expect_err("the table is failing");
    assert_eq!(
        (e.code, e.retry_after),
        (crm_shared::ErrorCode::ServiceUnavailable, Some(1)),
        "{e:?}"
    );
    let e = w
        .get(&who, crm_shared::model::TicketId::new().as_str())
        .await
        .expect_err("the table is failing");
    assert_eq!((e.status(), e.retry_after), (503, Some(1)), "{e:?}");
}

#[tokio::test]
async fn a_table_nobody_answers_is_503_with_retry_after() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let url = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    assert_unavailable(store_at(url).await).await;
}

#[tokio::test]
async fn a_table_answering_5xx_without_json_is_503_with_retry_after() {
    assert_unavailable(store_at(html_500_server().await).await).await;
}
