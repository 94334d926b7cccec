//! POST /auth/signup (SPEC §2): the user object, initial statuses, every field rule, and
//! uniqueness of userId and email, also under concurrent sign-ups.

use crate::support::*;
use crm_tests::Server;
use crm_tests::client::PASSWORD;
use serde_json::{Value, json};
use tokio::task::JoinSet;

fn body(user_id: &str) -> Value {
    json!({
        "name": "Jane Doe",
        "userId": user_id,
        "email": format!("{user_id}@email.com"),
        "password": PASSWORD,
    })
}

fn with(mut b: Value, field: &str, v: Value) -> Value {
    b[field] = v;
    b
}

fn without(mut b: Value, field: &str) -> Value {
    b.as_object_mut().expect("object").remove(field);
    b
}

#[tokio::test]
async fn signup_creates_an_approved_customer_with_the_exact_user_object_and_a_location() {
    let server = Server::start();
    let c = server.client();
    let r = c.signup_with(body("jane")).await;
    r.expect(201);
    assert_eq!(keys(&r.body), ["data", "success"], "{}", r.text);
    assert_eq!(r.body["success"], true);
    let u = r.data();
    assert_user_object(u, "jane", "CUSTOMER", "APPROVED");
    assert_eq!(u["name"], "Jane Doe");
    assert_eq!(u["email"], "jane@email.com");
    assert_eq!(u["createdAt"], u["updatedAt"]);
    assert!(!r.text.contains(PASSWORD), "{}", r.text);

    let location = r.header("location").expect("Location header").to_owned();
    assert_eq!(location, "/crmService/api/v1/users/jane");
    let token = c.token("jane").await;
    let me = c.get(&format!("{}{location}", server.url), &token).await;
    me.expect(200);
    assert_eq!(me.data(), u, "GET on the Location gives the created user");
}

#[tokio::test]
async fn signup_without_user_type_defaults_to_customer_and_user_type_customer_is_the_same() {
    let server = Server::start();
    let c = server.client();
    let r = c
        .signup_with(with(body("cust"), "userType", json!("CUSTOMER")))
        .await;
    r.expect(201);
    assert_user_object(r.data(), "cust", "CUSTOMER", "APPROVED");
    c.token("cust").await;
}

#[tokio::test]
async fn signup_engineer_starts_pending_and_cannot_sign_in_until_an_admin_approves() {
    let server = Server::start();
    let c = server.client();
    let r = c
        .signup_with(with(body("eng"), "userType", json!("ENGINEER")))
        .await;
    r.expect(201);
    assert_user_object(r.data(), "eng", "ENGINEER", "PENDING");
    assert_eq!(r.data()["ticketsWorkingOnCount"], 0);

    let denied = c.signin("eng", PASSWORD).await;
    denied.expect(403);
    assert_eq!(denied.body["success"], false);
    assert_eq!(
        denied.body["message"],
        "UserStatus is not approved yet. Current userStatus is - PENDING"
    );
    assert!(denied.body.get("data").is_none(), "{}", denied.text);

    let admin = c.admin().await;
    let approved = c
        .update_user(&admin, "eng", json!({"userStatus": "APPROVED"}))
        .await;
    approved.expect(200);
    assert_user_object(approved.data(), "eng", "ENGINEER", "APPROVED");

    let ok = c.signin("eng", PASSWORD).await;
    ok.expect(200);
    assert_eq!(ok.data()["userStatus"], "APPROVED");
}

#[tokio::test]
async fn signup_as_admin_is_refused_with_the_seed_message_and_creates_nothing() {
    let server = Server::start();
    let c = server.client();
    let r = c
        .signup_with(with(body("boss"), "userType", json!("ADMIN")))
        .await;
    r.expect(400);
    assert_eq!(r.body["success"], false);
    assert_eq!(
        r.body["message"],
        "User registration as ADMIN userType not allowed."
    );
    let admin = c.admin().await;
    c.get_user(&admin, "boss").await.expect(404);
    assert_eq!(c.signin("boss", PASSWORD).await.status, 401);
}

#[tokio::test]
async fn signup_with_an_unknown_user_type_is_400_naming_user_type() {
    let server = Server::start();
    let c = server.client();
    for (i, t) in [
        json!("ROOT"),
        json!("SUPERUSER"),
        json!(""),
        json!("   "),
        json!(5),
        json!(null),
        json!(["CUSTOMER"]),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("u{i}");
        let r = c.signup_with(with(body(&id), "userType", t.clone())).await;
        assert_invalid(&r, "userType");
        let admin = c.admin().await;
        c.get_user(&admin, &id).await.expect(404);
    }
}

