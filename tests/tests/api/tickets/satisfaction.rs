//! Satisfaction and merge over HTTP (SPEC §12): the routes, their answers, every bad input a
//! 400 naming the field that changes nothing, and a reply to a merged ticket landing on the
//! target (its `Location` says so). The rules in depth are tests/tests/service/tickets.

use super::desk::{BASE, HttpDesk, assert_error, assert_invalid, id_of};
use serde_json::json;

#[tokio::test]
async fn bad_ratings_merges_and_report_queries_are_a_clear_400_and_change_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng").await;
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);
    let other = id_of(&d.create(&cust, "Printer again").await);
    d.update(&d.admin, &id, json!({"status": "CLOSED"})).await;
    let before = d.get_ticket(&d.admin, &id).await.data().clone();
    let rate = |body| {
        let d = &d;
        let cust = cust.clone();
        let id = id.clone();
        async move {
            d.c.put(&format!("/tickets/{id}/satisfaction"), &cust, body)
                .await
        }
    };
    for (body, field) in [
        (json!({}), "rating"),
        (json!({"rating": "great"}), "rating"),
        (json!({"rating": "GOOD"}), "rating"),
        (json!({"rating": 5}), "rating"),
        (
            json!({"rating": "good", "comment": "x".repeat(1001)}),
            "comment",
        ),
        (json!({"rating": "good", "comment": 7}), "comment"),
    ] {
        assert_invalid(&rate(body.clone()).await, field);
    }
    for body in [json!({}), json!({"into": "x"}), json!({"into": 5})] {
        let r =
            d.c.post(&format!("/tickets/{other}/merge"), &d.admin, body)
                .await;
        assert_invalid(&r, "into");
    }
    for q in [
        "?from=yesterday",
        "?to=2026-13-01",
        "?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
    ] {
        let r =
            d.c.get(&format!("/reports/satisfaction{q}"), &d.admin)
                .await;
        assert_error(&r, 400, "INVALID_QUERY");
    }
    assert_eq!(d.get_ticket(&d.admin, &id).await.data(), &before);
    assert_eq!(
        d.get_ticket(&d.admin, &other).await.data()["mergedInto"],
        json!(null)
    );
}

#[tokio::test]
async fn rate_report_merge_and_reply_over_http() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let dup = d.customer("dup").await;
    d.engineer("eng").await;
    let id = id_of(&d.create(&cust, "Printer").await);
    d.update(&d.admin, &id, json!({"status": "CLOSED"})).await;
    let r =
        d.c.put(
            &format!("/tickets/{id}/satisfaction"),
            &cust,
            json!({"rating": "good", "comment": "Fast."}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["message"], "Satisfaction recorded.");
    assert_eq!(r.data()["satisfaction"]["rating"], "good");
    assert_eq!(r.data()["satisfaction"]["comment"], "Fast.");
    let r = d.c.get("/reports/satisfaction", &d.admin).await;
    r.expect(200);
    assert_eq!(
        (&r.data()["good"], &r.data()["bad"], &r.data()["score"]),
        (&json!(1), &json!(0), &json!(1.0))
    );
    assert_eq!(
        r.data()["assignees"],
        json!([{"assignee": "eng", "good": 1, "bad": 0, "score": 1.0}])
    );
    // A duplicate merged into the (reopened) original.
    d.update(&d.admin, &id, json!({"status": "OPEN"})).await;
    let source = id_of(&d.create(&dup, "Printer too").await);
    let r =
        d.c.post(
            &format!("/tickets/{source}/merge"),
            &d.admin,
            json!({"into": id}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["message"], "Tickets merged.");
    assert_eq!(r.data()["source"]["status"], "CLOSED");
    assert_eq!(r.data()["source"]["mergedInto"], json!(id));
    assert_eq!(r.data()["target"]["followers"], json!(["dup"]));
    // The duplicate's reporter replies to the duplicate: the reply is on the original.
    let r =
        d.c.post(
            &format!("/tickets/{source}/comments"),
            &dup,
            json!({"body": "Any news?"}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.data()["ticketId"], json!(id));
    assert_eq!(
        r.header("location"),
        Some(format!("{BASE}/tickets/{id}/comments").as_str())
    );
    assert_eq!(d.get_ticket(&dup, &source).await.data()["status"], "CLOSED");
    // The merged ticket is not changed again; merging it again is refused.
    let r = d
        .put_ticket(&d.admin, &source, json!({"status": "OPEN"}))
        .await;
    assert_error(&r, 409, "TICKET_MERGED");
    let r =
        d.c.post(
            &format!("/tickets/{source}/merge"),
            &d.admin,
            json!({"into": id}),
        )
        .await;
    assert_error(&r, 409, "TICKET_MERGED");
    d.assert_invariant().await;
}
