//! SPEC §1 over real sockets: routing and the exact 404, case-insensitive fixed segments,
//! body rules (415, 400, 413), the envelope, security headers and CORS.

use crate::support::*;
use crm_tests::client::PASSWORD;
use crm_tests::{Resp, Server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn signup_body(user_id: &str) -> Value {
    json!({"name": "N", "userId": user_id, "email": format!("{user_id}@email.com"), "password": PASSWORD})
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_exact_404_body() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let v2 = format!("{}/crmService/api/v2/users", server.url);
    let root = format!("{}/", server.url);
    let base = format!("{}/crmService/api/v1", server.url);
    let cases: Vec<(&str, &str)> = vec![
        ("DELETE", "/tickets/62ed134ee134ad67c6c61e68"),
        ("GET", "/InvalidEndPoint"),
        ("PATCH", "/users/admin"),
        ("DELETE", "/users/admin"),
        ("PUT", "/users"),
        ("POST", "/users"),
        ("POST", "/users/admin"),
        ("GET", "/auth/signup"),
        ("GET", "/auth/signin"),
        ("PUT", "/auth/signin"),
        ("POST", "/auth"),
        ("POST", "/auth/logout"),
        ("GET", "/users/admin/extra"),
        ("GET", "/users//admin"),
        ("GET", v2.as_str()),
        ("GET", root.as_str()),
        ("GET", base.as_str()),
        ("GET", "/crmService/api/v1/users"),
    ];
    for (method, path) in cases {
        for token in [None, Some(admin.as_str())] {
            let r = c.call(method, path, token, Some(json!({}))).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
            assert_eq!(r.body, not_found_body(), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn fixed_path_segments_match_in_any_case_and_user_ids_do_not() {
    let server = Server::start();
    let c = server.client();
    let r = c
        .call(
            "POST",
            &format!("{}/crmservice/API/V1/AUTH/SIGNUP", server.url),
            None,
            Some(signup_body("jane")),
        )
        .await;
    r.expect(201);
    let r = c
        .call(
            "POST",
            &format!("{}/CRMSERVICE/api/v1/auth/SignIn", server.url),
            None,
            Some(json!({"userId": "admin", "password": PASSWORD})),
        )
        .await;
    r.expect(200);
    let admin = r.data()["accessToken"].as_str().expect("token").to_owned();
    let r = c
        .get(
            &format!("{}/crmService/Api/v1/Users/jane", server.url),
            &admin,
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["userId"], "jane");
    c.get(&format!("{}/crmservice/api/v1/USERS", server.url), &admin)
        .await
        .expect(200);
    c.get(
        &format!("{}/crmservice/api/v1/users/JANE", server.url),
        &admin,
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn a_body_with_another_content_type_is_415_and_changes_nothing() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let body = signup_body("jane").to_string().into_bytes();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
    ] {
        let r = c
            .raw(
                "POST",
                "/auth/signup",
                &[("content-type", ct)],
                Some(body.clone()),
            )
            .await;
        assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
        let r = c
            .raw(
                "PUT",
                "/users/admin",
                &[("content-type", ct), ("x-access-token", &admin)],
                Some(json!({"name": "Changed"}).to_string().into_bytes()),
            )
            .await;
        assert_eq!(r.status, 415, "{ct}: {}", r.text);
    }
    c.get_user(&admin, "jane").await.expect(404);
    assert_eq!(c.get_user(&admin, "admin").await.data()["name"], "John Doe");
}

#[tokio::test]
async fn a_json_body_is_accepted_with_a_json_content_type_or_none() {
    let server = Server::start();
    let c = server.client();
    for (i, ct) in [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
    ]
    .into_iter()
    .enumerate()
    {
        let headers: Vec<(&str, &str)> = ct.map(|v| ("content-type", v)).into_iter().collect();
        let r = c
            .raw(
                "POST",
                "/auth/signup",
                &headers,
                Some(signup_body(&format!("u{i}")).to_string().into_bytes()),
            )
            .await;
        assert_eq!(r.status, 201, "{ct:?}: {}", r.text);
    }
}

#[tokio::test]
async fn malformed_json_or_a_body_that_is_not_an_object_is_400() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for raw in [
        &b"{"[..],
        b"{\"name\":}",
        b"{'name': 'x'}",
        b"[]",
        b"[{\"userId\":\"a\"}]",
        b"1",
        b"\"string\"",
        b"null",
        b"true",
        b"",
        b"   ",
        b"\xff\xfe",
        b"{\"userId\":\"a\"} trailing",
    ] {
        for (method, path, token) in [
            ("POST", "/auth/signup", None),
            ("POST", "/auth/signin", None),
            ("PUT", "/users/admin", Some(admin.as_str())),
        ] {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(t) = token {
                headers.push(("x-access-token", t));
            }
            let r = c.raw(method, path, &headers, Some(raw.to_vec())).await;
            assert_eq!(r.status, 400, "{method} {path} {raw:?}: {}", r.text);
            assert_eq!(r.body["success"], false);
            assert!(!r.code().is_empty());
        }
    }
}

#[tokio::test]
async fn a_field_of_the_wrong_json_type_is_400_naming_it() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let mut b = signup_body("jane");
    b["name"] = json!(5);
    let r = c.signup_with(b).await;
    assert_invalid(&r, "name");
    let r = c
        .signin_with(json!({"userId": 1, "password": PASSWORD}))
        .await;
    assert_eq!((r.status, r.body["field"].clone()), (400, json!("userId")));
    let r = c
        .update_user(&admin, "admin", json!({"name": {"first": "John"}}))
        .await;
    assert_invalid(&r, "name");
}

fn padded_signup(user_id: &str, total: usize) -> Vec<u8> {
    let mut b = signup_body(user_id);
    b["pad"] = json!("");
    let base = b.to_string().len();
    b["pad"] = json!("x".repeat(total - base));
    let bytes = b.to_string().into_bytes();
    assert_eq!(bytes.len(), total);
    bytes
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_and_exactly_64_kib_is_accepted() {
    let server = Server::start();
    let c = server.client();
    let json_ct = [("content-type", "application/json")];
    let r = c
        .raw(
            "POST",
            "/auth/signup",
            &json_ct,
            Some(padded_signup("big", 64 * 1024 + 1)),
        )
        .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    let r = c
        .raw(
            "POST",
            "/auth/signup",
            &json_ct,
            Some(padded_signup("big", 1024 * 1024)),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    let admin = c.admin().await;
    c.get_user(&admin, "big").await.expect(404);

    let r = c
        .raw(
            "POST",
            "/auth/signup",
            &json_ct,
            Some(padded_signup("exact", 64 * 1024)),
        )
        .await;
    r.expect(201);
}

#[tokio::test]
async fn after_a_413_the_same_client_can_go_on_with_its_next_request() {
    // The server answers before reading the oversized body, so it must not invite the client
    // to reuse that connection (Connection: close), or the next request fails mid-flight.
    let server = Server::start();
    let c = server.client();
    for i in 0..20 {
        let r = c
            .raw(
                "POST",
                "/auth/signup",
                &[("content-type", "application/json")],
                Some(padded_signup(&format!("big{i}"), 200 * 1024)),
            )
            .await;
        assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
        assert_eq!(
            r.header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("close")
        );
        c.signup(&format!("small{i}"), None).await.expect(201);
    }
}

/// Sends a chunked request (no Content-Length) by hand and returns the status code.
async fn chunked_request(server: &Server, path: &str, body: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(4096) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = s.write_all(&req).await;
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp).await;
    let text = String::from_utf8_lossy(&resp);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}

#[tokio::test]
async fn a_chunked_body_over_64_kib_is_413_too() {
    let server = Server::start();
    let path = "/crmService/api/v1/auth/signup";
    assert_eq!(
        chunked_request(&server, path, &padded_signup("big", 64 * 1024 + 1)).await,
        413
    );
    assert_eq!(
        chunked_request(&server, path, &padded_signup("small", 1000)).await,
        201
    );
}

#[track_caller]
fn assert_security_headers(what: &str, r: &Resp) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{what}: {:?}",
        r.header("content-type")
    );
    assert!(r.body["success"].is_boolean(), "{what}: {}", r.text);
    if r.body["success"] == false {
        assert!(r.body["message"].is_string(), "{what}: {}", r.text);
        assert!(r.body["code"].is_string(), "{what}: {}", r.text);
    } else {
        assert!(r.body.get("data").is_some(), "{what}: {}", r.text);
    }
}

#[tokio::test]
async fn every_response_is_a_json_envelope_with_nosniff_and_no_store() {
    let server = Server::start();
    let c = server.client();
    let mut seen = Vec::new();
    seen.push(("201 signup", c.signup("jane", None).await));
    seen.push(("409 signup", c.signup("jane", None).await));
    seen.push(("200 signin", c.signin("jane", PASSWORD).await));
    seen.push(("401 signin", c.signin("jane", "wrongPassword@1").await));
    let admin = c.admin().await;
    let jane = c.token("jane").await;
    seen.push(("200 list", c.list_users(&admin, "").await));
    seen.push(("200 get", c.get_user(&jane, "jane").await));
    seen.push((
        "200 put",
        c.update_user(&jane, "jane", json!({"name": "J"})).await,
    ));
    seen.push(("403 list", c.list_users(&jane, "").await));
    seen.push(("404 user", c.get_user(&admin, "nobody").await));
    seen.push(("401 no token", c.call("GET", "/users", None, None).await));
    seen.push(("400 limit", c.list_users(&admin, "limit=0").await));
    seen.push(("404 route", c.get("/InvalidEndPoint", &admin).await));
    seen.push((
        "409 last admin",
        c.update_user(&admin, "admin", json!({"userType": "CUSTOMER"}))
            .await,
    ));
    seen.push((
        "415",
        c.raw(
            "POST",
            "/auth/signup",
            &[("content-type", "text/plain")],
            Some(b"x".to_vec()),
        )
        .await,
    ));
    seen.push((
        "413",
        c.raw(
            "POST",
            "/auth/signup",
            &[],
            Some(padded_signup("x", 70_000)),
        )
        .await,
    ));
    for _ in 0..5 {
        c.signin("locked", "wrongPassword@1").await;
    }
    seen.push(("429", c.signin("locked", PASSWORD).await));
    for (what, r) in &seen {
        assert_eq!(
            r.status.to_string(),
            what.split(' ').next().unwrap_or_default(),
            "{what}: {}",
            r.text
        );
        assert_security_headers(what, r);
    }
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let server = Server::start();
    let c = server.client();
    let origin = [("origin", "https://app.example")];
    let r = c.raw("GET", "/users", &origin, None).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = c
        .raw(
            "OPTIONS",
            "/users",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
            ],
            None,
        )
        .await;
    assert_ne!(r.status, 204, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let server = server_with_env(&[(
        "CRM_CORS_ALLOWED_ORIGINS",
        "https://app.example, http://localhost:5173",
    )]);
    let c = server.client();
    for allowed in ["https://app.example", "http://localhost:5173"] {
        let pre = c
            .raw(
                "OPTIONS",
                "/auth/signin",
                &[
                    ("origin", allowed),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                None,
            )
            .await;
        assert_eq!(pre.status, 204, "{}", pre.text);
        assert_eq!(pre.header("access-control-allow-origin"), Some(allowed));
        let methods = pre
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_ascii_uppercase();
        for m in ["GET", "POST", "PUT", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = pre
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for h in ["content-type", "authorization", "x-access-token"] {
            assert!(headers.contains(h), "{headers}");
        }
        let r = c
            .raw(
                "POST",
                "/auth/signin",
                &[("origin", allowed), ("content-type", "application/json")],
                Some(
                    json!({"userId": "admin", "password": PASSWORD})
                        .to_string()
                        .into_bytes(),
                ),
            )
            .await;
        r.expect(200);
        assert_eq!(r.header("access-control-allow-origin"), Some(allowed));
    }
    for other in [
        "https://evil.example",
        "https://app.example.evil",
        "http://app.example",
        "null",
    ] {
        let pre = c
            .raw(
                "OPTIONS",
                "/auth/signin",
                &[("origin", other), ("access-control-request-method", "POST")],
                None,
            )
            .await;
        assert_ne!(pre.status, 204, "{other}");
        assert_eq!(pre.header("access-control-allow-origin"), None, "{other}");
        let r = c.raw("GET", "/users", &[("origin", other)], None).await;
        assert_eq!(r.header("access-control-allow-origin"), None, "{other}");
    }
}

/// A header's comma-separated list, lower-cased and trimmed.
fn header_list(r: &Resp, name: &str) -> Vec<String> {
    r.header(name)
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Issue 26 item 3: a browser's preflight for a creation with an `Idempotency-Key` is allowed
/// (before: `access-control-allow-headers` named only Content-Type, Authorization and
/// X-Access-Token, so the browser refused to send it), and a script can read the headers the
/// API defines on its answers: `Idempotent-Replayed`, `Retry-After`, `Location`,
/// `X-Request-Id`.
#[tokio::test]
async fn a_browser_may_send_an_idempotency_key_and_read_the_headers_the_api_sets() {
    let origin = "https://app.example";
    let server = server_with_env(&[("CRM_CORS_ALLOWED_ORIGINS", origin)]);
    let c = server.client();
    let pre = c
        .raw(
            "OPTIONS",
            "/tickets",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,idempotency-key,x-access-token",
                ),
            ],
            None,
        )
        .await;
    assert_eq!(pre.status, 204, "{}", pre.text);
    assert_eq!(pre.header("access-control-allow-origin"), Some(origin));
    let allowed = header_list(&pre, "access-control-allow-headers");
    for h in [
        "content-type",
        "authorization",
        "x-access-token",
        "idempotency-key",
    ] {
        assert!(allowed.iter().any(|a| a == h), "{h} not in {allowed:?}");
    }

    let token = c.customer("cust1").await;
    let headers = [
        ("origin", origin),
        ("content-type", "application/json"),
        ("x-access-token", token.as_str()),
        ("idempotency-key", "browser-retry-1"),
    ];
    let body = json!({"title": "From a browser", "description": "Sent twice"}).to_string();
    let create = || {
        c.raw(
            "POST",
            "/tickets",
            &headers,
            Some(body.clone().into_bytes()),
        )
    };
    create().await.expect(201);
    let replay = create().await;
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("access-control-allow-origin"), Some(origin));
    let exposed = header_list(&replay, "access-control-expose-headers");
    for h in [
        "idempotent-replayed",
        "retry-after",
        "location",
        "x-request-id",
    ] {
        assert!(exposed.iter().any(|e| e == h), "{h} not in {exposed:?}");
    }
}

/// Issue 26 item 7: a header the API reads, sent twice, is refused with a 400 naming it
/// (before: the first one won, silently). The ticket is not created.
#[tokio::test]
async fn a_header_the_api_reads_sent_twice_is_400_naming_it() {
    let server = Server::start();
    let c = server.client();
    let token = c.customer("cust1").await;
    let body = || {
        Some(
            json!({"title": "Twice", "description": "Two keys"})
                .to_string()
                .into_bytes(),
        )
    };
    let bearer = format!("Bearer {token}");
    let cases: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "Idempotency-Key",
            vec![
                ("x-access-token", token.as_str()),
                ("idempotency-key", "first"),
                ("idempotency-key", "second"),
            ],
        ),
        (
            "x-access-token",
            vec![
                ("x-access-token", token.as_str()),
                ("x-access-token", token.as_str()),
            ],
        ),
        (
            "Authorization",
            vec![
                ("authorization", bearer.as_str()),
                ("authorization", bearer.as_str()),
            ],
        ),
    ];
    for (field, mut headers) in cases {
        headers.push(("content-type", "application/json"));
        let r = c.raw("POST", "/tickets", &headers, body()).await;
        assert_error(&r, 400, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    let listed = c.get("/tickets", &token).await;
    listed.expect(200);
    assert_eq!(listed.body["documentResultsCount"], 0, "{}", listed.text);
}
