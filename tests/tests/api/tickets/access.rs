//! Ticket ids over HTTP (SPEC §3): ids are ULIDs (`_id`); a malformed id is 400, a
//! well-formed unknown id 404, a ticket that exists but is not the caller's 403 — on GET,
//! PUT and the history alike.

use super::desk::{HttpDesk, assert_error, assert_invalid};
use serde_json::json;

/// GET, PUT and GET history of `id` as `token`: each response.
async fn three(d: &HttpDesk, token: &str, id: &str) -> [crm_tests::Resp; 3] {
    [
        d.get_ticket(token, id).await,
        d.put_ticket(token, id, json!({"status": "BLOCKED"})).await,
        d.history(token, id, "").await,
    ]
}

#[tokio::test]
async fn ticket_ids_malformed_400_unknown_404_not_yours_403() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let other = d.customer("other").await;
    let eng1 = d.engineer("eng1").await;
    let eng2 = d.engineer("eng2").await;
    let t = d.create(&cust, "t").await;
    let id = t["_id"].as_str().expect("_id").to_owned();
    assert_eq!(t["assignee"], "eng1");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            && !id.contains(['I', 'L', 'O', 'U']),
        "a canonical ULID: {id}"
    );

    for bad in [
        "62ed134ee134ad67c6c61e68", // the seed's Mongo ObjectId
        "not-a-ticket",
        "01ARZ3NDEKTSV4RRFFQ69G5FA%21",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        for token in [&d.admin, &cust] {
            for r in three(&d, token, bad).await {
                assert_invalid(&r, "ticketId");
            }
        }
    }
    let unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for token in [&d.admin, &cust, &eng2] {
        for r in three(&d, token, unknown).await {
            assert_error(&r, 404, "TICKET_NOT_FOUND");
        }
    }
    for token in [&other, &eng2] {
        for r in three(&d, token, &id).await {
            assert_error(&r, 403, "FORBIDDEN");
        }
    }
    // The refused PUTs changed nothing; the concerned users get through.
    let r = d.get_ticket(&cust, &id).await;
    r.expect(200);
    assert_eq!(r.data(), &t);
    d.get_ticket(&eng1, &id).await.expect(200);
    d.get_ticket(&d.admin, &id).await.expect(200);
    let r = d.history(&cust, &id, "").await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 1);
}