#[tokio::test]
async fn signup_ignores_a_user_status_in_the_body() {
    let server = Server::start();
    let c = server.client();
    for (id, user_type, sent, want) in [
        ("c1", "CUSTOMER", json!("REJECTED"), "APPROVED"),
        ("c2", "CUSTOMER", json!("PENDING"), "APPROVED"),
        ("c3", "CUSTOMER", json!(42), "APPROVED"),
        ("e1", "ENGINEER", json!("APPROVED"), "PENDING"),
        ("e2", "ENGINEER", json!("BOGUS"), "PENDING"),
    ] {
        let b = with(
            with(body(id), "userType", json!(user_type)),
            "userStatus",
            sent,
        );
        let r = c.signup_with(b).await;
        r.expect(201);
        assert_user_object(r.data(), id, user_type, want);
    }
    assert_eq!(c.signin("e1", PASSWORD).await.status, 403);
}

#[tokio::test]
async fn signup_with_a_missing_or_mistyped_field_is_400_naming_the_field() {
    let server = Server::start();
    let c = server.client();
    for field in ["name", "userId", "email", "password"] {
        let cases = [
            without(body("x1"), field),
            with(body("x1"), field, json!(null)),
            with(body("x1"), field, json!(12345678901_i64)),
            with(body("x1"), field, json!(true)),
            with(body("x1"), field, json!(["a"])),
            with(body("x1"), field, json!({"a": 1})),
            with(body("x1"), field, json!("")),
        ];
        for b in cases {
            let r = c.signup_with(b.clone()).await;
            assert_invalid(&r, field);
        }
    }
    for field in ["name", "userId", "email"] {
        let r = c.signup_with(with(body("x1"), field, json!("   "))).await;
        assert_invalid(&r, field);
    }
    let admin = c.admin().await;
    c.get_user(&admin, "x1").await.expect(404);
}

#[tokio::test]
async fn signup_enforces_every_password_rule() {
    let server = Server::start();
    let c = server.client();
    let refused = [
        ("Sh@rt1abc", "9 bytes: under the minimum of 10"),
        ("crmservice@1", "no upper-case letter"),
        ("CRMSERVICE@1", "no lower-case letter"),
        ("crmService@x", "no digit"),
        ("crmService12", "no special character"),
        ("crm Service@1", "a space"),
        ("crm\tService@1", "a tab"),
        ("crmService@1\n", "a newline"),
        (" crmService@1", "a leading space (never trimmed)"),
        ("crmService@1 ", "a trailing space (never trimmed)"),
        ("crm\u{a0}Service@1", "a no-break space"),
    ];
    for (i, (pw, why)) in refused.iter().enumerate() {
        let id = format!("p{i}");
        let r = c.signup_with(with(body(&id), "password", json!(pw))).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
        assert_invalid(&r, "password");
    }
    let accepted = [
        ("Shor@t1abc", "exactly 10 bytes"),
        ("Aa1@\u{e9}\u{e9}\u{e9}", "10 bytes in 7 characters"),
        ("\u{c9}1@abcdefgh", "a non-ASCII upper-case letter"),
    ];
    for (i, (pw, why)) in accepted.iter().enumerate() {
        let id = format!("ok{i}");
        let r = c.signup_with(with(body(&id), "password", json!(pw))).await;
        assert_eq!(r.status, 201, "{why}: {}", r.text);
        c.signin(&id, pw).await.expect(200);
    }
}

#[tokio::test]
async fn signup_accepts_a_72_byte_password_and_rejects_73_bytes_never_truncating() {
    let server = Server::start();
    let c = server.client();
    let p72 = format!("Aa1@{}", "x".repeat(68));
    assert_eq!(p72.len(), 72);
    c.signup_with(with(body("long"), "password", json!(p72)))
        .await
        .expect(201);
    c.signin("long", &p72).await.expect(200);
    assert_eq!(c.signin("long", &p72[..71]).await.status, 401);

    let p73 = format!("{p72}y");
    let r = c
        .signup_with(with(body("longer"), "password", json!(p73)))
        .await;
    assert_invalid(&r, "password");

    // Bytes, not characters: 4 + 34 two-byte characters = 72 bytes; one more is 74.
    let m72 = format!("Aa1@{}", "\u{e9}".repeat(34));
    assert_eq!(m72.len(), 72);
    c.signup_with(with(body("multi"), "password", json!(m72)))
        .await
        .expect(201);
    c.signin("multi", &m72).await.expect(200);
    let m74 = format!("{m72}\u{e9}");
    let r = c
        .signup_with(with(body("multi2"), "password", json!(m74)))
        .await;
    assert_invalid(&r, "password");
}

