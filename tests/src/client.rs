//! A client for the API with one helper per endpoint, so tests read like the user's story.

use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
}

pub const PASSWORD: &str = "crmService@1";

/// Asserts an error answer: status, `success: false`, the code, a non-empty message.
#[track_caller]
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    r.expect(status);
    assert_eq!(r.body["success"], false, "{}", r.text);
    assert_eq!(r.code(), code, "{}", r.text);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
}

/// Asserts a 400 that names `field`, in the body and in the message.
#[track_caller]
pub fn assert_invalid(r: &Resp, field: &str) {
    assert_error(r, 400, "VALIDATION_FAILED");
    assert_eq!(r.body["field"], field, "{}", r.text);
    let msg = r.body["message"].as_str().unwrap_or_default();
    assert!(msg.contains(field), "message should name {field}: {msg}");
}

/// The sorted keys of a JSON object.
#[track_caller]
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Percent-encodes a query value.
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("http client"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any request: `path` is under the API base (or absolute when it starts with http).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self
            .http
            .request(Method::from_bytes(method.as_bytes()).expect("method"), url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    /// A JSON request with an optional token (sent as x-access-token).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(t) = token {
            headers.push(("x-access-token", t));
        }
        self.raw(
            method,
            path,
            &headers,
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn signup(&self, user_id: &str, user_type: Option<&str>) -> Resp {
        let mut body = json!({
            "name": user_id.to_uppercase(),
            "userId": user_id,
            "email": format!("{user_id}@email.com"),
            "password": PASSWORD,
        });
        if let Some(t) = user_type {
            body["userType"] = json!(t);
        }
        self.call("POST", "/auth/signup", None, Some(body)).await
    }

    pub async fn signin(&self, user_id: &str, password: &str) -> Resp {
        self.call(
            "POST",
            "/auth/signin",
            None,
            Some(json!({"userId": user_id, "password": password})),
        )
        .await
    }

    /// POST /auth/signup with any body.
    pub async fn signup_with(&self, body: Value) -> Resp {
        self.call("POST", "/auth/signup", None, Some(body)).await
    }

    /// POST /auth/signin with any body.
    pub async fn signin_with(&self, body: Value) -> Resp {
        self.call("POST", "/auth/signin", None, Some(body)).await
    }

    /// GET /users with a query string (without the leading `?`; empty for none).
    pub async fn list_users(&self, token: &str, query: &str) -> Resp {
        if query.is_empty() {
            self.get("/users", token).await
        } else {
            self.get(&format!("/users?{query}"), token).await
        }
    }

    /// GET /users/{userId}.
    pub async fn get_user(&self, token: &str, user_id: &str) -> Resp {
        self.get(&format!("/users/{user_id}"), token).await
    }

    /// PUT /users/{userId}.
    pub async fn update_user(&self, token: &str, user_id: &str, body: Value) -> Resp {
        self.put(&format!("/users/{user_id}"), token, body).await
    }

    /// Signs in and returns the access token (fails the test otherwise).
    pub async fn token(&self, user_id: &str) -> String {
        let r = self.signin(user_id, PASSWORD).await;
        r.expect(200);
        r.data()["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned()
    }

    /// The default admin's token.
    pub async fn admin(&self) -> String {
        self.token("admin").await
    }

    /// Signs up a customer and returns its token.
    pub async fn customer(&self, user_id: &str) -> String {
        self.signup(user_id, None).await.expect(201);
        self.token(user_id).await
    }

    /// Signs up an engineer, has the admin approve it, returns its token.
    pub async fn engineer(&self, admin: &str, user_id: &str) -> String {
        self.signup(user_id, Some("ENGINEER")).await.expect(201);
        self.put(
            &format!("/users/{user_id}"),
            admin,
            json!({"userStatus": "APPROVED"}),
        )
        .await
        .expect(200);
        self.token(user_id).await
    }

    /// Signs up a user, has the admin make it an approved ADMIN, returns its token.
    pub async fn second_admin(&self, admin: &str, user_id: &str) -> String {
        self.signup(user_id, None).await.expect(201);
        self.update_user(
            admin,
            user_id,
            json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
        )
        .await
        .expect(200);
        self.token(user_id).await
    }

    /// Every page of a paginated GET of `path` (`query` without `?`, may be empty) at
    /// `limit`, following nextToken. Each page must be 200, within the limit and counted
    /// right. Returns the page sizes and the items in order.
    pub async fn walk(
        &self,
        token: &str,
        path: &str,
        query: &str,
        limit: usize,
    ) -> (Vec<usize>, Vec<Value>) {
        let (mut sizes, mut all) = (Vec::new(), Vec::new());
        let mut next: Option<String> = None;
        for _ in 0..10_000 {
            let mut q = format!("limit={limit}");
            if !query.is_empty() {
                q = format!("{query}&{q}");
            }
            if let Some(t) = &next {
                q = format!("{q}&nextToken={}", enc(t));
            }
            let r = self.get(&format!("{path}?{q}"), token).await;
            r.expect(200);
            let items = r
                .data()
                .as_array()
                .unwrap_or_else(|| panic!("data is not a list: {}", r.text))
                .clone();
            assert_eq!(r.body["documentResultsCount"], items.len(), "{}", r.text);
            assert!(items.len() <= limit, "page over the limit: {}", r.text);
            sizes.push(items.len());
            all.extend(items);
            match r.body["nextToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => return (sizes, all),
            }
        }
        panic!("more than 10,000 pages of {path}");
    }
}
