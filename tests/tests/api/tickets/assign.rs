//! Auto-assignment over HTTP (SPEC §3): the approved ENGINEER with the fewest OPEN tickets,
//! ties to the earliest approved; assignee null (still 201) without an approved engineer;
//! and the choice follows approvals, rejections, pending and type changes at once.

use super::desk::HttpDesk;
use serde_json::json;

async fn assignee(d: &HttpDesk, token: &str, title: &str) -> Option<String> {
    d.create(token, title).await["assignee"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn auto_assignment_picks_fewest_open_ties_to_earliest_approved() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng-z").await; // approved first, sorts last by userId
    d.engineer("eng-a").await;
    let mut got = Vec::new();
    for i in 0..3 {
        got.push(assignee(&d, &cust, &format!("t{i}")).await);
    }
    assert_eq!(
        got,
        [
            Some("eng-z".into()),
            Some("eng-a".into()),
            Some("eng-z".into())
        ]
    );
    // eng-z 2, eng-a 1: the next goes to eng-a, then a tie (2-2) to eng-z.
    assert_eq!(assignee(&d, &cust, "t3").await.as_deref(), Some("eng-a"));
    assert_eq!(assignee(&d, &cust, "t4").await.as_deref(), Some("eng-z"));
    let counts = d.assert_invariant().await;
    assert_eq!((counts["eng-z"], counts["eng-a"]), (3, 2));
}

#[tokio::test]
async fn no_approved_engineer_means_assignee_null_still_201() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.c.signup("eng-pending", Some("ENGINEER"))
        .await
        .expect(201);
    let r = d
        .post_ticket(&cust, json!({"title": "t", "description": "d"}))
        .await;
    r.expect(201);
    assert_eq!(r.body["message"], "Ticket successfully created.");
    assert!(r.data()["assignee"].is_null(), "{}", r.text);
    assert!(
        r.data()
            .as_object()
            .expect("object")
            .contains_key("assignee"),
        "assignee is present as null"
    );
    let id = r.data()["_id"].as_str().expect("_id").to_owned();
    let r = d.get_ticket(&cust, &id).await;
    r.expect(200);
    assert!(r.data()["assignee"].is_null());
    let (_, unassigned) = d.walk(&d.admin, "assignee=null", 100).await;
    assert_eq!(unassigned, [id]);
    d.assert_invariant().await;
}

#[tokio::test]
async fn assignment_follows_approval_rejection_pending_and_type_changes() {
    // SPEC §3 "Workload": an engineer who leaves (rejected, pending, another type) hands
    // their OPEN tickets on; the job runs after the request, so each step waits for it.
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.customer("cust2").await;
    d.engineer("eng1").await;
    d.engineer("eng2").await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t1").await.as_deref(), Some("eng1"));
    d.set_user("eng2", json!({"userStatus": "REJECTED"})).await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t2").await.as_deref(), Some("eng1"));
    d.set_user("eng2", json!({"userStatus": "PENDING"})).await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t3").await.as_deref(), Some("eng1"));
    d.set_user("eng2", json!({"userStatus": "APPROVED"})).await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t4").await.as_deref(), Some("eng2"));
    // eng1 (3 open) becomes a customer: its open tickets go to eng2, the only engineer.
    let u = d.set_user("eng1", json!({"userType": "CUSTOMER"})).await;
    assert_eq!(u["userStatus"], "APPROVED");
    d.settle().await;
    let counts = d.assert_invariant().await;
    let count = |u: &str| counts.get(u).copied().unwrap_or(0);
    assert_eq!((count("eng1"), count("eng2")), (0, 4), "handed on");
    assert_eq!(assignee(&d, &cust, "t5").await.as_deref(), Some("eng2"));
    // cust2 made an approved engineer in one request: least loaded (0).
    d.set_user(
        "cust2",
        json!({"userType": "ENGINEER", "userStatus": "APPROVED"}),
    )
    .await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t6").await.as_deref(), Some("cust2"));
    // eng2 made an admin: out, and its 5 open tickets go to cust2.
    d.set_user(
        "eng2",
        json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
    )
    .await;
    d.settle().await;
    assert_eq!(assignee(&d, &cust, "t7").await.as_deref(), Some("cust2"));
    // eng1 back as an approved engineer with no open ticket: the least loaded.
    d.set_user(
        "eng1",
        json!({"userType": "ENGINEER", "userStatus": "APPROVED"}),
    )
    .await;
    d.settle().await;
    for t in ["t8", "t9", "t10"] {
        assert_eq!(assignee(&d, &cust, t).await.as_deref(), Some("eng1"), "{t}");
    }
    let counts = d.assert_invariant().await;
    let count = |u: &str| counts.get(u).copied().unwrap_or(0);
    assert_eq!((count("eng1"), count("cust2"), count("eng2")), (3, 7, 0));
}
