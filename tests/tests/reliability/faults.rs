//! Dependency faults. The table: `crm serve --store dynamodb` talks to a DynamoDB Local of
//! this test's own (`emulator::DynamoDbLocal`, so it can be killed) through a TCP proxy in the test that can pass bytes, hold them far beyond the SDK's
//! timeouts (shared/src/cloud.rs: 2 s per attempt, 5 s per operation), or cut every
//! connection and refuse new ones (the table unreachable, as when the emulator is killed;
//! it keeps its data in memory, so the proxy stands in for the kill and the data survives
//! for the checks). Under a mixed load through all three, every answer is 2xx/4xx or 503
//! with Retry-After and the generic message, none takes longer than a bound, and once the
//! table is back every 201'd ticket exists, every 200'd update is applied and the counter
//! invariant holds. Finally the emulator is killed for real: 503s, promptly.
//!
//! The notification API: a loopback server answering 500 to every mail; `crm serve` retries
//! each event and then writes it to `<data-dir>/dead-letter.log`.

use super::support::*;
use crm_tests::emulator::DynamoDbLocal;
use crm_tests::{Client, ServerOptions};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The longest a request may take while the table hangs: two store rounds of the SDK's
/// five-second operation budget, plus slack for a loaded two-core machine.
const BOUND: Duration = Duration::from_secs(14);
/// A creation behind up to three others in the creation turn (4 × 5 s, plus slack).
/// How long the proxy holds bytes in slow mode (far beyond the 2 s attempt timeout).
const HOLD: Duration = Duration::from_secs(30);
const GENERIC_503: &str = "The service is temporarily unavailable. Please retry.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    Slow,
    Down,
}

struct Proxy {
    url: String,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (mode, rx) = watch::channel(Mode::Pass);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let rx = rx.clone();
                if *rx.borrow() == Mode::Down {
                    drop(sock);
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (cr, cw) = sock.into_split();
                    let (ur, uw) = up.into_split();
                    tokio::select! {
                        _ = pipe(cr, uw, rx.clone()) => {}
                        _ = pipe(ur, cw, rx.clone()) => {}
                    }
                });
            }
        });
        Proxy { url, mode }
    }

    fn set(&self, m: Mode) {
        let _ = self.mode.send(m);
    }
}

