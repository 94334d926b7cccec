//! POST /tickets over HTTP (SPEC §3), starting with the seed README's ticket walk-through.

use super::desk::{BASE, HttpDesk, assert_error, assert_invalid, assert_ticket_object, keys};
use serde_json::{Value, json};

const PRINTER: &str = "Printer is not working, showing error 254 while printing and stopped.";

#[tokio::test]
async fn seed_readme_ticket_walkthrough() {
    let d = HttpDesk::new().await;
    let customer1 = d.customer("customer1").await;
    let engineer1 = d.engineer("engineer1").await;
    // customer1 creates "Problem in printer" (the seed's lower-case path).
    let r =
        d.c.post(
            &format!("{}/crmservice/api/v1/tickets", d.server.url),
            &customer1,
            json!({"title": "Problem in printer", "description": PRINTER}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Ticket successfully created.");
    let t = r.data().clone();
    assert_ticket_object(&t);
    assert_eq!(t["title"], "Problem in printer");
    assert_eq!(t["description"], PRINTER);
    assert_eq!(t["ticketPriority"], 4);
    assert_eq!(t["status"], "OPEN");
    assert_eq!(t["reporter"], "customer1");
    assert_eq!(t["assignee"], "engineer1");
    assert_eq!(t["createdAt"], t["updatedAt"]);
    let id = t["_id"].as_str().expect("_id").to_owned();
    assert_eq!(d.count("engineer1").await, 1);

    // The admin lists every ticket, and filters as the README does.
    let r =
        d.c.get(
            &format!("{}/crmservice/api/v1/tickets", d.server.url),
            &d.admin,
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["documentResultsCount"], 1);
    assert_eq!(r.data(), &json!([t.clone()]));
    let r = d.list(&d.admin, "status=OPEN&description=PRINTER").await;
    r.expect(200);
    assert_eq!(r.data(), &json!([t.clone()]));

    // engineer1 closes it.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r =
        d.c.put(
            &format!("{}/crmservice/api/v1/tickets/{id}", d.server.url),
            &engineer1,
            json!({"status": "CLOSED"}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Ticket successfully updated.");
    assert_eq!(r.data()["status"], "CLOSED");

    // GET shows it CLOSED, updated later than created; engineer1 works on nothing now.
    let r = d.get_ticket(&d.admin, &id).await;
    r.expect(200);
    let got = r.data();
    assert_ticket_object(got);
    assert_eq!(got["status"], "CLOSED");
    assert_eq!(got["assignee"], "engineer1");
    assert_eq!(got["createdAt"], t["createdAt"]);
    assert!(got["updatedAt"].as_str() > t["updatedAt"].as_str(), "{got}");
    assert_eq!(d.count("engineer1").await, 0);
    d.assert_invariant().await;
}

#[tokio::test]
async fn create_answers_201_with_message_data_and_location() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    let r = d
        .post_ticket(
            &cust,
            json!({
                "title": "  Printer  ",
                "description": " jammed ",
                // Not fields of a creation: ignored.
                "status": "CLOSED",
                "reporter": "someone-else",
                "assignee": "nobody",
                "_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            }),
        )
        .await;
    r.expect(201);
    assert_eq!(keys(&r.body), ["data", "message", "success"], "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Ticket successfully created.");
    let t = r.data().clone();
    assert_ticket_object(&t);
    let id = t["_id"].as_str().expect("_id");
    assert_ne!(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(t["title"], "Printer", "trimmed");
    assert_eq!(t["description"], "jammed", "trimmed");
    assert_eq!(t["status"], "OPEN");
    assert_eq!(t["reporter"], "cust");
    assert_eq!(t["assignee"], "eng1");
    let location = r.header("location").expect("a Location header").to_owned();
    let path = format!("{BASE}/tickets/{id}");
    assert!(
        location == path || location == format!("{}{path}", d.server.url),
        "Location {location:?}"
    );
    let r = d.c.get(&format!("{}{path}", d.server.url), &cust).await;
    r.expect(200);
    assert_eq!(r.data(), &t, "Location names the ticket");
}

#[tokio::test]
async fn ticket_priority_defaults_to_4_and_takes_only_json_integers_1_to_4() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let body = |p: Option<Value>| {
        let mut b = json!({"title": "t", "description": "d"});
        if let Some(p) = p {
            b["ticketPriority"] = p;
        }
        b
    };
    let r = d.post_ticket(&cust, body(None)).await;
    r.expect(201);
    assert_eq!(r.data()["ticketPriority"], 4);
    for p in 1..=4 {
        let r = d.post_ticket(&cust, body(Some(json!(p)))).await;
        r.expect(201);
        assert_eq!(r.data()["ticketPriority"], p);
    }
    for bad in [
        json!("2"),
        json!("high"),
        json!(0),
        json!(5),
        json!(-1),
        json!(2.5),
        json!(null),
        json!(true),
        json!([2]),
        json!({"p": 2}),
    ] {
        let r = d.post_ticket(&cust, body(Some(bad.clone()))).await;
        assert_invalid(&r, "ticketPriority");
    }
    let (_, all) = d.walk(&cust, "", 100).await;
    assert_eq!(all.len(), 5, "only the valid ones were created");
}

#[tokio::test]
async fn create_validates_title_and_description() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let cases: [(Value, &str); 10] = [
        (json!({"description": "d"}), "title"),
        (json!({"title": "", "description": "d"}), "title"),
        (json!({"title": "   ", "description": "d"}), "title"),
        (
            json!({"title": "t".repeat(201), "description": "d"}),
            "title",
        ),
        (json!({"title": 5, "description": "d"}), "title"),
        (json!({"title": null, "description": "d"}), "title"),
        (json!({"title": "t"}), "description"),
        (json!({"title": "t", "description": ""}), "description"),
        (
            json!({"title": "t", "description": " \n\t "}),
            "description",
        ),
        (
            json!({"title": "t", "description": "d".repeat(5001)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let r = d.post_ticket(&cust, body).await;
        assert_invalid(&r, field);
    }
    let r = d
        .post_ticket(
            &cust,
            json!({"title": "t".repeat(200), "description": "d".repeat(5000)}),
        )
        .await;
    r.expect(201);
    assert_eq!(d.all_tickets().await.len(), 1);
}

#[tokio::test]
async fn creating_needs_an_approved_user() {
    let d = HttpDesk::new().await;
    let eng = d.engineer("eng1").await;
    let body = json!({"title": "t", "description": "d"});
    let r = d.c.call("POST", "/tickets", None, Some(body.clone())).await;
    assert_error(&r, 401, "NO_TOKEN");
    d.set_user("eng1", json!({"userStatus": "REJECTED"})).await;
    let r = d.post_ticket(&eng, body).await;
    r.expect(403);
    assert!(d.all_tickets().await.is_empty());
}
