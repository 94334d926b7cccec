//! `kill -9` of `crm serve` in the middle of a parallel create/update load, then a restart on
//! the same data dir, at several kill points: every ticket answered 201 exists, every update
//! answered 200 is applied (its history entry is there and the ticket shows it or a later
//! change), the counter invariant holds, and every committed change (acknowledged or not) is
//! mailed exactly once after the restart (one mail.log line per history entry). Every
//! creation carries an `Idempotency-Key`; the ones the kill left unanswered are retried with
//! their keys after the restart, and no ticket exists twice (issue 16).

use super::support::*;
use crm_tests::server::temp_dir;
use crm_tests::{Client, ServerOptions};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CLIENTS: usize = 6;
const UPDATES_PER_TICKET: usize = 2;
const STATUSES: [&str; 3] = ["BLOCKED", "CLOSED", "OPEN"];

#[derive(Default)]
struct Acked {
    creates: Vec<String>,
    /// (ticket id, the description the update set).
    updates: Vec<(String, String)>,
    /// Answers other than 201/200 (there should be none).
    unexpected: Vec<String>,
    /// Creations without an answer: (token, key, body), retried after the restart.
    unanswered: Vec<(String, String, Value)>,
}

/// One client: creates a ticket, updates it twice (description and status), and again,
/// until the server stops answering.
async fn client(raw: Raw, token: String, k: usize, stop: Arc<AtomicBool>) -> Acked {
    let mut acked = Acked::default();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = json!({"title": format!("Crash c{k} n{n}"),
                          "description": format!("c{k}-n{n}-created"), "ticketPriority": 1 + n % 4});
        let key = format!("crash-c{k}-n{n}");
        let id = match raw
            .call_keyed("POST", "/tickets", Some(&token), Some(&body), Some(&key))
            .await
        {
            Outcome::Answered(r) if r.status == 201 => id_of(r.data()),
            Outcome::Answered(r) => {
                acked
                    .unexpected
                    .push(format!("create: {} {}", r.status, r.text));
                continue;
            }
            Outcome::Failed(_) => {
                acked.unanswered.push((token.clone(), key, body));
                break;
            }
        };
        acked.creates.push(id.clone());
        for u in 0..UPDATES_PER_TICKET {
            let desc = format!("c{k}-n{n}-u{u}");
            let body = json!({"description": desc, "status": STATUSES[(n + u) % 3]});
            match raw
                .call("PUT", &format!("/tickets/{id}"), Some(&token), Some(&body))
                .await
            {
                Outcome::Answered(r) if r.status == 200 => acked.updates.push((id.clone(), desc)),
                Outcome::Answered(r) => acked
                    .unexpected
                    .push(format!("update: {} {}", r.status, r.text)),
                Outcome::Failed(_) => return acked,
            }
        }
    }
    acked
}

struct Survived {
    creates: usize,
    updates: usize,
    unacked_tickets: usize,
    /// Unanswered creations retried with their key, and how many of them had committed.
    retried: usize,
    replayed: usize,
    mails: usize,
}

