//! The change feed over HTTP (SPEC §8), on the embedded store and on DynamoDB Local: the
//! envelope with `nextCursor` on every page (an empty one too), the query's 400s, admins only,
//! an expired cursor or `since` (410), and (`serve::`, `crm serve` itself) a consumer that
//! resumes from its cursor after a restart, and writers in two processes, one of them slow
//! between its stamp and its commit, while a consumer polls.

use crate::support::*;
use crm_shared::auth::CursorCodec;
use crm_shared::config::Secret;
use crm_shared::model::Timestamp;
use crm_tests::{Client, Resp, Server, ServerOptions, assert_error, enc};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// The servers' horizon here (CRM_FEED_HORIZON_SECONDS).
const HORIZON: Duration = Duration::from_secs(2);

fn options(dynamodb: bool, data_dir: Option<std::path::PathBuf>, table: &str) -> ServerOptions {
    let mut env = vec![
        (
            "CRM_FEED_HORIZON_SECONDS".to_owned(),
            HORIZON.as_secs().to_string(),
        ),
        ("CRM_JWT_SECRET".to_owned(), SECRET.to_owned()),
    ];
    if dynamodb {
        env.extend(crm_tests::emulator::env());
        env.push(("CRM_TABLE_NAME".into(), table.to_owned()));
    }
    ServerOptions {
        env,
        dynamodb,
        data_dir,
    }
}

async fn feed(c: &Client, token: &str, query: &str) -> Resp {
    c.get(&format!("/events{query}"), token).await
}

/// The events from `after` (None: the start) to the first empty page (caught up), and its
/// cursor.
async fn follow(c: &Client, token: &str, after: Option<String>) -> (Vec<Value>, String) {
    let mut out = Vec::new();
    let mut cursor = after;
    for _ in 0..10_000 {
        let q = match &cursor {
            Some(a) => format!("?limit=1000&after={}", enc(a)),
            None => "?limit=1000".to_owned(),
        };
        let r = feed(c, token, &q).await;
        r.expect(200);
        let page = r.data().as_array().cloned().unwrap_or_default();
        assert_eq!(r.body["documentResultsCount"], json!(page.len()));
        let next = r.body["nextCursor"]
            .as_str()
            .expect("nextCursor on every page")
            .to_owned();
        let done = page.is_empty();
        out.extend(page);
        if done {
            return (out, next);
        }
        cursor = Some(next);
    }
    panic!("the feed did not end");
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The tickets whose creation the events record.
fn created(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "ticket.created")
        .map(|e| e["data"]["ticket"]["_id"].as_str().expect("_id").to_owned())
        .collect()
}

async fn create(c: &Client, token: &str, title: &str) -> String {
    let r = c
        .post(
            "/tickets",
            token,
            json!({"title": title, "description": "About the feed."}),
        )
        .await;
    r.expect(201);
    r.data()["_id"].as_str().expect("_id").to_owned()
}

async fn envelope_query_rules_and_admins_only(dynamodb: bool) {
    let table = crm_tests::unique("feed");
    let server = Server::start_with(options(dynamodb, None, &table));
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust").await;
    let t = create(&c, &cust, "Printer").await;
    tokio::time::sleep(HORIZON + Duration::from_millis(300)).await;
    let r = feed(&c, &admin, "?limit=2").await;
    r.expect(200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["documentResultsCount"], 2);
    assert!(r.body.get("nextToken").is_none());
    let (events, end) = follow(&c, &admin, None).await;
    assert_eq!(created(&events), BTreeSet::from([t.clone()]));
    let e = events
        .iter()
        .find(|e| e["type"] == "ticket.created")
        .expect("created");
    assert!(
        e["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_") && id.len() == 30)
    );
    assert!(is_rfc3339_millis(
        e["timestamp"].as_str().expect("timestamp")
    ));
    assert_eq!(e["data"]["actor"], "cust");
    // Caught up: an empty page with its cursor.
    let r = feed(&c, &admin, &format!("?after={}", enc(&end))).await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 0);
    assert_eq!(r.data(), &json!([]));
    assert!(r.body["nextCursor"].as_str().is_some_and(|s| !s.is_empty()));
    // type.
    let r = feed(&c, &admin, "?type=user.created").await;
    r.expect(200);
    let types: BTreeSet<String> = r
        .data()
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect();
    assert_eq!(types, BTreeSet::from(["user.created".to_owned()]));
    // Bad input: a 400 naming it, and nothing changes.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?type=TICKET_CREATED", "type"),
        ("?since=yesterday", "since"),
        ("?since=2026-12-06T12:00:00Z&after=x", "since"),
    ] {
        let r = feed(&c, &admin, q).await;
        assert_error(&r, 400, "INVALID_QUERY");
        assert_eq!(r.body["field"], field, "{q}");
    }
    for bad in ["garbage", "a.b", &format!("{end}x")] {
        assert_error(
            &feed(&c, &admin, &format!("?after={}", enc(bad))).await,
            400,
            "INVALID_CURSOR",
        );
    }
    assert_error(
        &feed(&c, &admin, "?limit=1&limit=2").await,
        400,
        "INVALID_QUERY",
    );
    assert_eq!(follow(&c, &admin, None).await.0, events, "nothing changed");
    // Admins only.
    assert_error(&feed(&c, &cust, "").await, 403, "FORBIDDEN");
    let r = c.raw("GET", "/events", &[], None).await;
    assert_error(&r, 401, "NO_TOKEN");
}

