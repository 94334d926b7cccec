//! Authentication on every other endpoint (SPEC §2): where the token goes, which tokens are
//! refused (401), and that the token's user must exist and be APPROVED at request time (403).

use crate::support::*;
use crm_tests::client::PASSWORD;
use jsonwebtoken::Algorithm;
use serde_json::json;

#[tokio::test]
async fn a_request_without_a_token_is_401_no_token() {
    let server = server_with_secret();
    let c = server.client();
    for (method, path) in [
        ("GET", "/users"),
        ("GET", "/users/admin"),
        ("PUT", "/users/admin"),
    ] {
        let r = c.call(method, path, None, Some(json!({"name": "x"}))).await;
        assert_error(&r, 401, "NO_TOKEN");
    }
}

#[tokio::test]
async fn a_token_minted_with_the_configured_secret_is_accepted() {
    // Proves the server uses CRM_JWT_SECRET, and that the refusals below are about the
    // token's defect, not the way the tests build tokens.
    let server = server_with_secret();
    let c = server.client();
    let t = mint(SECRET, Algorithm::HS256, &claims_for("admin", 0, 600));
    c.list_users(&t, "").await.expect(200);
    let issued = c.admin().await;
    let cl = claims(&issued);
    assert_eq!(
        (cl["id"].clone(), cl["sub"].clone()),
        (json!("admin"), json!("admin"))
    );
}

