//! What the API tests share: hand-made tokens (base64url, HS256 with a chosen secret, or
//! unsigned), reading a token's claims, the user-object shape, and walking every page.

use crm_tests::{Client, Resp, Server, ServerOptions};
pub use crm_tests::{assert_error, assert_invalid, enc, keys};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The HS256 secret given to servers whose tokens the tests mint themselves (40 bytes).
pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopq";

/// The exact body of SPEC §1's 404.
pub fn not_found_body() -> Value {
    json!({"success": false, "message": "The requested endpoint doesn't exists.", "code": "NOT_FOUND"})
}

/// A server with `env` added to the harness's defaults.
pub fn server_with_env(env: &[(&str, &str)]) -> Server {
    Server::start_with(ServerOptions {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    })
}

/// A server whose JWT secret is `SECRET`, so tests can mint its tokens.
pub fn server_with_secret() -> Server {
    server_with_env(&[("CRM_JWT_SECRET", SECRET)])
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub fn b64url_decode(s: &str) -> Vec<u8> {
    try_b64url_decode(s).unwrap_or_else(|| panic!("not base64url: {s:?}"))
}

pub fn try_b64url_decode(s: &str) -> Option<Vec<u8>> {
    let (mut bits, mut nbits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = B64.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// The JSON of a JWT segment (0 = header, 1 = payload).
pub fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT segment");
    serde_json::from_slice(&b64url_decode(part)).expect("JWT segment is JSON")
}

/// A token's claims, read without verifying it.
pub fn claims(token: &str) -> Value {
    segment(token, 1)
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Claims as the server issues them, for `user`, issued `iat_offset` seconds from now and
/// living `ttl` seconds.
pub fn claims_for(user: &str, iat_offset: i64, ttl: i64) -> Value {
    let iat = now_secs() + iat_offset;
    json!({"id": user, "sub": user, "iat": iat, "exp": iat + ttl})
}

/// A token signed with `secret` using `alg` (an HMAC algorithm).
pub fn mint(secret: &str, alg: Algorithm, claims: &Value) -> String {
    crm_shared::auth::jwt_crypto::install();
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a test token")
}

/// An unsigned token with this header and payload (empty signature).
pub fn unsigned(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    )
}

/// `2022-08-05T12:35:23.673Z`: RFC 3339, UTC, milliseconds.
pub fn is_rfc3339_millis(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// Asserts SPEC §2's user object: exactly these fields (ticketsWorkingOnCount only for
/// staff), RFC 3339 millisecond timestamps, and nothing that looks like a password.
#[track_caller]
pub fn assert_user_object(u: &Value, user_id: &str, user_type: &str, user_status: &str) {
    let mut want = vec![
        "createdAt",
        "email",
        "name",
        "updatedAt",
        "userId",
        "userStatus",
        "userType",
    ];
    if user_type != "CUSTOMER" {
        want.push("ticketsWorkingOnCount");
        want.sort();
        assert!(u["ticketsWorkingOnCount"].is_i64(), "{u}");
    }
    assert_eq!(keys(u), want, "user object fields: {u}");
    assert_eq!(u["userId"], user_id, "{u}");
    assert_eq!(u["userType"], user_type, "{u}");
    assert_eq!(u["userStatus"], user_status, "{u}");
    for t in ["createdAt", "updatedAt"] {
        let s = u[t].as_str().unwrap_or_default();
        assert!(is_rfc3339_millis(s), "{t} = {s:?}");
    }
    let text = u.to_string();
    assert!(!text.contains("$2"), "a bcrypt hash leaked: {text}");
    assert!(!text.to_lowercase().contains("password"), "{text}");
}

/// The userIds of a list page.
pub fn ids(r: &Resp) -> Vec<String> {
    r.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {}", r.text))
        .iter()
        .map(|u| u["userId"].as_str().expect("userId").to_owned())
        .collect()
}

/// Every page of GET /users for `query` (may be empty) at `limit`, following nextToken:
/// the page sizes and the userIds in order.
pub async fn walk_users(
    c: &Client,
    token: &str,
    query: &str,
    limit: usize,
) -> (Vec<usize>, Vec<String>) {
    let (sizes, users) = c.walk(token, "/users", query, limit).await;
    let ids = users
        .iter()
        .map(|u| u["userId"].as_str().expect("userId").to_owned())
        .collect();
    (sizes, ids)
}

/// Signs up a user with its own email and the harness's password; returns the response.
pub async fn signup_as(c: &Client, user_id: &str, user_type: &str) -> Resp {
    c.signup_with(json!({
        "name": format!("{user_id} name"),
        "userId": user_id,
        "email": format!("{user_id}@email.com"),
        "password": crm_tests::client::PASSWORD,
        "userType": user_type,
    }))
    .await
}
