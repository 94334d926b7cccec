//! GET /users, GET /users/{userId}, PUT /users/{userId} (SPEC §2): who may do what, filters
//! and pages, the userType/userStatus rules, the last admin, and refused input changing
//! nothing.

use crate::support::*;
use crm_tests::client::PASSWORD;
use crm_tests::{Client, Server};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Users of every type and status, created in this order after the default admin.
async fn population(c: &Client, admin: &str) -> Vec<&'static str> {
    signup_as(c, "cust1", "CUSTOMER").await.expect(201);
    signup_as(c, "engP", "ENGINEER").await.expect(201);
    signup_as(c, "engA", "ENGINEER").await.expect(201);
    signup_as(c, "cust2", "CUSTOMER").await.expect(201);
    signup_as(c, "engR", "ENGINEER").await.expect(201);
    signup_as(c, "cust3", "CUSTOMER").await.expect(201);
    c.update_user(admin, "engA", json!({"userStatus": "APPROVED"}))
        .await
        .expect(200);
    c.update_user(admin, "engR", json!({"userStatus": "REJECTED"}))
        .await
        .expect(200);
    c.update_user(admin, "cust3", json!({"userStatus": "REJECTED"}))
        .await
        .expect(200);
    vec!["admin", "cust1", "engP", "engA", "cust2", "engR", "cust3"]
}

#[tokio::test]
async fn list_users_is_for_approved_admins_only() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let eng = c.engineer(&admin, "eng").await;
    for t in [&cust, &eng] {
        let r = c.list_users(t, "").await;
        assert_error(&r, 403, "FORBIDDEN");
        assert!(r.body.get("data").is_none());
    }
    let r = c.list_users(&admin, "").await;
    r.expect(200);
    assert_eq!(
        keys(&r.body),
        ["data", "documentResultsCount", "success"],
        "{}",
        r.text
    );
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["documentResultsCount"], 3);
    assert_eq!(ids(&r), ["admin", "cust", "eng"]);
    let list = r.data().as_array().expect("list");
    assert_user_object(&list[0], "admin", "ADMIN", "APPROVED");
    assert_user_object(&list[1], "cust", "CUSTOMER", "APPROVED");
    assert_user_object(&list[2], "eng", "ENGINEER", "APPROVED");
}

#[tokio::test]
async fn list_users_filters_by_user_type_and_user_status() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let all = population(&c, &admin).await;
    let cases: [(&str, &[&str]); 10] = [
        ("", &all),
        ("userType=CUSTOMER", &["cust1", "cust2", "cust3"]),
        ("userType=ENGINEER", &["engP", "engA", "engR"]),
        ("userType=ADMIN", &["admin"]),
        ("userStatus=APPROVED", &["admin", "cust1", "engA", "cust2"]),
        ("userStatus=PENDING", &["engP"]),
        ("userStatus=REJECTED", &["engR", "cust3"]),
        ("userType=ENGINEER&userStatus=APPROVED", &["engA"]),
        ("userType=CUSTOMER&userStatus=REJECTED", &["cust3"]),
        ("userType=ADMIN&userStatus=PENDING", &[]),
    ];
    for (q, want) in cases {
        let r = c.list_users(&admin, q).await;
        r.expect(200);
        assert_eq!(ids(&r), want, "?{q}");
        assert_eq!(r.body["documentResultsCount"], want.len(), "?{q}");
        assert!(r.body.get("nextToken").is_none(), "?{q}: {}", r.text);
        for u in r.data().as_array().expect("list") {
            let id = u["userId"].as_str().expect("userId");
            let user_type = u["userType"].as_str().expect("userType");
            let status = u["userStatus"].as_str().expect("userStatus");
            assert_user_object(u, id, user_type, status);
        }
    }
}

#[tokio::test]
async fn list_users_with_an_invalid_filter_is_400() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for (q, field) in [
        ("userType=ROOT", "userType"),
        ("userType=", "userType"),
        ("userType=engineer", "userType"),
        ("userStatus=DONE", "userStatus"),
        ("userStatus=", "userStatus"),
        ("userType=ENGINEER&userStatus=OPEN", "userStatus"),
    ] {
        let r = c.list_users(&admin, q).await;
        r.expect(400);
        assert_eq!(r.body["success"], false);
        assert_eq!(r.body["field"], field, "?{q}: {}", r.text);
    }
}