async fn an_expired_cursor_or_since_is_410(dynamodb: bool) {
    let table = crm_tests::unique("feed");
    let server = Server::start_with(options(dynamodb, None, &table));
    let c = server.client();
    let admin = c.admin().await;
    // A cursor this deployment issued 31 days ago (signed with its secret).
    let old = Timestamp::now().plus_seconds(-31 * 24 * 3600);
    let cursor = CursorCodec::new(&Secret::new(SECRET))
        .encode(&old.sort_key(), "events|v1")
        .expect("a cursor");
    let r = feed(&c, &admin, &format!("?after={}", enc(&cursor))).await;
    assert_error(&r, 410, "CURSOR_EXPIRED");
    let r = feed(&c, &admin, &format!("?since={}", enc(&old.rfc3339()))).await;
    assert_error(&r, 410, "CURSOR_EXPIRED");
    // 29 days ago is still within it.
    let kept = Timestamp::now().plus_seconds(-29 * 24 * 3600);
    feed(&c, &admin, &format!("?since={}", enc(&kept.rfc3339())))
        .await
        .expect(200);
}

#[tokio::test]
async fn the_envelope_the_query_rules_and_admins_only_on_the_embedded_store() {
    envelope_query_rules_and_admins_only(false).await;
}

#[tokio::test]
async fn the_envelope_the_query_rules_and_admins_only_on_dynamodb() {
    envelope_query_rules_and_admins_only(true).await;
}

#[tokio::test]
async fn an_expired_cursor_or_since_is_410_on_the_embedded_store() {
    an_expired_cursor_or_since_is_410(false).await;
}

#[tokio::test]
async fn an_expired_cursor_or_since_is_410_on_dynamodb() {
    an_expired_cursor_or_since_is_410(true).await;
}

/// Needs `crm serve` itself (a restart of its process, a second process on its store).
mod serve {
    use super::*;

