//! POST/GET /tickets/{id}/comments over HTTP through `crm serve` (SPEC §3 "Comments"): the
//! comment object, internal notes for staff only (403 for a customer's, never listed for a
//! customer), the reporter's reply that reopens a CLOSED ticket with the counts following,
//! pagination, and every bad input a clear 4xx that changes nothing.

use super::desk::{HttpDesk, assert_error, assert_invalid, enc, id_of, keys};
use serde_json::{Value, json};

fn path(id: &str) -> String {
    format!("/tickets/{id}/comments")
}

impl HttpDesk {
    async fn comment(&self, token: &str, id: &str, body: Value) -> crm_tests::Resp {
        self.c.post(&path(id), token, body).await
    }

    /// Every comment as `token` sees them (pages of `limit`): the bodies in order.
    async fn thread(&self, token: &str, id: &str, limit: usize) -> Vec<String> {
        let (_, items) = self.c.walk(token, &path(id), "", limit).await;
        items
            .iter()
            .map(|c| c["body"].as_str().expect("body").to_owned())
            .collect()
    }
}

#[tokio::test]
async fn comments_and_internal_notes_over_http() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let other = d.customer("other").await;
    let eng = d.engineer("eng1").await;
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);

    let r = d
        .comment(&cust, &id, json!({"body": "  It is on fire.\n\tReally.  "}))
        .await;
    r.expect(201);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Comment added.");
    let c = r.data();
    assert_eq!(
        keys(c),
        ["_id", "author", "body", "createdAt", "internal", "ticketId"]
    );
    assert_eq!(c["_id"].as_str().map(str::len), Some(26), "a ULID: {c}");
    assert_eq!(
        [&c["ticketId"], &c["author"], &c["body"], &c["internal"]],
        [
            &json!(id),
            &json!("cust"),
            &json!("It is on fire.\n\tReally."),
            &json!(false)
        ]
    );
    d.comment(
        &eng,
        &id,
        json!({"body": "Customer sounds upset.", "internal": true}),
    )
    .await
    .expect(201);
    d.comment(&eng, &id, json!({"body": "On my way.", "internal": false}))
        .await
        .expect(201);
    d.comment(
        &d.admin,
        &id,
        json!({"body": "Escalated.", "internal": true}),
    )
    .await
    .expect(201);
    let r = d
        .comment(&cust, &id, json!({"body": "Let me see.", "internal": true}))
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("internal note")
    );
    for token in [&other] {
        assert_error(
            &d.comment(token, &id, json!({"body": "Hi"})).await,
            403,
            "FORBIDDEN",
        );
        assert_error(&d.c.get(&path(&id), token).await, 403, "FORBIDDEN");
    }

    let all = [
        "It is on fire.\n\tReally.",
        "Customer sounds upset.",
        "On my way.",
        "Escalated.",
    ];
    for limit in [1, 3, 100] {
        assert_eq!(d.thread(&eng, &id, limit).await, all);
        assert_eq!(d.thread(&d.admin, &id, limit).await, all);
        assert_eq!(
            d.thread(&cust, &id, limit).await,
            [all[0], all[2]],
            "no internal note for the customer"
        );
    }
    let r = d.c.get(&path(&id), &cust).await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 2, "notes are not counted");
    let r = d.c.get(&format!("{}?limit=1", path(&id)), &eng).await;
    let token = r.body["nextToken"].as_str().expect("nextToken").to_owned();
    for bad in ["garbage".to_owned(), format!("{token}x")] {
        let r =
            d.c.get(&format!("{}?nextToken={}", path(&id), enc(&bad)), &eng)
                .await;
        assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    }
    let r = d
        .history(&eng, &id, &format!("nextToken={}", enc(&token)))
        .await;
    assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    for bad in ["0", "101", "x"] {
        d.c.get(&format!("{}?limit={bad}", path(&id)), &eng)
            .await
            .expect(400);
    }
    let r = d.c.get(&path("01ARZ3NDEKTSV4RRFFQ69G5FAV"), &d.admin).await;
    assert_error(&r, 404, "TICKET_NOT_FOUND");
}