#[tokio::test]
async fn list_users_is_ordered_by_creation_time_oldest_first_not_by_update() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let order = ["zed", "amy", "Mike", "bob", "_x", "9lives"];
    for id in order {
        c.signup(id, None).await.expect(201);
    }
    // Changing an early user does not move it.
    c.update_user(&admin, "zed", json!({"name": "Zed Renamed"}))
        .await
        .expect(200);
    let r = c.list_users(&admin, "").await;
    r.expect(200);
    let mut want = vec!["admin"];
    want.extend(order);
    assert_eq!(ids(&r), want);
    let created: Vec<&str> = r
        .data()
        .as_array()
        .expect("list")
        .iter()
        .map(|u| u["createdAt"].as_str().expect("createdAt"))
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted, "createdAt ascending");
}

#[tokio::test]
async fn list_users_limit_must_be_1_to_100() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    c.signup("a1", None).await.expect(201);
    for bad in [
        "0",
        "101",
        "x",
        "-1",
        "1.5",
        "",
        "1e2",
        "99999999999999999999",
    ] {
        let r = c.list_users(&admin, &format!("limit={bad}")).await;
        r.expect(400);
        assert_eq!(r.body["field"], "limit", "limit={bad}: {}", r.text);
    }
    for good in ["1", "100"] {
        c.list_users(&admin, &format!("limit={good}"))
            .await
            .expect(200);
    }
    let one = c.list_users(&admin, "limit=1").await;
    assert_eq!(ids(&one), ["admin"]);
    assert_eq!(one.body["documentResultsCount"], 1);
    assert!(one.body["nextToken"].is_string(), "{}", one.text);
}

#[tokio::test]
async fn list_users_default_limit_is_100() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..100 {
        let c = c.clone();
        set.spawn(async move { c.signup(&format!("user{i:03}"), None).await.status });
    }
    assert!(set.join_all().await.iter().all(|s| *s == 201));
    let first = c.list_users(&admin, "").await;
    first.expect(200);
    assert_eq!(first.body["documentResultsCount"], 100);
    let next = first.body["nextToken"]
        .as_str()
        .expect("nextToken")
        .to_owned();
    let second = c
        .list_users(&admin, &format!("nextToken={}", enc(&next)))
        .await;
    second.expect(200);
    assert_eq!(second.body["documentResultsCount"], 1);
    assert!(second.body.get("nextToken").is_none(), "{}", second.text);
    let mut seen: HashSet<String> = ids(&first).into_iter().collect();
    seen.extend(ids(&second));
    assert_eq!(seen.len(), 101);
}

#[tokio::test]
async fn list_users_pages_through_everything_with_next_token_without_duplicates_or_gaps() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let mut everyone = vec!["admin".to_owned()];
    for i in 0..23 {
        let id = format!("u{i:02}");
        let t = if i % 3 == 0 { "ENGINEER" } else { "CUSTOMER" };
        signup_as(&c, &id, t).await.expect(201);
        everyone.push(id);
    }
    for limit in [1, 2, 5, 8, 12, 23, 24, 100] {
        let (sizes, got) = walk_users(&c, &admin, "", limit).await;
        assert_eq!(got, everyone, "limit {limit}");
        let full = sizes.len() - 1;
        assert!(sizes[..full].iter().all(|s| *s == limit), "{sizes:?}");
    }
    let customers: Vec<String> = everyone
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && (i - 1) % 3 != 0)
        .map(|(_, id)| id.clone())
        .collect();
    for limit in [1, 4, 15] {
        let (_, got) = walk_users(&c, &admin, "userType=CUSTOMER", limit).await;
        assert_eq!(got, customers, "customers, limit {limit}");
        let (_, got) = walk_users(&c, &admin, "userType=ENGINEER&userStatus=PENDING", limit).await;
        assert_eq!(got.len(), 8, "pending engineers, limit {limit}");
    }
}

#[tokio::test]
async fn list_users_gives_no_next_token_on_a_last_page_that_is_exactly_full() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for i in 0..3 {
        c.signup(&format!("u{i}"), None).await.expect(201);
    }
    // Four users, pages of two: the second page is the last one.
    let first = c.list_users(&admin, "limit=2").await;
    let next = first.body["nextToken"].as_str().expect("nextToken");
    let second = c
        .list_users(&admin, &format!("limit=2&nextToken={}", enc(next)))
        .await;
    assert_eq!(ids(&second), ["u1", "u2"]);
    assert!(
        second.body.get("nextToken").is_none(),
        "nextToken only when more pages exist: {}",
        second.text
    );
}

