//! Followers over HTTP (SPEC §11): POST /tickets/{id}/followers `{"userId"}` and DELETE
//! /tickets/{id}/followers/{userId}, their rights, every bad input a 4xx that changes
//! nothing, what a follower then reads, and `?following=true`.

use super::desk::{HttpDesk, assert_error, assert_invalid, assert_ticket_object, id_of, ids};
use serde_json::{Value, json};

async fn add(d: &HttpDesk, token: &str, ticket: &str, body: Value) -> crm_tests::Resp {
    d.c.post(&format!("/tickets/{ticket}/followers"), token, body)
        .await
}

async fn remove(d: &HttpDesk, token: &str, ticket: &str, user: &str) -> crm_tests::Resp {
    d.c.call(
        "DELETE",
        &format!("/tickets/{ticket}/followers/{user}"),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn a_follower_is_added_reads_comments_and_removes_themself() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng").await;
    let colleague = d.customer("colleague").await;
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);
    d.get_ticket(&colleague, &id).await.expect(403);

    let r = add(&d, &cust, &id, json!({"userId": "colleague"})).await;
    r.expect(200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Follower added.");
    assert_ticket_object(r.data());
    assert_eq!(r.data()["followers"], json!(["colleague"]));
    assert_eq!(r.data()["version"], 2);
    // The follower reads the ticket, its history and its public comments, and comments.
    let r = d.get_ticket(&colleague, &id).await;
    r.expect(200);
    assert_eq!(r.data()["followers"], json!(["colleague"]));
    let h = d.history(&colleague, &id, "").await;
    h.expect(200);
    assert_eq!(
        h.data()[1]["changes"],
        json!([{"field": "followers", "from": [], "to": ["colleague"]}])
    );
    d.c.post(
        &format!("/tickets/{id}/comments"),
        &eng,
        json!({"body": "Internal.", "internal": true}),
    )
    .await
    .expect(201);
    d.c.post(
        &format!("/tickets/{id}/comments"),
        &colleague,
        json!({"body": "Mine too."}),
    )
    .await
    .expect(201);
    let r =
        d.c.get(&format!("/tickets/{id}/comments"), &colleague)
            .await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 1, "{}", r.text);
    assert_eq!(r.data()[0]["body"], "Mine too.");
    // Their listing holds it; `following=true` too.
    assert_eq!(
        ids(&d.list(&colleague, "").await),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        ids(&d.list(&colleague, "following=true").await),
        std::slice::from_ref(&id)
    );
    assert!(ids(&d.list(&cust, "following=true").await).is_empty());

    // Removing themself: at once, the same token sees nothing more.
    let r = remove(&d, &colleague, &id, "colleague").await;
    r.expect(200);
    assert_eq!(r.body["message"], "Follower removed.");
    assert_eq!(r.data()["followers"], json!([]));
    assert_eq!(r.data()["version"], 3);
    assert_error(&d.get_ticket(&colleague, &id).await, 403, "FORBIDDEN");
    assert_error(&d.history(&colleague, &id, "").await, 403, "FORBIDDEN");
    assert!(ids(&d.list(&colleague, "").await).is_empty());
    assert_error(
        &remove(&d, &colleague, &id, "colleague").await,
        403,
        "FORBIDDEN",
    );
    d.assert_invariant().await;
}