/// Copies bytes one way; in slow mode each chunk waits HOLD first; in down mode (or when
/// the mode turns to down while waiting) the connection is cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = wait_for(&mut mode, Mode::Down) => return,
        };
        let m = *mode.borrow();
        match m {
            Mode::Down => return,
            Mode::Slow => {
                tokio::select! {
                    _ = tokio::time::sleep(HOLD) => {}
                    _ = wait_for(&mut mode, Mode::Down) => return,
                }
            }
            Mode::Pass => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn wait_for(mode: &mut watch::Receiver<Mode>, want: Mode) {
    let _ = mode.wait_for(|m| *m == want).await;
}

#[derive(Default)]
struct Log {
    creates: Vec<String>,
    updates: Vec<(String, String)>,
    by_status: std::collections::BTreeMap<u16, usize>,
    bad: Vec<String>,
    /// The slowest answer to a listing or an update, and to a creation.
    slowest: Duration,
    slowest_create: Duration,
    unavailable: usize,
}

/// Checks one answer under faults; returns it when it is a success.
fn judge(log: &mut Log, what: &str, took: Duration, o: Outcome) -> Option<Value> {
    if what == "create" {
        log.slowest_create = log.slowest_create.max(took);
    } else {
        log.slowest = log.slowest.max(took);
    }
    // Creations wait at most a short, bounded time for their assignment turn
    // (shared/src/service/tickets.rs, `TURN_WAIT`), so they are held to the same bound.
    if took > BOUND {
        log.bad.push(format!("{what} took {took:?}"));
    }
    match o {
        Outcome::Failed(e) => {
            log.bad.push(format!("{what}: no answer: {e}"));
            None
        }
        Outcome::Answered(r) => {
            *log.by_status.entry(r.status).or_default() += 1;
            if INTERNALS.iter().any(|w| r.text.contains(w)) {
                log.bad.push(format!("{what}: internal detail: {}", r.text));
            }
            match r.status {
                200..=299 => Some(r.data().clone()),
                503 => {
                    log.unavailable += 1;
                    if r.header("retry-after").is_none()
                        || r.body["message"] != GENERIC_503
                        || r.code() != "SERVICE_UNAVAILABLE"
                    {
                        log.bad.push(format!(
                            "{what}: 503 without Retry-After or the generic message: {:?} {}",
                            r.headers, r.text
                        ));
                    }
                    None
                }
                // A retried write may find its own earlier attempt committed (409), which is
                // an answer, not a failure to answer.
                400..=499 => None,
                s => {
                    log.bad.push(format!("{what}: {s} {}", r.text));
                    None
                }
            }
        }
    }
}

async fn worker(raw: Raw, token: String, k: usize, stop: Arc<AtomicBool>) -> Log {
    let mut log = Log::default();
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let t0 = Instant::now();
        match n % 4 {
            0 | 1 => {
                let body =
                    json!({"title": format!("Fault c{k} n{n}"), "description": "Under faults."});
                let o = raw
                    .call("POST", "/tickets", Some(&token), Some(&body))
                    .await;
                if let Some(t) = judge(&mut log, "create", t0.elapsed(), o) {
                    let id = id_of(&t);
                    log.creates.push(id.clone());
                    mine.push(id);
                }
            }
            2 if !mine.is_empty() => {
                let id = mine[n % mine.len()].clone();
                let desc = format!("c{k}-n{n}");
                let body =
                    json!({"description": desc, "status": (["OPEN", "BLOCKED", "CLOSED"][n % 3])});
                let o = raw
                    .call("PUT", &format!("/tickets/{id}"), Some(&token), Some(&body))
                    .await;
                if judge(&mut log, "update", t0.elapsed(), o).is_some() {
                    log.updates.push((id, desc));
                }
            }
            _ => {
                let o = raw
                    .call("GET", "/tickets?limit=20", Some(&token), None)
                    .await;
                judge(&mut log, "list", t0.elapsed(), o);
            }
        }
    }
    log
}

/// DynamoDB Local, the proxy in front of it, and `crm serve --store dynamodb` through the proxy, with
/// two approved engineers and `customers` customers (their tokens).
struct Rig {
    dynamodb: DynamoDbLocal,
    proxy: Proxy,
    server: crm_tests::Server,
    tokens: Vec<String>,
}