#[tokio::test]
async fn list_users_refuses_a_garbage_or_tampered_next_token() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for i in 0..4 {
        c.signup(&format!("u{i}"), None).await.expect(201);
    }
    let first = c.list_users(&admin, "limit=2").await;
    let token = first.body["nextToken"]
        .as_str()
        .expect("nextToken")
        .to_owned();
    c.list_users(&admin, &format!("limit=2&nextToken={}", enc(&token)))
        .await
        .expect(200);

    // The same cursor pointing somewhere else under the old signature (when a part of it
    // is readable JSON), then format-independent damage.
    let mut forged = rewritten_segments(&token);
    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 3;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    forged.push(String::from_utf8(flipped).expect("ascii"));
    forged.push(format!("{token}x"));
    forged.push(token[..token.len() - 4].to_owned());
    for g in ["garbage", "", "a.b", "a.b.c", "eyJhIjoiMSJ9", "%00"] {
        forged.push(g.to_owned());
    }
    // An access token is not a cursor.
    forged.push(admin.clone());
    for f in forged {
        let r = c
            .list_users(&admin, &format!("limit=2&nextToken={}", enc(&f)))
            .await;
        r.expect(400);
        assert_eq!(r.body["success"], false);
    }
}

/// `token` with one string field of each readable JSON segment changed, the rest kept.
fn rewritten_segments(token: &str) -> Vec<String> {
    let segs: Vec<&str> = token.split('.').collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let Some(bytes) = try_b64url_decode(seg) else {
            continue;
        };
        let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        for (k, v) in &m {
            let Some(s) = v.as_str() else { continue };
            let mut changed = m.clone();
            changed.insert(k.clone(), json!(format!("{s}0")));
            let mut parts: Vec<String> = segs.iter().map(|s| (*s).to_owned()).collect();
            parts[i] = b64url(Value::Object(changed).to_string().as_bytes());
            out.push(parts.join("."));
        }
    }
    out
}

#[tokio::test]
async fn list_users_refuses_a_next_token_from_another_filter() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for i in 0..4 {
        signup_as(&c, &format!("c{i}"), "CUSTOMER")
            .await
            .expect(201);
        signup_as(&c, &format!("e{i}"), "ENGINEER")
            .await
            .expect(201);
    }
    let from = |q: &'static str| {
        let c = c.clone();
        let admin = admin.clone();
        async move {
            let r = c.list_users(&admin, q).await;
            r.body["nextToken"].as_str().expect("nextToken").to_owned()
        }
    };
    let customers = from("userType=CUSTOMER&limit=1").await;
    let engineers = from("userType=ENGINEER&limit=1").await;
    let unfiltered = from("limit=1").await;
    let pending = from("userStatus=PENDING&limit=1").await;
    for (q, t) in [
        ("userType=ENGINEER", &customers),
        ("userType=CUSTOMER", &engineers),
        ("", &customers),
        ("userType=CUSTOMER", &unfiltered),
        ("userStatus=APPROVED", &pending),
        ("userType=ENGINEER", &pending),
    ] {
        let mut query = format!("limit=1&nextToken={}", enc(t));
        if !q.is_empty() {
            query = format!("{q}&{query}");
        }
        let r = c.list_users(&admin, &query).await;
        r.expect(400);
    }
    // Its own filter takes it.
    c.list_users(
        &admin,
        &format!("userType=CUSTOMER&limit=1&nextToken={}", enc(&customers)),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn get_user_is_allowed_to_the_user_themself_and_to_an_admin() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let eng = c.engineer(&admin, "eng").await;
    for (token, id, t) in [
        (&cust, "cust", "CUSTOMER"),
        (&eng, "eng", "ENGINEER"),
        (&admin, "admin", "ADMIN"),
        (&admin, "cust", "CUSTOMER"),
        (&admin, "eng", "ENGINEER"),
    ] {
        let r = c.get_user(token, id).await;
        r.expect(200);
        assert_eq!(keys(&r.body), ["data", "success"]);
        assert_user_object(r.data(), id, t, "APPROVED");
    }
    let me = c.get_user(&admin, "admin").await;
    assert_eq!(me.data()["name"], "John Doe");
    assert_eq!(me.data()["email"], "john@email.com");
}