    async fn resumes_from_its_cursor_after_a_restart(dynamodb: bool) {
        let table = crm_tests::unique("feed");
        let mut first = Server::start_with(options(dynamodb, None, &table));
        let dir = first.keep_data().to_path_buf();
        let c = first.client();
        let admin = c.admin().await;
        let cust = c.customer("cust").await;
        let before = [
            create(&c, &cust, "one").await,
            create(&c, &cust, "two").await,
        ];
        tokio::time::sleep(HORIZON + Duration::from_millis(300)).await;
        let (seen, cursor) = follow(&c, &admin, None).await;
        assert_eq!(created(&seen), BTreeSet::from(before.clone()));
        assert!(first.signal_and_wait("TERM").success());
        drop(first);

        let second = Server::start_with(options(dynamodb, Some(dir.clone()), &table));
        let c = second.client();
        // The tokens and the cursor are signed with the secret kept in the data dir (or
        // CRM_JWT_SECRET): both outlive the restart.
        let after = [
            create(&c, &cust, "three").await,
            create(&c, &cust, "four").await,
        ];
        tokio::time::sleep(HORIZON + Duration::from_millis(300)).await;
        let (rest, _) = follow(&c, &admin, Some(cursor)).await;
        assert_eq!(created(&rest), BTreeSet::from(after));
        assert!(
            ids(&rest).iter().all(|id| !ids(&seen).contains(id)),
            "nothing served twice"
        );
        let (everything, _) = follow(&c, &admin, None).await;
        assert_eq!([ids(&seen), ids(&rest)].concat(), ids(&everything));
        drop(second);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_consumer_resumes_from_its_cursor_after_a_restart_on_the_embedded_store() {
        resumes_from_its_cursor_after_a_restart(false).await;
    }

    #[tokio::test]
    async fn a_consumer_resumes_from_its_cursor_after_a_restart_on_dynamodb() {
        resumes_from_its_cursor_after_a_restart(true).await;
    }

    /// One ticket of the second process: its id, when its creation began and returned.
    struct Slow {
        id: String,
        end: i64,
    }

    /// SPEC §8's guarantee with writers in two processes: `crm serve` (tickets created over
    /// HTTP, one after another, as fast as it answers) and `feed-writer` (tests/src/bin: the
    /// same use case on the same table or file, every commit made slow between its feed stamp
    /// and its commit by the store's test hook), while a consumer polls GET /events from its
    /// cursor. The consumer ends with every event exactly once, in the order the feed gives
    /// once everything is settled. On DynamoDB the test shows it raced: fast tickets stamped
    /// after a slow one committed before it (a cursor that followed what was committed
    /// would have stepped past the slow one). On the embedded store the slow writer holds the
    /// write lock from its stamp to its commit, so stamps are in commit order there.
    async fn writers_in_two_processes_and_a_polling_consumer(dynamodb: bool) {
        const SLOW_MS: u64 = 700;
        let table = crm_tests::unique("feed");
        let horizon = Duration::from_secs(4);
        let mut opts = options(dynamodb, None, &table);
        opts.env.retain(|(k, _)| k != "CRM_FEED_HORIZON_SECONDS");
        opts.env.push((
            "CRM_FEED_HORIZON_SECONDS".into(),
            horizon.as_secs().to_string(),
        ));
        let server = Server::start_with(opts.clone());
        let c = server.client();
        let admin = c.admin().await;
        let cust = c.customer("cust").await;
        tokio::time::sleep(horizon).await;
        let (_, start) = follow(&c, &admin, None).await;

        let mut writer = std::process::Command::new(env!("CARGO_BIN_EXE_feed-writer"));
        if dynamodb {
            writer.args(["--table", &table]);
        } else {
            writer
                .arg("--sqlite")
                .arg(server.data_dir.join("crm.sqlite3"));
        }
        writer
            .args(["--reporter", "cust", "--count", "6"])
            .args(["--delay-ms", &SLOW_MS.to_string()])
            .args(["--horizon-ms", &horizon.as_millis().to_string()])
            .envs(opts.env.iter().cloned())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let slow = writer.spawn().expect("starting feed-writer");
        let slow = tokio::task::spawn_blocking(move || slow.wait_with_output());

        // The consumer polls from its cursor all along.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let consumer = {
            let (c, admin, stop, mut cursor) =
                (c.clone(), admin.clone(), stop.clone(), start.clone());
            tokio::spawn(async move {
                let (mut got, mut polls) = (Vec::new(), 0);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let r = feed(&c, &admin, &format!("?limit=1000&after={}", enc(&cursor))).await;
                    r.expect(200);
                    got.extend(r.data().as_array().cloned().unwrap_or_default());
                    cursor = r.body["nextCursor"]
                        .as_str()
                        .expect("nextCursor")
                        .to_owned();
                    polls += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                (got, cursor, polls)
            })
        };
        // The fast writer: until the slow one is done.
        let mut fast: Vec<(String, i64)> = Vec::new();
        while !slow.is_finished() {
            let id = create(&c, &cust, &format!("fast {}", fast.len())).await;
            fast.push((id, Timestamp::now().millis()));
        }
        let out = slow.await.expect("join").expect("feed-writer ran");
        assert!(
            out.status.success(),
            "feed-writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let slow: Vec<Slow> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("a JSON line");
                Slow {
                    id: v["id"].as_str().expect("id").to_owned(),
                    end: v["end"].as_i64().expect("end"),
                }
            })
            .collect();
        assert_eq!(slow.len(), 6);
        tokio::time::sleep(horizon + Duration::from_millis(500)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (mut got, cursor, polls) = consumer.await.expect("consumer");
        got.extend(follow(&c, &admin, Some(cursor)).await.0);

        let (settled, _) = follow(&c, &admin, Some(start)).await;
        assert!(
            polls > 5,
            "the consumer polled while both wrote ({polls} polls)"
        );
        assert!(!fast.is_empty());
        assert_eq!(
            BTreeSet::from_iter(ids(&got)).len(),
            got.len(),
            "every event at most once"
        );
        assert_eq!(ids(&got), ids(&settled), "every event, in the feed's order");
        let made: BTreeSet<String> = fast
            .iter()
            .map(|(id, _)| id.clone())
            .chain(slow.iter().map(|s| s.id.clone()))
            .collect();
        assert_eq!(created(&got), made, "every ticket of both processes");
        // Where each creation is in the feed.
        let at = |id: &str| {
            got.iter()
                .position(|e| e["type"] == "ticket.created" && e["data"]["ticket"]["_id"] == id)
                .expect("in the feed")
        };
        let overtaken = slow
            .iter()
            .filter(|s| {
                fast.iter()
                    .any(|(f, done)| at(f) > at(&s.id) && *done < s.end)
            })
            .count();
        if dynamodb {
            assert!(
                overtaken > 0,
                "no fast ticket stamped after a slow one committed before it: the test did not race"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_in_two_processes_one_slow_a_polling_consumer_gets_every_event_once_on_dynamodb()
     {
        writers_in_two_processes_and_a_polling_consumer(true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_in_two_processes_one_slow_a_polling_consumer_gets_every_event_once_on_the_embedded_store()
     {
        writers_in_two_processes_and_a_polling_consumer(false).await;
    }
}