async fn rig(customers: usize) -> Rig {
    let dynamodb = DynamoDbLocal::start();
    let proxy = Proxy::start(dynamodb.addr.clone()).await;
    let env = vec![
        (
            "AWS_ENDPOINT_URL".to_owned(),
            crm_tests::emulator::endpoint(),
        ),
        ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), proxy.url.clone()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ("CRM_TABLE_NAME".to_owned(), "crm-faults".to_owned()),
    ];
    let server = start(ServerOptions {
        env,
        dynamodb: true,
        ..Default::default()
    });
    let c = server.client();
    let admin = c.admin().await;
    engineers(&c, &admin, "fault-eng", 2).await;
    let mut tokens = Vec::new();
    for k in 0..customers {
        tokens.push(c.customer(&format!("fault-cust{k}")).await);
    }
    Rig {
        dynamodb,
        proxy,
        server,
        tokens,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_unreachable_table_is_503_and_nothing_half_written() {
    let _heavy = heavy().await;
    let Rig {
        mut dynamodb,
        proxy,
        server,
        tokens,
    } = rig(4).await;
    let c = server.client();
    let stop = Arc::new(AtomicBool::new(false));
    let raw = Raw::new(&server.api(), Duration::from_secs(60));
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .enumerate()
        .map(|(k, t)| tokio::spawn(worker(raw.clone(), t, k, stop.clone())))
        .collect();
    let phases: &[(Mode, u64)] = if full() {
        &[
            (Mode::Pass, 2),
            (Mode::Slow, 12),
            (Mode::Pass, 3),
            (Mode::Down, 6),
            (Mode::Pass, 3),
            (Mode::Slow, 8),
            (Mode::Down, 4),
            (Mode::Pass, 3),
        ]
    } else {
        &[
            (Mode::Pass, 1),
            (Mode::Slow, 8),
            (Mode::Pass, 2),
            (Mode::Down, 4),
            (Mode::Pass, 2),
        ]
    };
    for (m, secs) in phases {
        proxy.set(*m);
        tokio::time::sleep(Duration::from_secs(*secs)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut log = Log::default();
    for t in tasks {
        let l = t.await.expect("worker");
        log.creates.extend(l.creates);
        log.updates.extend(l.updates);
        log.bad.extend(l.bad);
        log.unavailable += l.unavailable;
        log.slowest = log.slowest.max(l.slowest);
        log.slowest_create = log.slowest_create.max(l.slowest_create);
        for (s, n) in l.by_status {
            *log.by_status.entry(s).or_default() += n;
        }
    }
    assert!(log.bad.is_empty(), "under faults: {:#?}", log.bad);
    assert!(
        log.unavailable > 0,
        "the faults never reached a request: {:?}",
        log.by_status
    );

    // The table is back: nothing acknowledged is missing, nothing is half-written.
    proxy.set(Mode::Pass);
    let admin = c.admin().await;
    for id in &log.creates {
        c.get(&format!("/tickets/{id}"), &admin).await.expect(200);
    }
    for (id, desc) in &log.updates {
        let h = history(&c, &admin, id).await;
        assert!(
            h.iter().any(|e| e["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|ch| ch["field"] == "description" && ch["to"] == json!(desc))),
            "acknowledged update {desc} of {id} is lost"
        );
    }
    let (_, open) = assert_invariant(&c, &admin).await;
    figure(
        "table faults",
        format!(
            "{} phases (slow {HOLD:?} holds, cut connections), answers {:?}, slowest listing or update {:?} (bound {BOUND:?}), slowest creation {:?} (bound {BOUND:?}); {} creates and {} updates acknowledged and present; invariant holds ({open} OPEN assigned)",
            phases.len(),
            log.by_status,
            log.slowest,
            log.slowest_create,
            log.creates.len(),
            log.updates.len()
        ),
    );

    // The emulator itself dies: still a prompt 503, and the server stays up.
    dynamodb.kill();
    let raw = Raw::new(&server.api(), Duration::from_secs(60));
    for path in ["/tickets", "/users"] {
        let t0 = Instant::now();
        let o = raw.call("GET", path, Some(&admin), None).await;
        let took = t0.elapsed();
        let Outcome::Answered(r) = o else {
            panic!("no answer with the emulator dead: {o:?}")
        };
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(r.body["message"], GENERIC_503);
        assert!(r.header("retry-after").is_some());
        assert_no_internals(&r);
        assert!(took < BOUND, "{path} took {took:?} with the emulator dead");
    }
    let r = c.signin("admin", PASSWORD).await;
    assert_eq!(r.status, 503, "{}", r.text);
    figure(
        "emulator killed",
        "GET /tickets, GET /users, sign-in: 503 with Retry-After",
    );
}

/// A loopback notification API that answers every POST with 500.
async fn failing_notification_api() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 8192];
                // Read the head and the declared body, then answer 500.
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())
                                    .flatten()
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"error":"down"}"#;
                let resp = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_notification_api_is_retried_then_dead_lettered() {
    let (url, hits) = failing_notification_api().await;
    let server = start(ServerOptions {
        env: vec![
            ("CRM_NOTIFIER_TRANSPORT".into(), "http".into()),
            ("CRM_NOTIFICATION_SERVICE_URL".into(), url),
        ],
        ..Default::default()
    });
    let c: Client = server.client();
    let cust = c.customer("dl-cust").await;
    let r = c
        .post(
            "/tickets",
            &cust,
            json!({"title": "Mail me", "description": "The notification API is down."}),
        )
        .await;
    r.expect(201);
    let id = id_of(r.data());
    let path = server.data_dir.join("dead-letter.log");
    let t0 = Instant::now();
    let line: Value = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(&id)) {
            break serde_json::from_str(l).expect("dead-letter line is JSON");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "the event of {id} was not dead-lettered within 40 s ({} attempts)",
            hits.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let attempts = hits.load(Ordering::SeqCst);
    assert!(attempts >= 2, "not retried: {attempts} attempt(s)");
    assert_eq!(line["event"]["data"]["ticket"]["_id"], json!(id));
    assert!(line["eventId"].as_str().is_some_and(|e| !e.is_empty()));
    // The ticket request itself was never affected, and the ticket is fine.
    c.get(&format!("/tickets/{id}"), &cust).await.expect(200);
    figure(
        "notification API answering 500",
        format!(
            "{attempts} attempts, then dead-lettered after {:.1} s; the API answered 201",
            t0.elapsed().as_secs_f64()
        ),
    );
}

/// Concurrent creations while the table hangs: each is answered (503) within the bound,
/// however many are waiting. Listings, which do not take the creation turn, for comparison.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_while_the_table_hangs_each_answer_within_the_bound() {
    const CONCURRENT: usize = 6;
    let _heavy = heavy().await;
    let rig = rig(CONCURRENT).await;
    let raw = Raw::new(&rig.server.api(), Duration::from_secs(120));
    rig.proxy.set(Mode::Slow);
    let fire = |path: &'static str, post: bool| {
        rig.tokens
            .iter()
            .cloned()
            .enumerate()
            .map(|(k, t)| {
                let raw = raw.clone();
                tokio::spawn(async move {
                    let t0 = Instant::now();
                    let body = json!({"title": format!("Hang {k}"), "description": "While the table hangs."});
                    let o = if post {
                        raw.call("POST", path, Some(&t), Some(&body)).await
                    } else {
                        raw.call("GET", path, Some(&t), None).await
                    };
                    let status = match o {
                        Outcome::Answered(r) => r.status,
                        Outcome::Failed(_) => 0,
                    };
                    (status, t0.elapsed())
                })
            })
            .collect::<Vec<_>>()
    };
    // Waits for the answers until a little past the bound; one still waiting then shows as
    // status 0 after the deadline (the test does not wait for the end of a longer queue).
    let answers = |tasks: Vec<tokio::task::JoinHandle<(u16, Duration)>>| async move {
        let t0 = Instant::now();
        let deadline = tokio::time::Instant::now() + BOUND + Duration::from_secs(1);
        let mut out = Vec::new();
        for t in tasks {
            match tokio::time::timeout_at(deadline, t).await {
                Ok(r) => out.push(r.expect("request task")),
                Err(_) => out.push((0, t0.elapsed())),
            }
        }
        out
    };
    let lists = answers(fire("/tickets", false)).await;
    let creates = answers(fire("/tickets", true)).await;
    rig.proxy.set(Mode::Pass);
    let slowest = |v: &[(u16, Duration)]| v.iter().map(|(_, d)| *d).max().unwrap_or_default();
    figure(
        "concurrent requests while the table hangs",
        format!(
            "{CONCURRENT} listings: slowest {:?}, statuses {:?}; {CONCURRENT} creations: slowest {:?}, statuses {:?} (bound {BOUND:?})",
            slowest(&lists),
            lists.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            slowest(&creates),
            creates.iter().map(|(s, _)| *s).collect::<Vec<_>>()
        ),
    );
    for (what, v) in [("listing", &lists), ("creation", &creates)] {
        for (status, took) in v.iter() {
            assert!(
                *status == 503 && *took <= BOUND,
                "a {what} while the table hangs: {} after {took:?} (want 503 within {BOUND:?}; \
                 0 = no answer yet); all {what}s: {v:?}",
                status
            );
        }
    }
}