#[tokio::test]
async fn get_user_by_another_non_admin_is_403_even_for_a_user_id_that_does_not_exist() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    c.signup("other", None).await.expect(201);
    let eng = c.engineer(&admin, "eng").await;
    for token in [&cust, &eng] {
        let existing = c.get_user(token, "other").await;
        let missing = c.get_user(token, "nobody").await;
        let admin_user = c.get_user(token, "admin").await;
        assert_error(&existing, 403, "FORBIDDEN");
        assert_eq!(existing.text, missing.text, "403 before existence");
        assert_eq!(existing.text, admin_user.text);
    }
}

#[tokio::test]
async fn a_user_id_that_cannot_exist_is_403_for_a_non_admin_and_404_for_an_admin() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let forbidden = c.get_user(&cust, "nobody").await;
    assert_error(&forbidden, 403, "FORBIDDEN");
    let long = "a".repeat(65);
    for id in ["a%20b", "%C3%BCser", long.as_str(), "a%2Fb", "%20cust"] {
        let r = c.get_user(&cust, id).await;
        assert_eq!(r.text, forbidden.text, "GET {id} as a customer");
        let r = c.update_user(&cust, id, json!({"name": "X"})).await;
        assert_eq!(r.text, forbidden.text, "PUT {id} as a customer");
        let r = c.get_user(&admin, id).await;
        r.expect(404);
        assert_ne!(r.code(), "NOT_FOUND", "GET {id}: {}", r.text);
        let r = c.update_user(&admin, id, json!({"name": "X"})).await;
        r.expect(404);
    }
    // Path parameters are taken exactly: a padded userId is not the user.
    assert_eq!(c.get_user(&cust, "cust").await.status, 200);
}

#[tokio::test]
async fn get_user_by_an_admin_for_an_unknown_user_id_is_404() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    c.signup("jane", None).await.expect(201);
    for id in ["nobody", "JANE", "Jane", "jane.", "ADMIN"] {
        let r = c.get_user(&admin, id).await;
        r.expect(404);
        assert_eq!(r.body["success"], false);
        assert_ne!(
            r.code(),
            "NOT_FOUND",
            "a missing user is not a missing route"
        );
    }
}

#[tokio::test]
async fn update_user_changes_the_name_for_the_user_themself_and_for_an_admin() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let before = c.get_user(&cust, "cust").await.data().clone();
    let r = c
        .update_user(&cust, "cust", json!({"name": "  New Name  "}))
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["data", "success"]);
    let after = r.data();
    assert_user_object(after, "cust", "CUSTOMER", "APPROVED");
    assert_eq!(after["name"], "New Name");
    assert_eq!(after["createdAt"], before["createdAt"]);
    assert_eq!(after["email"], before["email"]);
    assert!(
        after["updatedAt"].as_str() >= before["updatedAt"].as_str(),
        "{after}"
    );
    assert_eq!(c.get_user(&admin, "cust").await.data(), after);

    let r = c
        .update_user(&admin, "cust", json!({"name": "By Admin"}))
        .await;
    r.expect(200);
    assert_eq!(c.get_user(&cust, "cust").await.data()["name"], "By Admin");
    // Unknown fields are ignored.
    let r = c
        .update_user(
            &cust,
            "cust",
            json!({"name": "Third", "favouriteColour": "blue"}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["name"], "Third");
}

#[tokio::test]
async fn update_user_of_another_user_by_a_non_admin_is_403_even_if_it_does_not_exist() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let eng = c.engineer(&admin, "eng").await;
    c.signup("other", None).await.expect(201);
    let before = c.get_user(&admin, "other").await.data().clone();
    for token in [&cust, &eng] {
        for id in ["other", "nobody", "admin"] {
            let r = c.update_user(token, id, json!({"name": "Hacked"})).await;
            assert_error(&r, 403, "FORBIDDEN");
        }
    }
    assert_eq!(c.get_user(&admin, "other").await.data(), &before);
    let r = c
        .update_user(&admin, "nobody", json!({"name": "Ghost"}))
        .await;
    r.expect(404);
}

