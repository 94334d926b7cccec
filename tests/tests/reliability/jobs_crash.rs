//! `kill -9` of `crm serve` while a workload job is halfway (SPEC §3 "Workload": a job
//! survives a crash, is resumed, and is safe to run twice): an approval draining a backlog,
//! and a departure handing an engineer's tickets on. The kill point is made exact by
//! freezing the server (SIGSTOP) before each look at its store: the test kills it only once
//! a frozen look shows some but not all of the job done, so what the kill interrupted is
//! known. After a restart on the same data dir the sweep resumes the job; then every ticket
//! is where the rules put it, with exactly one `system` entry in its history, the counts
//! are exact and every change is mailed exactly once.

use super::support::*;
use crm_embedded::SqliteBackend;
use crm_shared::model::TicketId;
use crm_shared::store::Store;
use crm_tests::desk::{pending_jobs, settle};
use crm_tests::server::temp_dir;
use crm_tests::{Client, Server, ServerOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The server's embedded store, opened beside it (reads only, after the open).
fn store_of(dir: &Path) -> Store {
    Store::plugged(SqliteBackend::open(&dir.join("crm.sqlite3")).expect("the server's store"))
}

/// Each ticket's assignee as the store holds it now.
async fn assignees(store: &Store, ids: &[String]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let t = store
            .get_ticket(&TicketId::parse(id).expect("ticket id"))
            .await
            .expect("reading a ticket")
            .expect("the ticket exists");
        out.push(t.assignee.map(|a| a.as_str().to_owned()));
    }
    out
}

fn signal(server: &Server, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(server.pid().to_string())
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig} of the server");
}