#[tokio::test]
async fn signup_user_id_allows_only_its_alphabet_and_1_to_64_characters() {
    let server = Server::start();
    let c = server.client();
    let id64 = "a".repeat(64);
    for (i, id) in [id64.as_str(), "A-Z.a_z-0.9", "x", "_", "..."]
        .into_iter()
        .enumerate()
    {
        let r = c
            .signup_with(json!({"name": "N", "userId": id, "email": format!("ok{i}@email.com"), "password": PASSWORD}))
            .await;
        r.expect(201);
        assert_eq!(r.data()["userId"], id);
        c.token(id).await;
    }
    let id65 = "a".repeat(65);
    for id in [
        id65.as_str(),
        "a b",
        "a/b",
        "a@b",
        "a#b",
        "a+b",
        "a%b",
        "a?b",
        "\u{fc}ser",
        "a\u{0}b",
    ] {
        let r = c
            .signup_with(
                json!({"name": "N", "userId": id, "email": "bad@email.com", "password": PASSWORD}),
            )
            .await;
        assert_invalid(&r, "userId");
    }
}

#[tokio::test]
async fn signup_user_ids_are_case_sensitive() {
    let server = Server::start();
    let c = server.client();
    c.signup_with(body("bob")).await.expect(201);
    c.signup_with(with(body("Bob"), "email", json!("bob2@email.com")))
        .await
        .expect(201);
    let admin = c.admin().await;
    let lower = c.get_user(&admin, "bob").await;
    let upper = c.get_user(&admin, "Bob").await;
    assert_eq!(lower.data()["email"], "bob@email.com");
    assert_eq!(upper.data()["email"], "bob2@email.com");
    assert_eq!(upper.data()["userId"], "Bob");
    c.get_user(&admin, "BOB").await.expect(404);
}

#[tokio::test]
async fn signup_validates_the_email_and_stores_it_lower_cased() {
    let server = Server::start();
    let c = server.client();
    for bad in [
        "john",
        "john@",
        "@email.com",
        "john@email",
        "john@@email.com",
        "john doe@email.com",
        "John <john@email.com>",
        "john@email..com",
        "john@.com",
    ] {
        let r = c.signup_with(with(body("j"), "email", json!(bad))).await;
        assert_invalid(&r, "email");
    }
    let r = c
        .signup_with(with(body("j"), "email", json!("Jane.Doe+CRM@Email.COM")))
        .await;
    r.expect(201);
    assert_eq!(r.data()["email"], "jane.doe+crm@email.com");
}

/// Issue 26 item 1: SES takes a 7-bit ASCII local part and an ASCII (Punycode) domain, so an
/// address it cannot deliver to is refused where it enters; a Unicode domain is stored in its
/// Punycode form, which is also what makes it unique.
#[tokio::test]
async fn signup_refuses_addresses_ses_cannot_deliver_to_and_stores_a_unicode_domain_as_punycode() {
    let server = Server::start();
    let c = server.client();
    for bad in [
        "j\u{f6}hn@ex.com",
        "\u{430}dmin@ex.com",
        "a@ex_ample.com",
        "a@-example.com",
        "a@example-.com",
        "a@example.123",
        "a@127.0.0.1",
    ] {
        let r = c.signup_with(with(body("j"), "email", json!(bad))).await;
        assert_invalid(&r, "email");
    }
    let r = c
        .signup_with(with(body("u1"), "email", json!("John@Ex\u{e4}mple.COM")))
        .await;
    r.expect(201);
    assert_eq!(r.data()["email"], "john@xn--exmple-cua.com");
    let admin = c.admin().await;
    let stored = c.get_user(&admin, "u1").await;
    assert_eq!(stored.data()["email"], "john@xn--exmple-cua.com");
    // The same mailbox in either form is one address.
    let r = c
        .signup_with(with(body("u2"), "email", json!("john@xn--exmple-cua.com")))
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");
}

#[tokio::test]
async fn signup_trims_every_string_except_the_password() {
    let server = Server::start();
    let c = server.client();
    let r = c
        .signup_with(json!({
            "name": "  Jane Doe \t",
            "userId": "  jane  ",
            "email": " JANE@Email.com  ",
            "password": PASSWORD,
            "userType": " ENGINEER ",
        }))
        .await;
    r.expect(201);
    let u = r.data();
    assert_user_object(u, "jane", "ENGINEER", "PENDING");
    assert_eq!(u["name"], "Jane Doe");
    assert_eq!(u["email"], "jane@email.com");
    let admin = c.admin().await;
    c.get_user(&admin, "jane").await.expect(200);
}