#[tokio::test]
async fn update_user_status_by_a_non_admin_is_403_even_on_themself_and_changes_nothing() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let eng = c.engineer(&admin, "eng").await;
    for (token, id) in [(&cust, "cust"), (&eng, "eng")] {
        let before = c.get_user(&admin, id).await.data().clone();
        for body in [
            json!({"userStatus": "APPROVED"}),
            json!({"userStatus": "REJECTED"}),
            json!({"userStatus": "PENDING"}),
            json!({"name": "With Status", "userStatus": "APPROVED"}),
            json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
        ] {
            let r = c.update_user(token, id, body.clone()).await;
            assert_error(&r, 403, "FORBIDDEN");
        }
        assert_eq!(c.get_user(&admin, id).await.data(), &before);
    }
}

#[tokio::test]
async fn update_user_type_to_engineer_sets_pending_and_the_user_cannot_act_until_approved() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let r = c
        .update_user(&cust, "cust", json!({"userType": "ENGINEER"}))
        .await;
    r.expect(200);
    assert_user_object(r.data(), "cust", "ENGINEER", "PENDING");
    assert_eq!(r.data()["ticketsWorkingOnCount"], 0);
    c.get_user(&cust, "cust").await.expect(403);
    assert_eq!(c.signin("cust", PASSWORD).await.status, 403);

    let r = c
        .update_user(&admin, "cust", json!({"userStatus": "APPROVED"}))
        .await;
    r.expect(200);
    assert_user_object(r.data(), "cust", "ENGINEER", "APPROVED");
    c.get_user(&cust, "cust").await.expect(200);

    // By an admin, the same rule.
    let other = c.customer("other").await;
    let r = c
        .update_user(&admin, "other", json!({"userType": "ENGINEER"}))
        .await;
    assert_user_object(r.data(), "other", "ENGINEER", "PENDING");
    c.get_user(&other, "other").await.expect(403);
}

#[tokio::test]
async fn update_user_type_to_admin_by_the_user_themself_only_makes_a_pending_admin() {
    let server = Server::start();
    let c = server.client();
    let cust = c.customer("cust").await;
    let r = c
        .update_user(&cust, "cust", json!({"userType": "ADMIN"}))
        .await;
    r.expect(200);
    assert_user_object(r.data(), "cust", "ADMIN", "PENDING");
    c.list_users(&cust, "").await.expect(403);
    assert_eq!(c.signin("cust", PASSWORD).await.status, 403);
}

#[tokio::test]
async fn update_user_type_to_customer_sets_approved() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    c.signup("pend", Some("ENGINEER")).await.expect(201);
    c.signup("rej", Some("ENGINEER")).await.expect(201);
    c.update_user(&admin, "rej", json!({"userStatus": "REJECTED"}))
        .await
        .expect(200);
    for id in ["pend", "rej"] {
        let r = c
            .update_user(&admin, id, json!({"userType": "CUSTOMER"}))
            .await;
        r.expect(200);
        assert_user_object(r.data(), id, "CUSTOMER", "APPROVED");
        c.token(id).await;
    }
    // An approved engineer may make themself a customer.
    let eng = c.engineer(&admin, "eng").await;
    let r = c
        .update_user(&eng, "eng", json!({"userType": "CUSTOMER"}))
        .await;
    r.expect(200);
    assert_user_object(r.data(), "eng", "CUSTOMER", "APPROVED");
    c.get_user(&eng, "eng").await.expect(200);
}

#[tokio::test]
async fn update_user_by_an_admin_may_set_user_type_and_user_status_together() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for id in ["a", "b", "c", "d"] {
        c.signup(id, None).await.expect(201);
    }
    for (id, t, s) in [
        ("a", "ENGINEER", "APPROVED"),
        ("b", "ADMIN", "APPROVED"),
        ("c", "CUSTOMER", "REJECTED"),
        ("d", "ENGINEER", "REJECTED"),
    ] {
        let r = c
            .update_user(&admin, id, json!({"userType": t, "userStatus": s}))
            .await;
        r.expect(200);
        assert_user_object(r.data(), id, t, s);
        assert_eq!(c.get_user(&admin, id).await.data(), r.data());
    }
    let b = c.token("b").await;
    c.list_users(&b, "").await.expect(200);
}

