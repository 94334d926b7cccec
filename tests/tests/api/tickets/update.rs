//! PUT /tickets/{id} over HTTP (SPEC §3): only an approved ADMIN reassigns (403 with the
//! seed's message), the new assignee must be an approved ENGINEER (400), status and assignee
//! never together (400), field validation (400), the updated ticket in a 200 with the
//! seed's message, and an update that changes nothing is 200 with no history entry.

use super::desk::{HttpDesk, assert_error, assert_invalid, assert_ticket_object, keys};
use serde_json::{Value, json};

const REASSIGN_MESSAGE: &str = "Access Forbidden. Admin is only allowed to reassign a ticket.";

fn id(t: &Value) -> String {
    t["_id"].as_str().expect("_id").to_owned()
}

async fn history_len(d: &HttpDesk, id: &str) -> u64 {
    let r = d.history(&d.admin, id, "").await;
    r.expect(200);
    r.body["documentResultsCount"].as_u64().expect("count")
}

#[tokio::test]
async fn only_an_approved_admin_reassigns_403_with_the_seed_message() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng1 = d.engineer("eng1").await;
    d.engineer("eng2").await;
    let t = id(&d.create(&cust, "t").await);
    let own = id(&d.create(&eng1, "reported by eng1").await);
    for (token, ticket) in [(&eng1, &t), (&cust, &t), (&eng1, &own)] {
        let r = d
            .put_ticket(token, ticket, json!({"assignee": "eng2"}))
            .await;
        assert_error(&r, 403, "FORBIDDEN");
        assert_eq!(r.body["message"], REASSIGN_MESSAGE, "{}", r.text);
    }
    // Even with other (allowed) fields alongside, nothing is applied.
    let r = d
        .put_ticket(&eng1, &t, json!({"title": "new", "assignee": "eng2"}))
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    assert_eq!(d.get_ticket(&cust, &t).await.data()["title"], "t");
    assert_eq!(history_len(&d, &t).await, 1);
    let r = d
        .put_ticket(&d.admin, &t, json!({"assignee": "eng2"}))
        .await;
    r.expect(200);
    assert_eq!(r.data()["assignee"], "eng2");
    d.assert_invariant().await;
}

#[tokio::test]
async fn new_assignee_must_be_an_approved_engineer_400() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    d.c.signup("eng-pending", Some("ENGINEER"))
        .await
        .expect(201);
    d.engineer("eng-rejected").await;
    d.set_user("eng-rejected", json!({"userStatus": "REJECTED"}))
        .await;
    let t = d.create(&cust, "t").await;
    for to in [
        json!("cust"),
        json!("eng-pending"),
        json!("eng-rejected"),
        json!("admin"),
        json!("nobody"),
        json!("not a userId!"),
        json!(""),
        json!(null),
        json!(7),
    ] {
        let r = d
            .put_ticket(&d.admin, &id(&t), json!({"assignee": to}))
            .await;
        assert_invalid(&r, "assignee");
    }
    assert_eq!(d.get_ticket(&cust, &id(&t)).await.data(), &t, "unchanged");
    assert_eq!(history_len(&d, &id(&t)).await, 1);
    d.assert_invariant().await;
}

#[tokio::test]
async fn status_and_assignee_together_400() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    d.engineer("eng2").await;
    let t = d.create(&cust, "t").await;
    let r = d
        .put_ticket(
            &d.admin,
            &id(&t),
            json!({"status": "CLOSED", "assignee": "eng2"}),
        )
        .await;
    assert_error(&r, 400, "STATUS_AND_ASSIGNEE");
    assert_eq!(d.get_ticket(&cust, &id(&t)).await.data(), &t, "unchanged");
    let c = d.assert_invariant().await;
    assert_eq!((c["eng1"], c["eng2"]), (1, 0));
}

#[tokio::test]
async fn update_validates_its_fields_400() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let t = d.create(&cust, "t").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "t".repeat(201)}), "title"),
        (json!({"title": 1}), "title"),
        (json!({"description": ""}), "description"),
        (json!({"description": "\t"}), "description"),
        (json!({"description": "d".repeat(5001)}), "description"),
        (json!({"ticketPriority": 0}), "ticketPriority"),
        (json!({"ticketPriority": 5}), "ticketPriority"),
        (json!({"ticketPriority": "2"}), "ticketPriority"),
        (json!({"ticketPriority": 1.5}), "ticketPriority"),
        (json!({"status": "open"}), "status"),
        (json!({"status": "DONE"}), "status"),
        (json!({"status": ""}), "status"),
        (json!({"status": 1}), "status"),
        (json!({"title": "fine", "status": "DONE"}), "status"),
    ];
    for (body, field) in cases {
        let r = d.put_ticket(&cust, &id(&t), body.clone()).await;
        assert_invalid(&r, field);
    }
    assert_eq!(d.get_ticket(&cust, &id(&t)).await.data(), &t, "unchanged");
    assert_eq!(history_len(&d, &id(&t)).await, 1);
}

#[tokio::test]
async fn update_answers_200_with_the_message_and_the_updated_ticket() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng1 = d.engineer("eng1").await;
    let t = d.create(&cust, "Problem in printer").await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let r = d
        .put_ticket(
            &eng1,
            &id(&t),
            json!({
                "title": "  Printer on fire ",
                "description": "Smoke",
                "ticketPriority": 1,
                "status": "BLOCKED",
            }),
        )
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["data", "message", "success"], "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Ticket successfully updated.");
    let u = r.data().clone();
    assert_ticket_object(&u);
    assert_eq!(u["_id"], t["_id"]);
    assert_eq!(u["title"], "Printer on fire");
    assert_eq!(u["description"], "Smoke");
    assert_eq!(u["ticketPriority"], 1);
    assert_eq!(u["status"], "BLOCKED");
    assert_eq!(u["reporter"], "cust");
    assert_eq!(u["assignee"], "eng1");
    assert_eq!(u["createdAt"], t["createdAt"]);
    assert!(u["updatedAt"].as_str() > t["updatedAt"].as_str());
    assert_eq!(d.get_ticket(&cust, &id(&t)).await.data(), &u, "as stored");
    assert_eq!(history_len(&d, &id(&t)).await, 2);
    d.assert_invariant().await;
}

#[tokio::test]
async fn update_that_changes_nothing_is_200_without_history_entry() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    let t = d.create(&cust, "t").await;
    for body in [
        json!({}),
        json!({"title": "t", "description": "About t", "ticketPriority": 4, "status": "OPEN"}),
        json!({"title": "  t  "}),
        json!({"assignee": "eng1"}),
        json!({"unknown": "ignored"}),
    ] {
        let token = if body.get("assignee").is_some() {
            &d.admin
        } else {
            &cust
        };
        let r = d.put_ticket(token, &id(&t), body.clone()).await;
        r.expect(200);
        assert_eq!(r.body["message"], "Ticket successfully updated.");
        assert_eq!(r.data(), &t, "unchanged for {body}");
    }
    assert_eq!(history_len(&d, &id(&t)).await, 1, "no history entry");
    assert_eq!(d.get_ticket(&cust, &id(&t)).await.data(), &t);
}
