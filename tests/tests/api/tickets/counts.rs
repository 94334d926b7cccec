//! The counter invariant over HTTP (SPEC §3): ticketsWorkingOnCount (as GET /users/{id}
//! shows it) equals the OPEN tickets assigned, through close/block/reopen, reassignment of
//! OPEN vs BLOCKED/CLOSED tickets, assigning a previously unassigned ticket, and the same
//! assignee again.

use super::desk::HttpDesk;
use serde_json::json;

async fn counts(d: &HttpDesk) -> (i64, i64) {
    let c = d.assert_invariant().await;
    (c["eng1"], c["eng2"])
}

async fn status(d: &HttpDesk, token: &str, id: &str, s: &str) {
    let t = d.update(token, id, json!({"status": s})).await;
    assert_eq!(t["status"], s);
}

async fn assign(d: &HttpDesk, id: &str, to: &str) {
    let t = d.update(&d.admin, id, json!({"assignee": to})).await;
    assert_eq!(t["assignee"], to);
}

fn id(t: &serde_json::Value) -> String {
    t["_id"].as_str().expect("_id").to_owned()
}

#[tokio::test]
async fn counts_follow_close_block_and_reopen() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng1 = d.engineer("eng1").await;
    d.engineer("eng2").await;
    let t = id(&d.create(&cust, "t").await);
    assert_eq!(counts(&d).await, (1, 0));
    let steps = [
        ("BLOCKED", 0),
        ("CLOSED", 0),
        ("OPEN", 1),
        ("CLOSED", 0),
        ("BLOCKED", 0),
        ("OPEN", 1),
        ("BLOCKED", 0),
        ("OPEN", 1),
    ];
    for (i, (s, want)) in steps.into_iter().enumerate() {
        // The assignee, the reporter and the admin take turns.
        let token = [&eng1, &cust, &d.admin][i % 3];
        status(&d, token, &t, s).await;
        assert_eq!(counts(&d).await, (want, 0), "after {s}");
    }
}

#[tokio::test]
async fn counts_follow_reassignment_of_open_blocked_and_closed_tickets() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    d.engineer("eng2").await;
    let open = d.create(&cust, "open").await;
    let blocked = d.create(&cust, "blocked").await;
    let closed = d.create(&cust, "closed").await;
    assert_eq!(
        [&open, &blocked, &closed].map(|t| t["assignee"].clone()),
        [json!("eng1"), json!("eng2"), json!("eng1")]
    );
    let (open, blocked, closed) = (id(&open), id(&blocked), id(&closed));
    status(&d, &d.admin, &blocked, "BLOCKED").await;
    status(&d, &d.admin, &closed, "CLOSED").await;
    assert_eq!(counts(&d).await, (1, 0));
    assign(&d, &open, "eng2").await;
    assert_eq!(counts(&d).await, (0, 1), "OPEN: old -1, new +1");
    assign(&d, &blocked, "eng1").await;
    assert_eq!(counts(&d).await, (0, 1), "BLOCKED: no change");
    assign(&d, &closed, "eng2").await;
    assert_eq!(counts(&d).await, (0, 1), "CLOSED: no change");
    status(&d, &d.admin, &blocked, "OPEN").await;
    assert_eq!(counts(&d).await, (1, 1), "reopened for the new assignee");
    status(&d, &d.admin, &closed, "OPEN").await;
    assert_eq!(counts(&d).await, (1, 2));
    assign(&d, &open, "eng1").await;
    assert_eq!(counts(&d).await, (2, 1));
}

#[tokio::test]
async fn assigning_a_previously_unassigned_ticket_counts_for_the_assignee() {
    // With a capacity of 1 and both engineers full, new tickets wait unassigned (an
    // approval would otherwise hand them out from the backlog).
    let d = HttpDesk::with_env(&[("CRM_ENGINEER_CAPACITY", "1")]).await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    d.engineer("eng2").await;
    d.settle().await;
    d.create(&cust, "first").await;
    d.create(&cust, "second").await;
    assert_eq!(counts(&d).await, (1, 1));
    let open = d.create(&cust, "open").await;
    let closed = d.create(&cust, "closed").await;
    assert!(open["assignee"].is_null() && closed["assignee"].is_null());
    let (open, closed) = (id(&open), id(&closed));
    status(&d, &cust, &closed, "CLOSED").await;
    assert_eq!(counts(&d).await, (1, 1));
    // The seed skipped this +1 because the old assignee was null (an admin may go beyond
    // the capacity).
    assign(&d, &open, "eng2").await;
    assert_eq!(counts(&d).await, (1, 2));
    assign(&d, &closed, "eng1").await;
    assert_eq!(
        counts(&d).await,
        (1, 2),
        "a CLOSED ticket counts for nobody"
    );
    status(&d, &d.admin, &closed, "OPEN").await;
    assert_eq!(counts(&d).await, (2, 2));
    d.assert_invariant().await;
}

#[tokio::test]
async fn reassigning_to_the_same_assignee_changes_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    d.engineer("eng2").await;
    let t = d.create(&cust, "t").await;
    let r = d
        .put_ticket(&d.admin, &id(&t), json!({"assignee": "eng1"}))
        .await;
    r.expect(200);
    assert_eq!(r.body["message"], "Ticket successfully updated.");
    assert_eq!(r.data(), &t, "unchanged, updatedAt too");
    assert_eq!(counts(&d).await, (1, 0));
    let h = d.history(&d.admin, &id(&t), "").await;
    h.expect(200);
    assert_eq!(h.body["documentResultsCount"], 1, "no history entry");
}