#[tokio::test]
async fn update_user_refuses_a_different_user_id_or_email_and_changes_nothing() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    c.signup("other", None).await.expect(201);
    let before = c.get_user(&admin, "cust").await.data().clone();
    for token in [&cust, &admin] {
        for (body, field) in [
            (json!({"userId": "renamed"}), "userId"),
            (json!({"userId": "other"}), "userId"),
            (json!({"userId": "CUST"}), "userId"),
            (json!({"userId": "bad id"}), "userId"),
            (json!({"userId": 5}), "userId"),
            (json!({"name": "X", "userId": "renamed"}), "userId"),
            (json!({"email": "new@email.com"}), "email"),
            (json!({"email": "other@email.com"}), "email"),
            (json!({"email": "not-an-email"}), "email"),
            (json!({"name": "X", "email": "new@email.com"}), "email"),
        ] {
            let r = c.update_user(token, "cust", body.clone()).await;
            r.expect(400);
            assert_eq!(r.body["field"], field, "{body}: {}", r.text);
        }
    }
    assert_eq!(c.get_user(&admin, "cust").await.data(), &before);
    c.signin("renamed", PASSWORD).await.expect(401);
}

#[tokio::test]
async fn update_user_refuses_a_password_and_changes_nothing() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let before = c.get_user(&admin, "cust").await.data().clone();
    for token in [&cust, &admin] {
        for body in [
            json!({"password": "newPassword@1"}),
            json!({"password": PASSWORD}),
            json!({"name": "X", "password": "newPassword@1"}),
            json!({"password": null}),
        ] {
            let r = c.update_user(token, "cust", body).await;
            r.expect(400);
            assert_eq!(r.body["field"], "password", "{}", r.text);
        }
    }
    assert_eq!(c.get_user(&admin, "cust").await.data(), &before);
    c.signin("cust", PASSWORD).await.expect(200);
    assert_eq!(c.signin("cust", "newPassword@1").await.status, 401);
}

#[tokio::test]
async fn update_user_accepts_the_same_user_id_and_email_sent_back() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let got = c.get_user(&cust, "cust").await.data().clone();
    let r = c
        .update_user(
            &cust,
            "cust",
            json!({"userId": got["userId"], "email": got["email"], "name": "Same Ids"}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["name"], "Same Ids");
    // The email in another case, or with spaces, is the same email.
    let r = c
        .update_user(
            &admin,
            "cust",
            json!({"userId": " cust ", "email": " CUST@Email.com ", "name": "Again"}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["email"], "cust@email.com");
    assert_eq!(r.data()["name"], "Again");
}

#[tokio::test]
async fn the_last_approved_admin_cannot_demote_pend_or_reject_themself() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let before = c.get_user(&admin, "admin").await.data().clone();
    for body in [
        json!({"userType": "CUSTOMER"}),
        json!({"userType": "ENGINEER"}),
        json!({"userType": "ENGINEER", "userStatus": "APPROVED"}),
        json!({"userStatus": "PENDING"}),
        json!({"userStatus": "REJECTED"}),
        json!({"userType": "ADMIN", "userStatus": "REJECTED"}),
        json!({"name": "Renamed", "userStatus": "PENDING"}),
    ] {
        let r = c.update_user(&admin, "admin", body.clone()).await;
        assert_error(&r, 409, "LAST_ADMIN");
        assert_eq!(
            c.get_user(&admin, "admin").await.data(),
            &before,
            "{body} changed something"
        );
    }
    c.list_users(&admin, "").await.expect(200);
    // Changes that keep it an approved admin are fine.
    let r = c
        .update_user(
            &admin,
            "admin",
            json!({"userType": "ADMIN", "userStatus": "APPROVED", "name": "Jane Admin"}),
        )
        .await;
    r.expect(200);
    assert_user_object(r.data(), "admin", "ADMIN", "APPROVED");
    assert_eq!(r.data()["name"], "Jane Admin");
}

#[tokio::test]
async fn with_two_approved_admins_one_may_demote_themself_and_the_other_becomes_the_last() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let boss = c.second_admin(&admin, "boss").await;
    let r = c
        .update_user(&admin, "admin", json!({"userType": "CUSTOMER"}))
        .await;
    r.expect(200);
    assert_user_object(r.data(), "admin", "CUSTOMER", "APPROVED");
    c.list_users(&admin, "").await.expect(403);

    let r = c
        .update_user(&boss, "boss", json!({"userStatus": "REJECTED"}))
        .await;
    assert_error(&r, 409, "LAST_ADMIN");
    let r = c
        .list_users(&boss, "userType=ADMIN&userStatus=APPROVED")
        .await;
    assert_eq!(ids(&r), ["boss"]);
}

