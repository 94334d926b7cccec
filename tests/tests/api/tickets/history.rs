//! GET /tickets/{id}/history over HTTP (SPEC §3): oldest first, creation first, each entry
//! exactly {version, actor, at, changes:[{field, from, to}]}, paginated like listings.

use super::desk::{HttpDesk, assert_error, enc, keys};
use serde_json::{Value, json};

#[tokio::test]
async fn history_oldest_first_creation_first_paginated() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let other = d.customer("other").await;
    let eng1 = d.engineer("eng1").await;
    let eng2 = d.engineer("eng2").await;
    let t = d.create(&cust, "Problem in printer").await;
    let id = t["_id"].as_str().expect("_id").to_owned();
    d.update(
        &eng1,
        &id,
        json!({"ticketPriority": 2, "description": "Smoke"}),
    )
    .await;
    d.update(&d.admin, &id, json!({"assignee": "eng2"})).await;
    let last = d.update(&eng2, &id, json!({"status": "CLOSED"})).await;
    d.update(&eng2, &id, json!({"status": "CLOSED"})).await; // no change, no entry

    let r = d.history(&cust, &id, "").await;
    r.expect(200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["documentResultsCount"], 4);
    assert!(r.body["nextToken"].is_null());
    let h = r.data().as_array().expect("a list").clone();
    for e in &h {
        assert_eq!(keys(e), ["actor", "at", "changes", "version"], "{e}");
        for c in e["changes"].as_array().expect("changes") {
            assert_eq!(keys(c), ["field", "from", "to"], "{c}");
        }
    }
    let strip = |e: &Value| json!([e["version"], e["actor"], e["changes"]]);
    assert_eq!(
        h.iter().map(strip).collect::<Vec<_>>(),
        vec![
            json!([1, "cust", [
                {"field": "title", "from": null, "to": "Problem in printer"},
                {"field": "description", "from": null, "to": "About Problem in printer"},
                {"field": "ticketPriority", "from": null, "to": 4},
                {"field": "status", "from": null, "to": "OPEN"},
                {"field": "reporter", "from": null, "to": "cust"},
                {"field": "assignee", "from": null, "to": "eng1"},
            ]]),
            json!([2, "eng1", [
                {"field": "description", "from": "About Problem in printer", "to": "Smoke"},
                {"field": "ticketPriority", "from": 4, "to": 2},
            ]]),
            json!([3, "admin", [{"field": "assignee", "from": "eng1", "to": "eng2"}]]),
            json!([4, "eng2", [{"field": "status", "from": "OPEN", "to": "CLOSED"}]]),
        ]
    );
    assert_eq!(h[0]["at"], t["createdAt"]);
    assert_eq!(h[3]["at"], last["updatedAt"]);

    // Paginated like listings.
    let (sizes, walked) =
        d.c.walk(&cust, &format!("/tickets/{id}/history"), "", 3)
            .await;
    assert_eq!(sizes, [3, 1]);
    assert_eq!(walked, h);
    let (_, walked) =
        d.c.walk(&d.admin, &format!("/tickets/{id}/history"), "", 1)
            .await;
    assert_eq!(walked, h);
    let r = d.history(&cust, &id, "limit=2").await;
    let token = r.body["nextToken"].as_str().expect("nextToken").to_owned();
    for bad in ["garbage".to_owned(), format!("{token}x")] {
        let r = d
            .history(&cust, &id, &format!("nextToken={}", enc(&bad)))
            .await;
        assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    }
    for bad in ["0", "101", "x"] {
        d.history(&cust, &id, &format!("limit={bad}"))
            .await
            .expect(400);
    }
    // Concerned users only: eng1 lost the ticket when it was reassigned.
    for token in [&other, &eng1] {
        assert_error(&d.history(token, &id, "").await, 403, "FORBIDDEN");
    }
}
