//! The same core story against `crm serve --store dynamodb` on the emulator that
//! `scripts/test` starts (a missing emulator fails these tests; they never skip).

use crate::support::*;
use crm_tests::client::PASSWORD;
use crm_tests::{Server, ServerOptions};
use serde_json::json;
use std::path::PathBuf;

fn dynamo_server(table: &str, data_dir: Option<PathBuf>) -> Server {
    dynamo_server_on(crm_tests::emulator::env(), table, data_dir)
}

fn dynamo_server_on(
    mut env: Vec<(String, String)>,
    table: &str,
    data_dir: Option<PathBuf>,
) -> Server {
    env.push(("CRM_TABLE_NAME".into(), table.into()));
    Server::start_with(ServerOptions {
        dynamodb: true,
        env,
        data_dir,
    })
}

#[tokio::test]
async fn dynamodb_store_serves_signup_signin_approval_and_listing() {
    let table = crm_tests::unique("tbl");
    let mut server = dynamo_server(&table, None);
    let c = server.client();

    // The default admin exists on first start.
    let admin = c.admin().await;
    let me = c.get_user(&admin, "admin").await;
    assert_user_object(me.data(), "admin", "ADMIN", "APPROVED");
    assert_eq!(me.data()["name"], "John Doe");

    // Sign-up: a customer is approved, an engineer waits for an admin.
    let r = c.signup("cust", None).await;
    r.expect(201);
    assert_user_object(r.data(), "cust", "CUSTOMER", "APPROVED");
    let r = c.signup("eng", Some("ENGINEER")).await;
    r.expect(201);
    assert_user_object(r.data(), "eng", "ENGINEER", "PENDING");
    let r = c.signin("eng", PASSWORD).await;
    r.expect(403);
    assert_eq!(
        r.body["message"],
        "UserStatus is not approved yet. Current userStatus is - PENDING"
    );
    assert_eq!(
        c.signin("cust", "wrongPassword@1").await.text,
        c.signin("nobody", "wrongPassword@1").await.text
    );
    c.update_user(&admin, "eng", json!({"userStatus": "APPROVED"}))
        .await
        .expect(200);
    let eng = c.token("eng").await;
    let cust = c.token("cust").await;
    c.get_user(&eng, "eng").await.expect(200);
    c.list_users(&cust, "").await.expect(403);
    c.get_user(&cust, "nobody").await.expect(403);
    c.get_user(&admin, "nobody").await.expect(404);

    // Uniqueness, one request at a time (the concurrent cases are below).
    c.signup("racer", None).await.expect(201);
    let r = c
        .signup_with(
            json!({"name": "R", "userId": "racer", "email": "r2@email.com", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "USER_ID_TAKEN");
    let r = c
        .signup_with(json!({"name": "E", "userId": "other", "email": "CUST@email.com", "password": PASSWORD}))
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");

    // Listing: filters, order, pages.
    let r = c.list_users(&admin, "").await;
    r.expect(200);
    assert_eq!(ids(&r), ["admin", "cust", "eng", "racer"]);
    let r = c
        .list_users(&admin, "userType=ENGINEER&userStatus=APPROVED")
        .await;
    assert_eq!(ids(&r), ["eng"]);
    let (sizes, all) = walk_users(&c, &admin, "", 1).await;
    assert_eq!(all, ["admin", "cust", "eng", "racer"]);
    assert!(sizes.iter().take(4).all(|s| *s == 1), "{sizes:?}");
    c.list_users(&admin, "nextToken=garbage").await.expect(400);

    // Rules on changes.
    let r = c
        .update_user(&admin, "admin", json!({"userType": "CUSTOMER"}))
        .await;
    assert_error(&r, 409, "LAST_ADMIN");
    c.update_user(&admin, "eng", json!({"userStatus": "REJECTED"}))
        .await
        .expect(200);
    c.get_user(&eng, "eng").await.expect(403);

    // A restart on the same table (and data dir, for the secret) keeps everything.
    let dir = server.keep_data().to_path_buf();
    assert!(server.signal_and_wait("TERM").success());
    drop(server);
    let server = dynamo_server(&table, Some(dir.clone()));
    let c = server.client();
    c.get_user(&cust, "cust").await.expect(200);
    let r = c.list_users(&admin, "userType=ADMIN").await;
    assert_eq!(ids(&r), ["admin"], "the default admin is not duplicated");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn dynamodb_store_keeps_the_signin_lock_and_live_token_checks() {
    let table = crm_tests::unique("tbl");
    let server = dynamo_server(&table, None);
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    for _ in 0..5 {
        c.signin("ghost", "wrongPassword@1").await.expect(401);
    }
    let r = c.signin("ghost", PASSWORD).await;
    assert_error(&r, 429, "TOO_MANY_REQUESTS");
    assert!(r.header("retry-after").is_some());
    c.signin("cust", PASSWORD).await.expect(200);

    c.update_user(&admin, "cust", json!({"userType": "ENGINEER"}))
        .await
        .expect(200);
    c.get_user(&cust, "cust").await.expect(403);
}

#[tokio::test]
async fn dynamodb_store_keeps_user_id_and_email_unique_under_concurrent_signups() {
    let server = dynamo_server_on(crm_tests::emulator::env(), &crm_tests::unique("tbl"), None);
    let c = server.client();
    let race = |bodies: Vec<serde_json::Value>| {
        let c = c.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for b in bodies {
                let c = c.clone();
                set.spawn(async move { c.signup_with(b).await });
            }
            set.join_all().await
        }
    };
    let same_id = race(
        (0..10)
            .map(|i| json!({"name": "R", "userId": "racer", "email": format!("r{i}@email.com"), "password": PASSWORD}))
            .collect(),
    )
    .await;
    assert_eq!(same_id.iter().filter(|r| r.status == 201).count(), 1);
    for r in same_id.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "USER_ID_TAKEN");
    }
    let same_email = race(
        (0..10)
            .map(|i| json!({"name": "E", "userId": format!("e{i}"), "email": if i % 2 == 0 { "Same@email.com" } else { "same@EMAIL.com" }, "password": PASSWORD}))
            .collect(),
    )
    .await;
    assert_eq!(same_email.iter().filter(|r| r.status == 201).count(), 1);
    for r in same_email.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "EMAIL_TAKEN");
    }
    let admin = c.admin().await;
    let r = c.list_users(&admin, "").await;
    assert_eq!(r.body["documentResultsCount"], 3, "{}", r.text);
    // Nothing of the refused sign-ups was kept: their emails and userIds are free.
    let winner_email = same_id
        .iter()
        .find(|r| r.status == 201)
        .map(|r| r.data()["email"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let free_email = (0..10)
        .map(|i| format!("r{i}@email.com"))
        .find(|e| *e != winner_email)
        .unwrap_or_default();
    c.signup_with(
        json!({"name": "L", "userId": "late", "email": free_email, "password": PASSWORD}),
    )
    .await
    .expect(201);
    let winner_id = same_email
        .iter()
        .find(|r| r.status == 201)
        .map(|r| r.data()["userId"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let free_id = (0..10)
        .map(|i| format!("e{i}"))
        .find(|id| *id != winner_id)
        .unwrap_or_default();
    c.signup(&free_id, None).await.expect(201);
}

/// Issue 11 item 6 (SPEC §5): pointed at a table that already exists and has no ADMIN,
/// `crm serve --store dynamodb` writes no known password: the default admin cannot sign in
/// and the table holds no user at all.
#[tokio::test]
async fn an_existing_table_never_gets_the_default_admin() {
    let table = crm_tests::unique("tbl-existing");
    let sdk = crm_tests::emulator::sdk_config().await;
    let backend =
        crm_shared::store::DynamoBackend::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    assert!(backend.ensure_table().await.expect("create the table"));
    let store = crm_shared::store::Store::dynamo(backend);

    let server = dynamo_server(&table, None);
    let c = server.client();
    c.signin("admin", PASSWORD).await.expect(401);
    let admin = crm_shared::model::UserId::parse("admin").expect("id");
    assert_eq!(store.get_user(&admin).await.expect("read"), None);
    assert_eq!(store.approved_admin_count().await.expect("count"), 0);
    // The API itself works: sign-up goes through.
    c.signup("cust", None).await.expect(201);
}

/// Issue 26 item 2 on DynamoDB, where the review saw 19–22 of 30 right passwords locked out.
#[tokio::test]
async fn dynamodb_concurrent_right_passwords_are_never_locked_out() {
    let mut env = crm_tests::emulator::env();
    env.push(("CRM_BCRYPT_COST".into(), "10".into()));
    let server = dynamo_server_on(env, &crm_tests::unique("tbl"), None);
    crate::signin::thirty_right_passwords_at_once(&server).await;
}
