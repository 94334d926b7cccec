//! Hostile bodies at every body-taking endpoint (signup, signin, PUT /users/{id},
//! POST /tickets, PUT /tickets/{id}, POST /tickets/{id}/comments), in-process through the
//! API's pipeline (`crm_shared::http::answer`, what the `Api` service runs) and every
//! function's routes over a `Ctx` on a SQLite store: random bytes, deep nesting, strings
//! around and over 64 KiB, odd Unicode, fields of every wrong JSON type, near-valid bodies
//! with one field broken, under several content types. A proptest with a fixed seed and a
//! bounded number of cases. Every answer is 2xx or 4xx (a panic in a handler would be a
//! 500), a JSON envelope without internal detail, and a 4xx changes nothing: the store's
//! files are byte-for-byte what they were (except a failed sign-in, which must count).

use super::support::{INTERNALS, figure, full};
use crm_shared::config::Secret;
use crm_shared::http::{ApiResponse, MAX_BODY_BYTES, Router, answer};
use crm_shared::model::{Timestamp, UserId, UserType};
use crm_shared::service::Ctx;
use http::{HeaderValue, Method};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Signup,
    Signin,
    UpdateUser,
    CreateTicket,
    UpdateTicket,
    AddComment,
}

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::Signup,
    Endpoint::Signin,
    Endpoint::UpdateUser,
    Endpoint::CreateTicket,
    Endpoint::UpdateTicket,
    Endpoint::AddComment,
];

impl Endpoint {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Endpoint::Signup => &["name", "userId", "email", "password", "userType"],
            Endpoint::Signin => &["userId", "password"],
            Endpoint::UpdateUser => &["name", "userType", "userStatus", "userId", "email"],
            Endpoint::CreateTicket => &["title", "description", "ticketPriority"],
            Endpoint::UpdateTicket => &[
                "title",
                "description",
                "ticketPriority",
                "status",
                "assignee",
            ],
            Endpoint::AddComment => &["body", "internal"],
        }
    }

    /// A body the endpoint accepts.
    fn valid(self, n: u64) -> Value {
        match self {
            Endpoint::Signup => json!({"name": "Fuzz User", "userId": format!("fz{n}"),
                "email": format!("fz{n}@email.com"), "password": "crmService@1"}),
            Endpoint::Signin => json!({"userId": "cust1", "password": "crmService@1"}),
            Endpoint::UpdateUser => json!({"name": format!("Name {n}")}),
            Endpoint::CreateTicket => {
                json!({"title": format!("Fuzz {n}"), "description": "A fuzzed ticket."})
            }
            Endpoint::UpdateTicket => json!({"description": format!("Edited {n}")}),
            Endpoint::AddComment => json!({"body": format!("Comment {n}")}),
        }
    }
}

/// Strings a parser or a validator may trip on.
fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[\\u{0}-\\u{1f}\\u{7f}-\\u{9f}]{1,10}",
        Just("\u{202e}gnp.exe".to_owned()),
        Just("a\u{200b}b\u{feff}c\u{2028}d".to_owned()),
        Just("e\u{301}\u{301}\u{301}".to_owned()),
        Just("🦀👩‍👩‍👧‍👦🏳️‍🌈".to_owned()),
        Just("\u{10ffff}\u{fffd}".to_owned()),
        Just("Robert'); DROP TABLE items;--".to_owned()),
        Just("{{7*7}} ${jndi:ldap://x} %s%n".to_owned()),
        Just("   ".to_owned()),
        Just("ADMIN".to_owned()),
        Just("admin".to_owned()),
        Just("İ".repeat(40)),
        "[a-zA-Z0-9._-]{60,70}",
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(2.0)),
        Just(json!(-0.0)),
        odd_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One hostile body, as bytes.
