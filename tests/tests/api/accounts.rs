//! Accounts over HTTP (SPEC §2, issue 14) against `crm serve`: change your password, an
//! admin's reset, sign-out everywhere, and what each does to the tokens already out there.

use crate::support::*;
use crm_tests::Server;
use crm_tests::client::PASSWORD;
use serde_json::json;

const NEW: &str = "n3w-Secret-pw";

fn password_path(user: &str) -> String {
    format!("/users/{user}/password")
}

#[tokio::test]
async fn changing_your_password_revokes_every_older_token_and_the_old_password() {
    let server = Server::start();
    let c = server.client();
    c.signup("ann", None).await.expect(201);
    let (phone, laptop) = (c.token("ann").await, c.token("ann").await);
    let r = c
        .put(
            &password_path("ann"),
            &phone,
            json!({"currentPassword": PASSWORD, "newPassword": NEW}),
        )
        .await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"success": true, "message": "Password changed."})
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    for t in [&phone, &laptop] {
        assert_error(&c.get_user(t, "ann").await, 401, "TOKEN_REVOKED");
    }
    assert_error(&c.signin("ann", PASSWORD).await, 401, "INVALID_CREDENTIALS");
    let fresh = c.signin("ann", NEW).await;
    fresh.expect(200);
    let t = fresh.data()["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    c.get_user(&t, "ann").await.expect(200);
}

#[tokio::test]
async fn an_admin_resets_a_password_and_others_may_not() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let ann = c.customer("ann").await;
    let bob = c.customer("bob").await;
    // Not self and not admin: 403 whether or not the user exists, nothing changes.
    for target in ["ann", "nobody"] {
        assert_error(
            &c.put(&password_path(target), &bob, json!({"newPassword": NEW}))
                .await,
            403,
            "FORBIDDEN",
        );
    }
    c.get_user(&ann, "ann").await.expect(200);
    // An admin: 404 for nobody, a reset for ann.
    assert_error(
        &c.put(
            &password_path("nobody"),
            &admin,
            json!({"newPassword": NEW}),
        )
        .await,
        404,
        "USER_NOT_FOUND",
    );
    c.put(&password_path("ann"), &admin, json!({"newPassword": NEW}))
        .await
        .expect(200);
    assert_error(&c.get_user(&ann, "ann").await, 401, "TOKEN_REVOKED");
    c.signin("ann", NEW).await.expect(200);
    c.get_user(&admin, "admin").await.expect(200);
}

#[tokio::test]
async fn the_default_admin_changes_its_own_password() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    // Without the current password, an admin's own change is a 400, like anyone's.
    let r = c
        .put(&password_path("admin"), &admin, json!({"newPassword": NEW}))
        .await;
    assert_invalid(&r, "currentPassword");
    c.put(
        &password_path("admin"),
        &admin,
        json!({"currentPassword": PASSWORD, "newPassword": NEW}),
    )
    .await
    .expect(200);
    assert_error(
        &c.signin("admin", PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    c.signin("admin", NEW).await.expect(200);
}

#[tokio::test]
async fn bad_password_bodies_are_400_naming_the_field_and_change_nothing() {
    let server = Server::start();
    let c = server.client();
    let ann = c.customer("ann").await;
    let cases = [
        (json!({"currentPassword": PASSWORD}), "newPassword"),
        (
            json!({"currentPassword": PASSWORD, "newPassword": "short"}),
            "newPassword",
        ),
        (
            json!({"currentPassword": PASSWORD, "newPassword": 12}),
            "newPassword",
        ),
        (
            json!({"currentPassword": 5, "newPassword": NEW}),
            "currentPassword",
        ),
        (json!({"newPassword": NEW}), "currentPassword"),
    ];
    for (body, field) in cases {
        assert_invalid(&c.put(&password_path("ann"), &ann, body).await, field);
    }
    c.get_user(&ann, "ann").await.expect(200);
    c.signin("ann", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn wrong_current_passwords_are_403_and_lock_the_user_id_after_five() {
    let server = Server::start();
    let c = server.client();
    let ann = c.customer("ann").await;
    for _ in 0..5 {
        let r = c
            .put(
                &password_path("ann"),
                &ann,
                json!({"currentPassword": "Wrong-Password-1", "newPassword": NEW}),
            )
            .await;
        assert_error(&r, 403, "WRONG_PASSWORD");
    }
    let r = c
        .put(
            &password_path("ann"),
            &ann,
            json!({"currentPassword": PASSWORD, "newPassword": NEW}),
        )
        .await;
    assert_error(&r, 429, "TOO_MANY_REQUESTS");
    assert!(r.header("retry-after").is_some());
    assert_error(&c.signin("ann", PASSWORD).await, 429, "TOO_MANY_REQUESTS");
}

#[tokio::test]
async fn signout_revokes_every_token_of_the_caller_only() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let (ann1, ann2) = (c.customer("ann").await, c.token("ann").await);
    let r = c.post("/auth/signout", &ann1, json!({})).await;
    r.expect(200);
    assert_eq!(r.body, json!({"success": true, "message": "Signed out."}));
    assert_error(&c.get_user(&ann1, "ann").await, 401, "TOKEN_REVOKED");
    assert_error(&c.get_user(&ann2, "ann").await, 401, "TOKEN_REVOKED");
    assert_error(
        &c.post("/auth/signout", &ann1, json!({})).await,
        401,
        "TOKEN_REVOKED",
    );
    assert_error(
        &c.post("/auth/signout", "", json!({})).await,
        401,
        "NO_TOKEN",
    );
    // Others keep theirs; signing in again works.
    c.get_user(&admin, "ann").await.expect(200);
    let again = c.token("ann").await;
    c.get_user(&again, "ann").await.expect(200);
}