#[tokio::test]
async fn two_admins_demoting_themselves_at_once_leave_one_approved_admin() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for round in 0..5 {
        let other = format!("boss{round}");
        let other_token = c.second_admin(&admin, &other).await;
        let (a, b) = tokio::join!(
            c.update_user(&admin, "admin", json!({"userType": "CUSTOMER"})),
            c.update_user(&other_token, &other, json!({"userStatus": "REJECTED"})),
        );
        let statuses = [a.status, b.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {} / {}",
            a.text,
            b.text
        );
        for r in [&a, &b].into_iter().filter(|r| r.status != 200) {
            assert_error(r, 409, "LAST_ADMIN");
        }
        // Exactly one approved admin is left; restore "admin" for the next round.
        let survivor = if a.status == 200 {
            &other_token
        } else {
            &admin
        };
        let r = c
            .list_users(survivor, "userType=ADMIN&userStatus=APPROVED")
            .await;
        assert_eq!(r.body["documentResultsCount"], 1, "{}", r.text);
        if a.status == 200 {
            c.update_user(
                &other_token,
                "admin",
                json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
            )
            .await
            .expect(200);
            c.update_user(&admin, &other, json!({"userType": "CUSTOMER"}))
                .await
                .expect(200);
        } else {
            c.update_user(&admin, &other, json!({"userType": "CUSTOMER"}))
                .await
                .expect(200);
        }
    }
}

#[tokio::test]
async fn two_admins_rejecting_each_other_at_once_leave_one_approved_admin() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let boss = c.second_admin(&admin, "boss").await;
    let (a, b) = tokio::join!(
        c.update_user(&admin, "boss", json!({"userStatus": "REJECTED"})),
        c.update_user(&boss, "admin", json!({"userStatus": "REJECTED"})),
    );
    let ok = [&a, &b].iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{} / {}", a.text, b.text);
    for r in [&a, &b].into_iter().filter(|r| r.status != 200) {
        assert!([403, 409].contains(&r.status), "{}", r.text);
    }
    let survivor = if a.status == 200 { &admin } else { &boss };
    let r = c
        .list_users(survivor, "userType=ADMIN&userStatus=APPROVED")
        .await;
    assert_eq!(r.body["documentResultsCount"], 1, "{}", r.text);
}

#[tokio::test]
async fn update_user_with_bad_input_changes_nothing() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    c.signup("cust", None).await.expect(201);
    let before = c.get_user(&admin, "cust").await.data().clone();
    let bodies: Vec<(Value, &str)> = vec![
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": null}), "name"),
        (json!({"userType": "ROOT"}), "userType"),
        (json!({"userType": null}), "userType"),
        (json!({"userStatus": "DONE"}), "userStatus"),
        (json!({"userStatus": true}), "userStatus"),
        (
            json!({"name": "Valid Name", "userType": "ROOT"}),
            "userType",
        ),
        (
            json!({"name": "Valid Name", "userStatus": "DONE"}),
            "userStatus",
        ),
        (json!({"userType": "ENGINEER", "name": ""}), "name"),
        (json!({"userType": "ENGINEER", "userId": "x"}), "userId"),
    ];
    for (body, field) in bodies {
        let r = c.update_user(&admin, "cust", body.clone()).await;
        r.expect(400);
        assert_eq!(r.body["field"], field, "{body}: {}", r.text);
        assert_eq!(
            c.get_user(&admin, "cust").await.data(),
            &before,
            "{body} changed the user"
        );
    }
    let token = c.token("cust").await;
    for raw in [&b"{"[..], b"[]", b"\"name\"", b"null", b"", b"{\"name\":}"] {
        let r = c
            .raw(
                "PUT",
                "/users/cust",
                &[
                    ("content-type", "application/json"),
                    ("x-access-token", &token),
                ],
                Some(raw.to_vec()),
            )
            .await;
        r.expect(400);
        assert_eq!(c.get_user(&admin, "cust").await.data(), &before);
    }
}
