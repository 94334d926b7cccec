//! What the reliability tests share: one lock so the timing-sensitive tests (load, crash,
//! faults) do not run beside each other on a 2-core machine, a client that reports
//! transport errors instead of panicking, reading everything back through the API as admin
//! (users, tickets, histories), the counter invariant, the mail log, and figures printed
//! for docs/RELIABILITY.md.

use crm_tests::{Client, Resp, Server, ServerOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub use crm_tests::client::PASSWORD;

static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held by each timing-sensitive test for its whole run.
pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    HEAVY.lock().await
}

/// `heavy` for a test outside tokio.
pub fn heavy_blocking() -> tokio::sync::MutexGuard<'static, ()> {
    HEAVY.blocking_lock()
}

/// `RELIABILITY_FULL=1` (scripts/reliability) runs the heavier variants.
pub fn full() -> bool {
    std::env::var("RELIABILITY_FULL").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// One line for the figures in docs/RELIABILITY.md (`cargo test ... -- --nocapture`).
pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("FIGURE {name}: {value}");
}

/// Starts a server from inside a multi-threaded tokio test.
pub fn start(opts: ServerOptions) -> Server {
    tokio::task::block_in_place(|| Server::start_with(opts))
}

/// A request's outcome: a response, or what the transport said.
#[derive(Debug)]
pub enum Outcome {
    Answered(Resp),
    Failed(String),
}

/// A client whose requests may fail (the server is killed or stopping under it).
#[derive(Clone)]
pub struct Raw {
    pub base: String,
    http: reqwest::Client,
}