#[tokio::test]
async fn an_alg_none_token_is_401_invalid_token() {
    let server = server_with_secret();
    let c = server.client();
    let payload = claims_for("admin", 0, 600);
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "None", "typ": "JWT"}),
        json!({"alg": "NONE"}),
    ] {
        let t = unsigned(&header, &payload);
        assert_error(&c.list_users(&t, "").await, 401, "INVALID_TOKEN");
        // Also with the trailing dot dropped, and with a real HS256 signature appended.
        let t2 = t.trim_end_matches('.').to_owned();
        assert_error(&c.list_users(&t2, "").await, 401, "INVALID_TOKEN");
        let real = mint(SECRET, Algorithm::HS256, &payload);
        let sig = real.rsplit('.').next().expect("signature");
        let t3 = format!("{t}{sig}");
        assert_error(&c.list_users(&t3, "").await, 401, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn a_token_with_another_hmac_algorithm_is_401_invalid_token() {
    let server = server_with_secret();
    let c = server.client();
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = mint(SECRET, alg, &claims_for("admin", 0, 600));
        assert_error(&c.list_users(&t, "").await, 401, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn an_expired_token_is_401_token_expired() {
    let server = server_with_secret();
    let c = server.client();
    let t = mint(SECRET, Algorithm::HS256, &claims_for("admin", -7200, 3600));
    assert_error(&c.list_users(&t, "").await, 401, "TOKEN_EXPIRED");
    let t = mint(SECRET, Algorithm::HS256, &claims_for("admin", -120, 60));
    assert_error(&c.get_user(&t, "admin").await, 401, "TOKEN_EXPIRED");
}

#[tokio::test]
async fn a_token_with_a_tampered_payload_is_401_invalid_token() {
    let server = server_with_secret();
    let c = server.client();
    let cust = c.customer("mallory").await;
    c.get_user(&cust, "mallory").await.expect(200);
    let parts: Vec<&str> = cust.split('.').collect();
    let mut cl = claims(&cust);
    for (field, value) in [
        ("id", json!("admin")),
        ("sub", json!("admin")),
        ("exp", json!(cl["exp"].as_i64().expect("exp") + 1)),
        ("userType", json!("ADMIN")),
    ] {
        cl[field] = value;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64url(cl.to_string().as_bytes()),
            parts[2]
        );
        assert_error(&c.list_users(&forged, "").await, 401, "INVALID_TOKEN");
        assert_error(&c.get_user(&forged, "mallory").await, 401, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401_invalid_token() {
    let server = server_with_secret();
    let c = server.client();
    for other in [
        "another-secret-0123456789-abcdefghijklmn",
        "test-secret-0123456789-abcdefghijklmnopQ",
        "",
    ] {
        let t = mint(other, Algorithm::HS256, &claims_for("admin", 0, 600));
        assert_error(&c.list_users(&t, "").await, 401, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn a_garbage_token_is_401_invalid_token() {
    let server = server_with_secret();
    let c = server.client();
    let good = mint(SECRET, Algorithm::HS256, &claims_for("admin", 0, 600));
    let truncated = &good[..good.len() - 5];
    let no_sig = good.rsplit_once('.').expect("dot").0.to_owned();
    for t in [
        "garbage",
        "a.b.c",
        "..",
        "eyJ.eyJ.sig",
        "Bearer",
        truncated,
        no_sig.as_str(),
        &format!("{good}.extra"),
        &format!("{}.{}", b64url(b"{\"alg\":\"HS256\"}"), b64url(b"[]")),
    ] {
        assert_error(&c.list_users(t, "").await, 401, "INVALID_TOKEN");
    }
    // Claims missing or of the wrong type.
    for payload in [
        json!({"id": "admin", "sub": "admin", "iat": now_secs()}),
        json!({"sub": "admin", "iat": now_secs(), "exp": now_secs() + 600}),
        json!({"id": 1, "sub": "admin", "iat": now_secs(), "exp": now_secs() + 600}),
        json!({"id": "admin", "sub": "admin", "iat": now_secs(), "exp": "later"}),
    ] {
        let t = mint(SECRET, Algorithm::HS256, &payload);
        assert_error(&c.list_users(&t, "").await, 401, "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn the_token_works_in_x_access_token_and_in_authorization_bearer() {
    let server = server_with_secret();
    let c = server.client();
    let token = c.admin().await;
    let bearer = format!("Bearer {token}");
    for headers in [
        vec![("x-access-token", token.as_str())],
        vec![("authorization", bearer.as_str())],
    ] {
        let r = c.raw("GET", "/users/admin", &headers, None).await;
        r.expect(200);
        assert_eq!(r.data()["userId"], "admin");
    }
    let bad = format!("Basic {token}");
    let r = c
        .raw(
            "GET",
            "/users/admin",
            &[("authorization", bad.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = c
        .raw(
            "GET",
            "/users/admin",
            &[("authorization", "Bearer garbage")],
            None,
        )
        .await;
    assert_error(&r, 401, "INVALID_TOKEN");
}

#[tokio::test]
async fn a_valid_token_of_a_user_that_does_not_exist_is_403() {
    let server = server_with_secret();
    let c = server.client();
    let t = mint(SECRET, Algorithm::HS256, &claims_for("ghost", 0, 600));
    let r = c.get_user(&t, "ghost").await;
    r.expect(403);
    assert_eq!(r.body["success"], false);
    c.list_users(&t, "").await.expect(403);
}

#[tokio::test]
async fn a_rejected_users_live_token_is_403_on_the_very_next_request() {
    let server = server_with_secret();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    c.get_user(&cust, "cust").await.expect(200);
    c.update_user(&admin, "cust", json!({"userStatus": "REJECTED"}))
        .await
        .expect(200);
    let r = c.get_user(&cust, "cust").await;
    r.expect(403);
    assert_eq!(
        r.body["message"],
        "UserStatus is not approved yet. Current userStatus is - REJECTED"
    );
    c.update_user(&cust, "cust", json!({"name": "Still Here"}))
        .await
        .expect(403);
    // Nothing changed through the refused token.
    assert_eq!(
        c.get_user(&admin, "cust").await.data()["name"],
        "CUST",
        "the name is unchanged"
    );
}

#[tokio::test]
async fn an_engineer_set_back_to_pending_is_refused_on_the_very_next_request() {
    let server = server_with_secret();
    let c = server.client();
    let admin = c.admin().await;
    let eng = c.engineer(&admin, "eng").await;
    c.get_user(&eng, "eng").await.expect(200);
    c.update_user(&admin, "eng", json!({"userStatus": "PENDING"}))
        .await
        .expect(200);
    let r = c.get_user(&eng, "eng").await;
    r.expect(403);
    assert_eq!(
        r.body["message"],
        "UserStatus is not approved yet. Current userStatus is - PENDING"
    );
    // Approved again, the same token works again (it never expired).
    c.update_user(&admin, "eng", json!({"userStatus": "APPROVED"}))
        .await
        .expect(200);
    c.get_user(&eng, "eng").await.expect(200);
}

#[tokio::test]
async fn a_demoted_admins_live_token_loses_admin_rights_on_the_very_next_request() {
    let server = server_with_secret();
    let c = server.client();
    let admin = c.admin().await;
    let boss = c.second_admin(&admin, "boss").await;
    c.list_users(&boss, "").await.expect(200);
    c.get_user(&boss, "admin").await.expect(200);

    // Demoted to CUSTOMER: still approved, but no longer an admin, whatever the token says.
    c.update_user(&admin, "boss", json!({"userType": "CUSTOMER"}))
        .await
        .expect(200);
    assert_error(&c.list_users(&boss, "").await, 403, "FORBIDDEN");
    c.get_user(&boss, "admin").await.expect(403);
    c.update_user(&boss, "admin", json!({"userStatus": "REJECTED"}))
        .await
        .expect(403);
    c.get_user(&boss, "boss").await.expect(200);

    // Promoted again, then demoted to ENGINEER: that means PENDING, so nothing works.
    c.update_user(
        &admin,
        "boss",
        json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
    )
    .await
    .expect(200);
    c.list_users(&boss, "").await.expect(200);
    let r = c
        .update_user(&admin, "boss", json!({"userType": "ENGINEER"}))
        .await;
    r.expect(200);
    assert_eq!(r.data()["userStatus"], "PENDING");
    c.list_users(&boss, "").await.expect(403);
    c.get_user(&boss, "boss").await.expect(403);
    assert_eq!(c.signin("boss", PASSWORD).await.status, 403);
}

#[tokio::test]
async fn a_promoted_users_live_token_gains_admin_rights_at_once() {
    let server = server_with_secret();
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    c.list_users(&cust, "").await.expect(403);
    c.update_user(
        &admin,
        "cust",
        json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
    )
    .await
    .expect(200);
    // The token still says CUSTOMER; the store says ADMIN, and the store wins.
    c.list_users(&cust, "").await.expect(200);
    c.get_user(&cust, "admin").await.expect(200);
}