#[tokio::test]
async fn a_reporters_reply_reopens_a_closed_ticket_over_http() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng1").await;
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);
    d.create(&cust, "Another").await;
    d.update(&eng, &id, json!({"status": "CLOSED"})).await;
    assert_eq!(d.count("eng1").await, 1);
    // Staff's comments and the reporter's note-less reply on another status change nothing.
    d.comment(&eng, &id, json!({"body": "Fixed."}))
        .await
        .expect(201);
    assert_eq!(d.get_ticket(&cust, &id).await.data()["status"], "CLOSED");

    let r = d.comment(&cust, &id, json!({"body": "Not fixed."})).await;
    r.expect(201);
    let ticket = d.get_ticket(&cust, &id).await.data().clone();
    assert_eq!(ticket["status"], "OPEN");
    assert_eq!(ticket["assignee"], "eng1");
    assert_eq!(ticket["updatedAt"], r.data()["createdAt"]);
    assert_eq!(d.count("eng1").await, 2);
    d.assert_invariant().await;
    let h = d.history(&cust, &id, "").await;
    let last = h
        .data()
        .as_array()
        .expect("entries")
        .last()
        .expect("entry")
        .clone();
    assert_eq!(last["actor"], "cust");
    assert_eq!(
        last["changes"],
        json!([{"field": "status", "from": "CLOSED", "to": "OPEN"}])
    );
}

#[tokio::test]
async fn bad_comment_input_is_a_clear_4xx_that_changes_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng1").await;
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);
    d.update(&eng, &id, json!({"status": "CLOSED"})).await;
    d.comment(&cust, &id, json!({"body": "first"}))
        .await
        .expect(201);
    d.update(&eng, &id, json!({"status": "CLOSED"})).await;
    let ticket = d.get_ticket(&cust, &id).await.data().clone();
    let history = d.history(&d.admin, &id, "").await.data().clone();
    let counts = d.assert_invariant().await;

    // Each would reopen the ticket if it were accepted (the reporter's public reply).
    for (body, field) in [
        (json!({}), "body"),
        (json!({"body": ""}), "body"),
        (json!({"body": "  \n\t "}), "body"),
        (json!({"body": "\u{200B}"}), "body"),
        (json!({"body": "x".repeat(10_001)}), "body"),
        (json!({"body": "bell \u{7}"}), "body"),
        (json!({"body": "escape \u{1b}[31m"}), "body"),
        (json!({"body": "nonchar \u{FFFF}"}), "body"),
        (json!({"body": "bidi \u{202E}"}), "body"),
        (json!({"body": 42}), "body"),
        (json!({"body": null}), "body"),
        (json!({"body": ["a"]}), "body"),
        (json!({"body": "ok", "internal": "true"}), "internal"),
        (json!({"body": "ok", "internal": 1}), "internal"),
        (json!({"body": "ok", "internal": null}), "internal"),
        (json!({"body": "ok", "internal": {}}), "internal"),
    ] {
        let r = d.comment(&cust, &id, body.clone()).await;
        assert_invalid(&r, field);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{body}: {}",
            r.text
        );
    }
    let ok = json!({"body": "fine"}).to_string().into_bytes();
    let auth = [("x-access-token", cust.as_str())];
    for (bad_id, want) in [("not-a-ulid", 400), ("01ARZ3NDEKTSV4RRFFQ69G5FA", 400)] {
        let r = d.comment(&cust, bad_id, json!({"body": "fine"})).await;
        assert_invalid(&r, "ticketId");
        assert_eq!(r.status, want);
        let r = d.c.get(&path(bad_id), &cust).await;
        assert_invalid(&r, "ticketId");
    }
    for (headers, body, status) in [
        (
            vec![("content-type", "application/json")],
            b"not json".to_vec(),
            400,
        ),
        (
            vec![("content-type", "application/json")],
            b"[1]".to_vec(),
            400,
        ),
        (vec![("content-type", "text/plain")], ok.clone(), 415),
        (
            vec![("content-type", "application/json")],
            vec![b' '; 100],
            400,
        ),
        (
            vec![("content-type", "application/json")],
            format!("{{\"body\": \"{}\"}}", "x".repeat(70_000)).into_bytes(),
            413,
        ),
    ] {
        let mut h = headers.clone();
        h.extend(auth);
        let r = d.c.raw("POST", &path(&id), &h, Some(body)).await;
        assert_eq!(r.status, status, "{}", r.text);
    }
    let r =
        d.c.raw(
            "POST",
            &path(&id),
            &[("content-type", "application/json")],
            Some(ok),
        )
        .await;
    assert_error(&r, 401, "NO_TOKEN");

    assert_eq!(
        d.get_ticket(&cust, &id).await.data(),
        &ticket,
        "the ticket is as it was"
    );
    assert_eq!(d.history(&d.admin, &id, "").await.data(), &history);
    assert_eq!(d.assert_invariant().await, counts);
    assert_eq!(
        d.thread(&d.admin, &id, 100).await,
        ["first"],
        "no comment was written"
    );
}