impl Raw {
    pub fn new(base: &str, timeout: Duration) -> Raw {
        Raw {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .pool_max_idle_per_host(8)
                .build()
                .expect("http client"),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Outcome {
        self.call_keyed(method, path, token, body, None).await
    }

    /// As `call`, with an `Idempotency-Key` when given.
    pub async fn call_keyed(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Outcome {
        let mut req = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            req = req.header("x-access-token", t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(error_chain(&e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match resp.text().await {
            Ok(text) => Outcome::Answered(Resp {
                status,
                headers,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }),
            Err(e) => Outcome::Failed(error_chain(&e)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Every item of a listing, 100 to a page.
pub async fn walk(c: &Client, token: &str, path: &str) -> Vec<Value> {
    c.walk(token, path, "", 100).await.1
}

pub fn id_of(t: &Value) -> String {
    t["_id"].as_str().expect("ticket id").to_owned()
}

/// SPEC §3's invariant through the API as admin: every user's ticketsWorkingOnCount equals
/// the number of OPEN tickets assigned to them. Returns (users with a count, OPEN assigned).
pub async fn assert_invariant(c: &Client, admin: &str) -> (usize, usize) {
    let tickets = walk(c, admin, "/tickets").await;
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    for t in &tickets {
        if t["status"] == "OPEN"
            && let Some(a) = t["assignee"].as_str()
        {
            *open.entry(a.to_owned()).or_default() += 1;
        }
    }
    let users = walk(c, admin, "/users").await;
    let mut counted = 0;
    let mut bad = Vec::new();
    for u in &users {
        let id = u["userId"].as_str().unwrap_or_default();
        let want = open.get(id).copied().unwrap_or(0);
        match u["ticketsWorkingOnCount"].as_i64() {
            Some(n) => {
                counted += 1;
                if n != want {
                    bad.push(format!("{id}: count {n}, OPEN assigned {want}"));
                }
            }
            None if want != 0 => bad.push(format!("{id}: no count, OPEN assigned {want}")),
            None => {}
        }
    }
    assert!(bad.is_empty(), "counter invariant broken: {bad:?}");
    (counted, open.values().sum::<i64>() as usize)
}

/// A ticket's whole history.
pub async fn history(c: &Client, token: &str, id: &str) -> Vec<Value> {
    walk(c, token, &format!("/tickets/{id}/history")).await
}

/// The mail log's lines: (ticket id, "created"/"updated", event time) per mail, read from
/// the first line of each mail's content ("Ticket <id> was <verb> by <actor> at <time>.").
pub fn mails(dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("mail.log")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("mail.log line is not JSON ({e}): {l:?}"));
            let first = v["content"]
                .as_str()
                .and_then(|c| c.lines().next())
                .unwrap_or_default()
                .to_owned();
            let words: Vec<&str> = first.split(' ').collect();
            match words.as_slice() {
                ["Ticket", id, "was", verb, "by", _, "at", at] => (
                    (*id).to_owned(),
                    (*verb).to_owned(),
                    at.trim_end_matches('.').to_owned(),
                ),
                _ => panic!("unexpected mail content: {first:?}"),
            }
        })
        .collect()
}

/// Every history entry of every ticket, as the mail it should have caused:
/// (ticket id, verb, at) -> how many entries.
pub async fn expected_mails(c: &Client, admin: &str) -> BTreeMap<(String, String, String), usize> {
    let mut want = BTreeMap::new();
    for t in walk(c, admin, "/tickets").await {
        let id = id_of(&t);
        for h in history(c, admin, &id).await {
            let verb = if h["version"] == 1 {
                "created"
            } else {
                "updated"
            };
            let at = h["at"].as_str().expect("history at").to_owned();
            *want.entry((id.clone(), verb.to_owned(), at)).or_insert(0) += 1;
        }
    }
    want
}

/// Waits until the mail log holds exactly one mail per history entry of every ticket (no
/// event lost, none mailed twice, none made up), then waits `settle` more and checks again.
/// Returns the number of mails.
pub async fn assert_mailed_exactly_once(
    c: &Client,
    admin: &str,
    dir: &Path,
    within: Duration,
) -> usize {
    let want = expected_mails(c, admin).await;
    let deadline = Instant::now() + within;
    let count = |dir: &Path| {
        let mut got: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for m in mails(dir) {
            *got.entry(m).or_insert(0) += 1;
        }
        got
    };
    loop {
        let got = count(dir);
        if got == want {
            break;
        }
        let dup: Vec<_> = got
            .iter()
            .filter(|(k, n)| **n > want.get(*k).copied().unwrap_or(0))
            .collect();
        assert!(
            dup.is_empty(),
            "mailed more than once or never acknowledged: {dup:?}"
        );
        if Instant::now() > deadline {
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, n)| got.get(*k).copied().unwrap_or(0) < **n)
                .collect();
            panic!(
                "{} of {} events never mailed within {within:?}: {missing:?}",
                missing.len(),
                want.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        count(dir),
        want,
        "a mail went out twice after the log was complete"
    );
    want.values().sum()
}

/// Signs up `n` engineers `<prefix>N` and has the admin approve them.
pub async fn engineers(c: &Client, admin: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        c.signup(&id, Some("ENGINEER")).await.expect(201);
        c.put(
            &format!("/users/{id}"),
            admin,
            json!({"userStatus": "APPROVED"}),
        )
        .await
        .expect(200);
        ids.push(id);
    }
    ids
}

/// Nearest-rank percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The resident set size of a process, in KiB, from /proc/<pid>/status.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Words that must never reach a client: SQL, SDK and panic text, internals.
pub const INTERNALS: &[&str] = &[
    "SELECT ",
    "INSERT ",
    "sqlite",
    "rusqlite",
    "dispatch failure",
    "DispatchFailure",
    "TransactionCanceled",
    "ConditionalCheckFailed",
    "aws-sdk",
    "panicked",
    "RUST_BACKTRACE",
    "src/",
    "gsi1pk",
    "TICKET#",
    "USER#",
];

#[track_caller]
pub fn assert_no_internals(r: &Resp) {
    for w in INTERNALS {
        assert!(
            !r.text.contains(w),
            "response leaks internal detail {w:?}: {}",
            r.text
        );
    }
}