async fn kill_during_load(kill_after: Duration) -> Survived {
    let dir = temp_dir("crm-rel-crash");
    let opts = ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let mut server = start(opts.clone());
    let c = server.client();
    let admin = c.admin().await;
    engineers(&c, &admin, "crash-eng", 2).await;
    let mut tokens = Vec::new();
    for k in 0..CLIENTS {
        tokens.push(c.customer(&format!("crash-cust{k}")).await);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let raw = Raw::new(&server.api(), Duration::from_secs(20));
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(k, t)| tokio::spawn(client(raw.clone(), t, k, stop.clone())))
        .collect();
    tokio::time::sleep(kill_after).await;
    let status = tokio::task::block_in_place(|| server.signal_and_wait("KILL"));
    assert!(!status.success(), "a killed server does not exit 0");
    stop.store(true, Ordering::Relaxed);
    let mut acked = Acked::default();
    for t in tasks {
        let a = t.await.expect("client task");
        acked.creates.extend(a.creates);
        acked.updates.extend(a.updates);
        acked.unexpected.extend(a.unexpected);
        acked.unanswered.extend(a.unanswered);
    }
    drop(server);
    assert!(
        acked.unexpected.is_empty(),
        "answers other than 201/200 under load: {:?}",
        acked.unexpected
    );

    // Restart on the same data.
    let server = start(opts);
    let c: Client = server.client();
    let admin = c.admin().await;
    for id in &acked.creates {
        c.get(&format!("/tickets/{id}"), &admin).await.expect(200);
    }
    for (id, desc) in &acked.updates {
        let h = history(&c, &admin, id).await;
        let changed_description = |e: &Value| {
            e["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|ch| ch["field"] == "description")
                .map(|ch| ch["to"].clone())
        };
        let _at = h
            .iter()
            .position(|e| changed_description(e) == Some(json!(desc)))
            .unwrap_or_else(|| panic!("acknowledged update {desc} of {id} is lost: {h:?}"));
        let latest = h
            .iter()
            .rev()
            .find_map(changed_description)
            .expect("a description change");
        let now = c.get(&format!("/tickets/{id}"), &admin).await;
        now.expect(200);
        assert_eq!(now.data()["description"], latest, "{id}");
    }
    // The creations the kill left unanswered, retried with their keys: each ends as exactly
    // one ticket, whether or not it had committed before the kill.
    let tickets_before_retry = walk(&c, &admin, "/tickets").await.len();
    let raw = Raw::new(&server.api(), Duration::from_secs(20));
    let mut replayed = 0;
    for (token, key, body) in &acked.unanswered {
        match raw
            .call_keyed("POST", "/tickets", Some(token), Some(body), Some(key))
            .await
        {
            Outcome::Answered(r) if r.status == 201 => {
                if r.header("idempotent-replayed") == Some("true") {
                    replayed += 1;
                }
            }
            Outcome::Answered(r) => panic!("retry of {key}: {} {}", r.status, r.text),
            Outcome::Failed(e) => panic!("retry of {key}: {e}"),
        }
    }
    let all = walk(&c, &admin, "/tickets").await;
    let mut titles: Vec<String> = all
        .iter()
        .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    titles.sort();
    let n = titles.len();
    titles.dedup();
    assert_eq!(titles.len(), n, "a ticket exists twice after the retries");
    assert_eq!(
        n,
        tickets_before_retry + acked.unanswered.len() - replayed,
        "each unanswered creation is one ticket"
    );
    assert_invariant(&c, &admin).await;
    let tickets = tickets_before_retry;
    let mails = assert_mailed_exactly_once(&c, &admin, &dir, Duration::from_secs(45)).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Survived {
        creates: acked.creates.len(),
        updates: acked.updates.len(),
        unacked_tickets: tickets - acked.creates.len(),
        retried: acked.unanswered.len(),
        replayed,
        mails,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let _heavy = heavy().await;
    let mut points = vec![50, 300, 1000];
    if full() {
        points.extend([150, 600, 2000, 3500]);
    }
    let mut total = (0, 0, 0);
    for ms in &points {
        let s = kill_during_load(Duration::from_millis(*ms)).await;
        figure(
            &format!("kill -9 after {ms} ms"),
            format!(
                "{} creates and {} updates acknowledged, all present; {} more committed without an answer; {} unanswered creations retried with their keys ({} replayed), no duplicate; {} mails, each change once",
                s.creates, s.updates, s.unacked_tickets, s.retried, s.replayed, s.mails
            ),
        );
        total = (total.0 + s.creates, total.1 + s.updates, total.2 + s.mails);
    }
    figure("kill points survived", points.len());
    figure(
        "kill -9 totals",
        format!(
            "{} creates, {} updates acknowledged and kept; {} mails exactly once; bytes lost: 0",
            total.0, total.1, total.2
        ),
    );
}