/// Freezes the server, looks at its store with `progress` (how much of the job is done,
/// out of `total`) and lets it go on, until a frozen look shows at least `at_least` done;
/// then kills it (-9) while frozen. Returns what the job had done at the kill and how many
/// jobs were pending then. Fails when the job went from below `at_least` to finished
/// between two looks (the kill point would not be mid-job).
async fn kill_mid_job<F, Fut>(
    server: &mut Server,
    store: &Store,
    total: usize,
    at_least: usize,
    progress: F,
) -> (usize, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut looks = 0;
    loop {
        signal(server, "STOP");
        looks += 1;
        let done = progress().await;
        if done >= at_least {
            let jobs = pending_jobs(store).await;
            assert!(
                done < total,
                "the job finished between two looks ({looks} looks): no mid-job kill point"
            );
            assert!(jobs > 0, "{done} of {total} done but no job pending");
            let status = tokio::task::block_in_place(|| server.signal_and_wait("KILL"));
            assert!(!status.success(), "a killed server does not exit 0");
            return (done, jobs);
        }
        signal(server, "CONT");
        assert!(looks < 20_000, "the job never got to {at_least} of {total}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The `system` entries of a ticket's history (its assignments by the workload jobs).
async fn system_entries(c: &Client, admin: &str, id: &str) -> Vec<Value> {
    history(c, admin, id)
        .await
        .into_iter()
        .filter(|e| e["actor"] == "system")
        .collect()
}

async fn counts(c: &Client, admin: &str) -> BTreeMap<String, i64> {
    walk(c, admin, "/users")
        .await
        .iter()
        .filter_map(|u| {
            Some((
                u["userId"].as_str()?.to_owned(),
                u["ticketsWorkingOnCount"].as_i64()?,
            ))
        })
        .collect()
}

/// Creates `n` tickets as `token`, one after another; returns their ids (oldest first).
async fn tickets(c: &Client, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = c
            .post(
                "/tickets",
                token,
                json!({"title": format!("Backlog {i}"), "description": format!("Waiting {i}")}),
            )
            .await;
        r.expect(201);
        ids.push(id_of(r.data()));
    }
    ids
}

const BACKLOG: usize = 240;
const CAPACITY: usize = 80;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_backlog_drain_resumes_and_assigns_each_ticket_once() {
    let _heavy = heavy().await;
    let dir = temp_dir("crm-rel-backlog");
    let opts = ServerOptions {
        data_dir: Some(dir.clone()),
        env: vec![("CRM_ENGINEER_CAPACITY".into(), CAPACITY.to_string())],
        ..Default::default()
    };
    let mut server = start(opts.clone());
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("backlog-cust").await;
    // No engineer is approved yet: every ticket waits unassigned.
    let mut ids = tickets(&c, &cust, BACKLOG).await;
    ids.sort();
    let store = store_of(&dir);
    assert!(assignees(&store, &ids).await.iter().all(Option::is_none));
    // Three engineers approved, each approval a backlog job; 3 × capacity = the backlog,
    // so at the end each has exactly the capacity, whatever order the jobs ran in.
    let engs = engineers(&c, &admin, "backlog-eng", 3).await;
    let (s, i) = (&store, &ids);
    let (done, jobs) = kill_mid_job(&mut server, s, BACKLOG, BACKLOG / 3, move || async move {
        assignees(s, i).await.iter().filter(|a| a.is_some()).count()
    })
    .await;
    // Oldest first: what the kill left assigned is a prefix of the backlog.
    let at_kill = assignees(&store, &ids).await;
    let prefix = at_kill.iter().take_while(|a| a.is_some()).count();
    assert_eq!(
        prefix, done,
        "the backlog is drained oldest first: {at_kill:?}"
    );
    drop(store);
    drop(server);

    let server = start(opts);
    let c = server.client();
    let admin = c.admin().await;
    let store = store_of(&dir);
    settle(&store, Duration::from_secs(60)).await;
    let after = assignees(&store, &ids).await;
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for (id, a) in ids.iter().zip(&after) {
        let a = a
            .as_ref()
            .unwrap_or_else(|| panic!("{id} still unassigned after the resume"));
        assert!(engs.contains(a), "{id} assigned to {a}, not an engineer");
        *load.entry(a.clone()).or_default() += 1;
        let sys = system_entries(&c, &admin, id).await;
        assert_eq!(sys.len(), 1, "{id}: one assignment by system: {sys:?}");
        assert_eq!(
            sys[0]["changes"],
            json!([{"field": "assignee", "from": null, "to": a}]),
            "{id}"
        );
    }
    for (i, (id, a)) in ids.iter().zip(&at_kill).enumerate() {
        if a.is_some() {
            assert_eq!(a, &after[i], "{id} was moved again after the restart");
        }
    }
    let want: BTreeMap<String, usize> = engs.iter().map(|e| (e.clone(), CAPACITY)).collect();
    assert_eq!(load, want, "each engineer filled to the capacity, no more");
    let n = counts(&c, &admin).await;
    for e in &engs {
        assert_eq!(n[e], CAPACITY as i64, "ticketsWorkingOnCount of {e}");
    }
    assert_invariant(&c, &admin).await;
    let mails = assert_mailed_exactly_once(&c, &admin, &dir, Duration::from_secs(60)).await;
    assert_eq!(
        mails,
        2 * BACKLOG,
        "a creation and an assignment per ticket"
    );
    figure(
        "kill -9 mid backlog drain",
        format!(
            "{done} of {BACKLOG} assigned at the kill ({jobs} jobs pending), all {BACKLOG} after the resume, each once; {mails} mails, each once"
        ),
    );
    drop(store);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

const HANDED: usize = 180;
const KEPT: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_hand_on_resumes_and_moves_each_ticket_once() {
    let _heavy = heavy().await;
    let dir = temp_dir("crm-rel-handon");
    let opts = ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    };
    let mut server = start(opts.clone());
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("handon-cust").await;
    let leaver = engineers(&c, &admin, "handon-leaver", 1).await.remove(0);
    let mut ids = tickets(&c, &cust, HANDED + 2 * KEPT).await;
    ids.sort();
    // Some of the leaver's tickets are BLOCKED or CLOSED: they keep their assignee.
    let (kept, open) = ids.split_at(2 * KEPT);
    for (i, id) in kept.iter().enumerate() {
        let s = if i % 2 == 0 { "BLOCKED" } else { "CLOSED" };
        c.put(&format!("/tickets/{id}"), &admin, json!({"status": s}))
            .await
            .expect(200);
    }
    let takers = engineers(&c, &admin, "handon-taker", 2).await;
    let store = store_of(&dir);
    settle(&store, Duration::from_secs(60)).await;
    let leaver_json = Some(leaver.clone());
    assert!(
        assignees(&store, &ids)
            .await
            .iter()
            .all(|a| a == &leaver_json)
    );
    // The leaver is set PENDING: a departure job hands the OPEN tickets on.
    c.put(
        &format!("/users/{leaver}"),
        &admin,
        json!({"userStatus": "PENDING"}),
    )
    .await
    .expect(200);
    let (s, l) = (&store, &leaver_json);
    let (done, jobs) = kill_mid_job(&mut server, s, HANDED, HANDED / 3, move || async move {
        assignees(s, open).await.iter().filter(|a| *a != l).count()
    })
    .await;
    let at_kill = assignees(&store, open).await;
    drop(store);
    drop(server);

    let server = start(opts);
    let c = server.client();
    let admin = c.admin().await;
    let store = store_of(&dir);
    settle(&store, Duration::from_secs(60)).await;
    for (id, a) in kept.iter().zip(assignees(&store, kept).await) {
        assert_eq!(
            a, leaver_json,
            "{id}: BLOCKED and CLOSED keep their assignee"
        );
        assert!(system_entries(&c, &admin, id).await.is_empty(), "{id}");
    }
    let after = assignees(&store, open).await;
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (id, a)) in open.iter().zip(&after).enumerate() {
        let a = a.as_ref().expect("handed on, not left unassigned");
        assert!(takers.contains(a), "{id} assigned to {a}");
        *load.entry(a.clone()).or_default() += 1;
        if at_kill[i] != leaver_json {
            assert_eq!(
                at_kill[i].as_ref(),
                Some(a),
                "{id} moved again after the restart"
            );
        }
        let sys = system_entries(&c, &admin, id).await;
        assert_eq!(sys.len(), 1, "{id}: one hand-on by system: {sys:?}");
        assert_eq!(
            sys[0]["changes"],
            json!([{"field": "assignee", "from": leaver, "to": a}]),
            "{id}"
        );
    }
    // Each ticket to the least loaded, ties to the earliest approved: an even split.
    let want: BTreeMap<String, usize> = takers.iter().map(|e| (e.clone(), HANDED / 2)).collect();
    assert_eq!(load, want, "the leaver's OPEN tickets split by load");
    let n = counts(&c, &admin).await;
    assert_eq!(n[&leaver], 0, "the leaver keeps no OPEN ticket");
    assert_invariant(&c, &admin).await;
    let mails = assert_mailed_exactly_once(&c, &admin, &dir, Duration::from_secs(60)).await;
    figure(
        "kill -9 mid hand-on",
        format!(
            "{done} of {HANDED} handed on at the kill ({jobs} jobs pending), all after the resume, each once; {mails} mails, each once"
        ),
    );
    drop(store);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