#[tokio::test]
async fn signup_name_is_1_to_100_characters() {
    let server = Server::start();
    let c = server.client();
    let ok100 = "\u{e9}".repeat(100);
    let r = c.signup_with(with(body("n1"), "name", json!(ok100))).await;
    r.expect(201);
    assert_eq!(r.data()["name"], ok100);
    let r = c.signup_with(with(body("n2"), "name", json!("N"))).await;
    r.expect(201);
    let r = c
        .signup_with(with(body("n3"), "name", json!("x".repeat(101))))
        .await;
    assert_invalid(&r, "name");
}

#[tokio::test]
async fn signup_with_a_taken_user_id_is_409_user_id_taken() {
    let server = Server::start();
    let c = server.client();
    c.signup_with(body("jane")).await.expect(201);
    let r = c
        .signup_with(with(body("jane"), "email", json!("other@email.com")))
        .await;
    assert_error(&r, 409, "USER_ID_TAKEN");
    // The default admin's userId is taken as well.
    let r = c
        .signup_with(with(body("admin"), "email", json!("x@email.com")))
        .await;
    assert_error(&r, 409, "USER_ID_TAKEN");
    // The refused sign-up's email stays free.
    c.signup_with(with(body("other"), "email", json!("other@email.com")))
        .await
        .expect(201);
}

#[tokio::test]
async fn signup_email_uniqueness_is_case_insensitive_409_email_taken() {
    let server = Server::start();
    let c = server.client();
    c.signup_with(body("jane")).await.expect(201);
    for (id, email) in [
        ("jane2", "JANE@email.com"),
        ("jane3", " Jane@Email.Com "),
        ("jane4", "john@email.com"),
    ] {
        let r = c.signup_with(with(body(id), "email", json!(email))).await;
        assert_error(&r, 409, "EMAIL_TAKEN");
        // The refused sign-up's userId stays free.
        c.signup_with(body(id)).await.expect(201);
    }
}

async fn race(c: &crm_tests::Client, bodies: Vec<Value>) -> Vec<crm_tests::Resp> {
    let mut set = JoinSet::new();
    for b in bodies {
        let c = c.clone();
        set.spawn(async move { c.signup_with(b).await });
    }
    set.join_all().await
}

#[tokio::test]
async fn concurrent_signups_with_one_user_id_give_exactly_one_201_and_409_user_id_taken() {
    let server = Server::start();
    let c = server.client();
    let bodies = (0..20)
        .map(|i| with(body("racer"), "email", json!(format!("racer{i}@email.com"))))
        .collect();
    let results = race(&c, bodies).await;
    let winners: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one sign-up wins");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "USER_ID_TAKEN");
    }
    let admin = c.admin().await;
    let (_, all) = walk_users(&c, &admin, "", 100).await;
    assert_eq!(all.iter().filter(|id| *id == "racer").count(), 1);
    // The losers' emails were not kept: each is free for a new user.
    let winner_email = winners[0].data()["email"].as_str().expect("email");
    for i in 0..20 {
        let email = format!("racer{i}@email.com");
        let r = c
            .signup_with(with(body(&format!("late{i}")), "email", json!(email)))
            .await;
        if email == winner_email {
            assert_error(&r, 409, "EMAIL_TAKEN");
        } else {
            r.expect(201);
        }
    }
}

#[tokio::test]
async fn concurrent_signups_with_one_email_in_any_case_give_exactly_one_201_and_409_email_taken() {
    let server = Server::start();
    let c = server.client();
    let bodies = (0..20)
        .map(|i| {
            let email = if i % 2 == 0 {
                "Shared@Email.com"
            } else {
                "shared@email.COM"
            };
            with(body(&format!("e{i}")), "email", json!(email))
        })
        .collect();
    let results = race(&c, bodies).await;
    let winners: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one sign-up wins");
    assert_eq!(winners[0].data()["email"], "shared@email.com");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "EMAIL_TAKEN");
    }
    // The losers' userIds were not kept.
    let winner = winners[0].data()["userId"].as_str().expect("userId");
    for i in 0..20 {
        let id = format!("e{i}");
        let r = c.signup_with(body(&id)).await;
        if id == winner {
            assert_error(&r, 409, "USER_ID_TAKEN");
        } else {
            r.expect(201);
        }
    }
}