fn body(ep: Endpoint) -> BoxedStrategy<(String, Vec<u8>)> {
    let fields = ep.fields();
    let pick = move |i: usize| fields[i % fields.len()];
    prop_oneof![
        // Random bytes.
        2 => proptest::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| ("random bytes".to_owned(), b)),
        // Deep nesting, closed or not, at the top or in a field.
        2 => (1usize..20_000, any::<bool>(), any::<bool>(), any::<usize>()).prop_map(move |(d, arr, close, f)| {
            let (open, shut) = if arr { ("[", "]") } else { ("{\"a\":", "}") };
            let mut s = format!("{{\"{}\":", pick(f));
            s.push_str(&open.repeat(d));
            s.push('1');
            if close {
                s.push_str(&shut.repeat(d));
            }
            s.push('}');
            (format!("nesting {d}"), s.into_bytes())
        }),
        // One string field around and over the 64 KiB limit, or far over it.
        2 => (prop_oneof![
                (MAX_BODY_BYTES - 64)..(MAX_BODY_BYTES + 64),
                0usize..300_000,
            ], any::<usize>(), any::<u64>()).prop_map(move |(len, f, n)| {
            let mut v = ep.valid(n);
            v[pick(f)] = json!("x".repeat(len));
            (format!("string of {len}"), v.to_string().into_bytes())
        }),
        // Odd Unicode in every field.
        3 => (proptest::collection::vec(odd_string(), fields.len()), any::<u64>()).prop_map(move |(ss, n)| {
            let mut v = ep.valid(n);
            for (f, s) in fields.iter().zip(ss) {
                v[*f] = json!(s);
            }
            ("odd unicode".to_owned(), v.to_string().into_bytes())
        }),
        // JSON text a serializer would not write: lone surrogates, NUL, duplicate keys.
        1 => prop_oneof![
            Just(r#"{"name":"\ud800","userId":"\udfff","title":"\ud83e"}"#),
            Just(r#"{"name":"a\u0000b","userId":"a\u0000","title":"\u0000","password":"\u0000"}"#),
            Just(r#"{"userId":"cust1","userId":"admin","title":"a","title":""}"#),
            Just(r#"{"ticketPriority":1e400,"title":"t","description":"d"}"#),
            Just(r#"{"ticketPriority":-1e-400,"title":"t","description":"d"}"#),
            Just(r#"{"ticketPriority":99999999999999999999999,"title":"t","description":"d"}"#),
            Just("\u{feff}{\"title\":\"bom\",\"description\":\"d\"}"),
            Just("{\"title\":\"t\",\"description\":\"d\"} trailing"),
            Just("{\"title\":\"t\",\"description\":\"d\",}"),
        ].prop_map(|s| ("hand-made JSON".to_owned(), s.as_bytes().to_vec())),
        // Every field of a random JSON type.
        3 => (proptest::collection::vec(any_json(), fields.len()), any::<u64>()).prop_map(move |(vals, n)| {
            let mut v = ep.valid(n);
            for (f, x) in fields.iter().zip(vals) {
                v[*f] = x;
            }
            ("wrong types".to_owned(), v.to_string().into_bytes())
        }),
        // A valid body with an unknown field of any type (ignored: the request goes through).
        1 => (any_json(), "[a-zA-Z]{1,12}", any::<u64>()).prop_map(move |(x, k, n)| {
            let mut v = ep.valid(n);
            if !fields.contains(&k.as_str()) && !["password", "userStatus", "userId", "email"].contains(&k.as_str()) {
                v[k.as_str()] = x;
            }
            ("unknown field".to_owned(), v.to_string().into_bytes())
        }),
        // A valid body with one field broken, or a whole body that is not an object.
        2 => (any_json(), any::<usize>(), any::<u64>(), any::<bool>()).prop_map(move |(x, f, n, whole)| {
            if whole && !x.is_object() {
                return ("not an object".to_owned(), x.to_string().into_bytes());
            }
            let mut v = ep.valid(n);
            v[pick(f)] = x;
            ("one field broken".to_owned(), v.to_string().into_bytes())
        }),
    ]
    .boxed()
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("application/json")),
        2 => Just(None),
        1 => Just(Some("application/json; charset=utf-8")),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(Some("application/problem+json")),
    ]
}

/// The in-process service: a Ctx on a SQLite file, users of each role and one ticket.
struct App {
    ctx: Ctx,
    routes: Router,
    files: Vec<PathBuf>,
    tokens: [String; 3],
    ticket: String,
}

impl App {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        ct: Option<&str>,
        body: Vec<u8>,
    ) -> ApiResponse {
        let mut req = http::Request::new(http_body_util::Full::new(bytes::Bytes::from(body)));
        *req.method_mut() = method;
        *req.uri_mut() = format!("/crmService/api/v1{path}").parse().expect("a URI");
        if let Some(t) = token {
            req.headers_mut()
                .insert("x-access-token", HeaderValue::from_str(t).expect("token"));
        }
        if let Some(ct) = ct {
            req.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("content type"),
            );
        }
        answer(&self.ctx, &self.routes, req).await
    }

    async fn ok(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> Value {
        let r = self
            .call(
                method,
                path,
                token,
                Some("application/json"),
                body.to_string().into_bytes(),
            )
            .await;
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert!(r.status.is_success(), "setup {path}: {} {v}", r.status);
        v
    }

    /// A digest of the store's files (the database and its write-ahead log).
    fn digest(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for f in &self.files {
            std::fs::read(f).unwrap_or_default().hash(&mut h);
        }
        h.finish()
    }

    async fn new() -> App {
        let store = crm_tests::emulator::sqlite_store();
        let db = store
            .plugged_as::<crm_embedded::SqliteBackend>()
            .expect("sqlite")
            .path()
            .to_owned();
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let ctx = Ctx::new(store, &Secret::new("f".repeat(40)), 3600, 4);
        crm_shared::service::ensure_default_admin(&ctx)
            .await
            .expect("admin");
        let token = |id: &str, t: UserType| {
            ctx.tokens
                .issue(&UserId::parse(id).expect("id"), t, Timestamp::now())
                .expect("token")
        };
        let tokens = [
            token("admin", UserType::Admin),
            token("eng1", UserType::Engineer),
            token("cust1", UserType::Customer),
        ];
        let mut app = App {
            ctx,
            routes: crm::router(),
            files: vec![db, wal],
            tokens,
            ticket: String::new(),
        };
        let signup = |id: &str, t: &str| {
            json!({"name": id, "userId": id, "email": format!("{id}@email.com"),
                   "password": "crmService@1", "userType": t})
        };
        app.ok(
            Method::POST,
            "/auth/signup",
            None,
            signup("cust1", "CUSTOMER"),
        )
        .await;
        app.ok(
            Method::POST,
            "/auth/signup",
            None,
            signup("eng1", "ENGINEER"),
        )
        .await;
        let admin = app.tokens[0].clone();
        app.ok(
            Method::PUT,
            "/users/eng1",
            Some(&admin),
            json!({"userStatus": "APPROVED"}),
        )
        .await;
        let cust = app.tokens[2].clone();
        let t = app
            .ok(
                Method::POST,
                "/tickets",
                Some(&cust),
                json!({"title": "Target", "description": "The ticket the fuzzer edits."}),
            )
            .await;
        app.ticket = t["data"]["_id"].as_str().expect("id").to_owned();
        app
    }
}

#[derive(Debug, Clone)]
struct Case {
    ep: Endpoint,
    caller: usize,
    content_type: Option<&'static str>,
    kind: String,
    body: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (0usize..ENDPOINTS.len(), 0usize..3, content_type()).prop_flat_map(
        |(e, caller, content_type)| {
            let ep = ENDPOINTS[e];
            body(ep).prop_map(move |(kind, body)| Case {
                ep,
                caller,
                content_type,
                kind,
                body,
            })
        },
    )
}

#[derive(Default)]
struct Tally {
    cases: usize,
    by_endpoint: BTreeMap<String, usize>,
    by_status: BTreeMap<u16, usize>,
    unchanged_checked: usize,
    max_body: usize,
}

#[test]
fn hostile_bodies_never_5xx_and_4xx_changes_nothing() {
    let _heavy = super::support::heavy_blocking();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(App::new());
    let cases = if full() { 6000 } else { 1500 };
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_f022_2026),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let tally = std::cell::RefCell::new(Tally::default());
    let result = runner.run(&case(), |c| {
        let (method, path) = match c.ep {
            Endpoint::Signup => (Method::POST, "/auth/signup".to_owned()),
            Endpoint::Signin => (Method::POST, "/auth/signin".to_owned()),
            Endpoint::UpdateUser => (
                Method::PUT,
                ["/users/admin", "/users/eng1", "/users/cust1"][c.caller].to_owned(),
            ),
            Endpoint::CreateTicket => (Method::POST, "/tickets".to_owned()),
            Endpoint::UpdateTicket => (Method::PUT, format!("/tickets/{}", app.ticket)),
            Endpoint::AddComment => (Method::POST, format!("/tickets/{}/comments", app.ticket)),
        };
        let public = matches!(c.ep, Endpoint::Signup | Endpoint::Signin);
        let token = (!public).then(|| app.tokens[c.caller].as_str());
        let before = app.digest();
        let r = rt.block_on(app.call(method, &path, token, c.content_type, c.body.clone()));
        let status = r.status.as_u16();
        let text = String::from_utf8_lossy(&r.body).into_owned();
        prop_assert!(
            (200..500).contains(&status),
            "{:?} {} ({}) got {status}: {text}",
            c.ep,
            c.kind,
            c.body.len()
        );
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
        prop_assert_eq!(&v["success"], &json!(status < 300), "{}", text);
        for w in INTERNALS {
            prop_assert!(!text.contains(w), "leaks {:?}: {}", w, text);
        }
        // Sign-in failures are counted in the store by design; everything else that is
        // refused must leave it as it was.
        let counted = c.ep == Endpoint::Signin && matches!(status, 401 | 403 | 429);
        let mut t = tally.borrow_mut();
        if status >= 400 && !counted {
            prop_assert_eq!(
                app.digest(),
                before,
                "{:?} {} answered {} but changed the store",
                c.ep,
                c.kind,
                status
            );
            t.unchanged_checked += 1;
        }
        t.cases += 1;
        *t.by_endpoint.entry(format!("{:?}", c.ep)).or_default() += 1;
        *t.by_status.entry(status).or_default() += 1;
        t.max_body = t.max_body.max(c.body.len());
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner();
    figure("fuzz cases run", t.cases);
    figure("fuzz cases by endpoint", format!("{:?}", t.by_endpoint));
    figure("fuzz statuses", format!("{:?}", t.by_status));
    figure("fuzz 4xx checked unchanged", t.unchanged_checked);
    figure("fuzz largest body bytes", t.max_body);
    // Every endpoint saw cases, some succeeded and some were refused for each kind of status.
    assert_eq!(t.by_endpoint.len(), ENDPOINTS.len(), "{:?}", t.by_endpoint);
    for s in [400, 413, 415] {
        assert!(
            t.by_status.contains_key(&s),
            "no {s} among {:?}",
            t.by_status
        );
    }
}