#[tokio::test]
async fn rights_and_bad_input_are_4xx_and_change_nothing() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng").await;
    let fcust = d.customer("fcust").await;
    let stranger = d.customer("stranger").await;
    let eng2 = d.engineer("eng2").await;
    d.c.signup("pending-eng", Some("ENGINEER"))
        .await
        .expect(201);
    let t = d.create(&cust, "Printer").await;
    let id = id_of(&t);
    add(&d, &eng, &id, json!({"userId": "fcust"}))
        .await
        .expect(200);
    let before = d.get_ticket(&d.admin, &id).await.data().clone();

    // Rights: a follower customer and anyone unconcerned may not add or remove another.
    for token in [&fcust, &stranger, &eng2] {
        assert_error(
            &add(&d, token, &id, json!({"userId": "eng2"})).await,
            403,
            "FORBIDDEN",
        );
    }
    for token in [&stranger, &eng2] {
        assert_error(&remove(&d, token, &id, "fcust").await, 403, "FORBIDDEN");
    }
    assert_error(&remove(&d, &fcust, &id, "eng").await, 403, "FORBIDDEN");
    // And the follower customer may not change the ticket.
    assert_error(
        &d.put_ticket(&fcust, &id, json!({"status": "CLOSED"})).await,
        403,
        "FORBIDDEN",
    );

    // The user to add: unknown and not approved get the same answer, for anyone asking.
    let mut messages = Vec::new();
    for token in [&cust, &d.admin] {
        for user in ["nobody-here", "pending-eng"] {
            let r = add(&d, token, &id, json!({"userId": user})).await;
            assert_invalid(&r, "userId");
            messages.push(r.body["message"].clone());
        }
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
    for user in ["cust", "eng"] {
        assert_invalid(
            &add(&d, &d.admin, &id, json!({"userId": user})).await,
            "userId",
        );
    }
    for body in [
        json!({}),
        json!({"userId": 7}),
        json!({"userId": null}),
        json!({"userId": ""}),
        json!({"userId": "bad id!"}),
        json!({"userId": "x".repeat(65)}),
    ] {
        assert_invalid(&add(&d, &cust, &id, body).await, "userId");
    }
    let r =
        d.c.raw(
            "POST",
            &format!("/tickets/{id}/followers"),
            &[
                ("x-access-token", cust.as_str()),
                ("content-type", "text/plain"),
            ],
            Some(b"eng2".to_vec()),
        )
        .await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    let r =
        d.c.raw(
            "POST",
            &format!("/tickets/{id}/followers"),
            &[
                ("x-access-token", cust.as_str()),
                ("content-type", "application/json"),
            ],
            Some(b"{\"userId\": ".to_vec()),
        )
        .await;
    assert_error(&r, 400, "MALFORMED_JSON");
    // Ticket ids and the path's userId.
    assert_invalid(
        &add(&d, &cust, "not-a-ticket", json!({"userId": "eng2"})).await,
        "ticketId",
    );
    assert_error(
        &add(
            &d,
            &cust,
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            json!({"userId": "eng2"}),
        )
        .await,
        404,
        "TICKET_NOT_FOUND",
    );
    assert_invalid(
        &remove(&d, &cust, "not-a-ticket", "fcust").await,
        "ticketId",
    );
    assert_invalid(&remove(&d, &cust, &id, "bad%20id%21").await, "userId");
    assert_error(
        &remove(&d, &cust, &id, "nobody-here").await,
        404,
        "FOLLOWER_NOT_FOUND",
    );
    assert_error(
        &remove(&d, &cust, &id, "eng").await,
        404,
        "FOLLOWER_NOT_FOUND",
    );
    // No token.
    let r =
        d.c.call(
            "DELETE",
            &format!("/tickets/{id}/followers/fcust"),
            None,
            None,
        )
        .await;
    assert_error(&r, 401, "NO_TOKEN");
    // Other methods on the paths are the seed's 404.
    for (method, path) in [
        ("GET", format!("/tickets/{id}/followers")),
        ("PUT", format!("/tickets/{id}/followers")),
        ("DELETE", format!("/tickets/{id}/followers")),
        ("GET", format!("/tickets/{id}/followers/fcust")),
        ("POST", format!("/tickets/{id}/followers/fcust")),
    ] {
        let r = d.c.call(method, &path, Some(&cust), None).await;
        assert_error(&r, 404, "NOT_FOUND");
    }

    let r = d.get_ticket(&d.admin, &id).await;
    assert_eq!(r.data(), &before, "nothing changed");
    d.assert_invariant().await;
}

#[tokio::test]
async fn at_most_20_followers_409() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let id = id_of(&d.create(&cust, "Popular").await);
    for i in 0..21 {
        d.c.signup(&format!("f{i:02}"), None).await.expect(201);
    }
    for i in 0..20 {
        add(&d, &cust, &id, json!({"userId": format!("f{i:02}")}))
            .await
            .expect(200);
    }
    let before = d.get_ticket(&cust, &id).await.data().clone();
    assert_eq!(before["followers"].as_array().map(Vec::len), Some(20));
    let r = add(&d, &cust, &id, json!({"userId": "f20"})).await;
    assert_error(&r, 409, "FOLLOWER_LIMIT");
    assert_eq!(d.get_ticket(&cust, &id).await.data(), &before);
}

#[tokio::test]
async fn following_takes_true_only() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    for bad in ["false", "TRUE", "1", "", "yes"] {
        let r = d.list(&cust, &format!("following={bad}")).await;
        assert_error(&r, 400, "INVALID_QUERY");
        assert_eq!(r.body["field"], "following", "{}", r.text);
    }
    let r = d.list(&cust, "following=true&following=true").await;
    assert_error(&r, 400, "INVALID_QUERY");
    d.list(&cust, "following=true").await.expect(200);
}
