//! SPEC §2's brute-force limit across instances: two `crm serve --store dynamodb` processes
//! on one table of the emulator share the failure count of a userId. Five failures through
//! one process, and the other answers 429 with Retry-After, even to the right password; a
//! userId that does not exist is locked out the same way, with the same answers, so the
//! limit reveals nothing about which userIds exist.

use super::support::*;
use crm_tests::{Resp, ServerOptions};

fn dynamo_server(table: &str) -> crm_tests::Server {
    let mut env = crm_tests::emulator::env();
    env.push(("CRM_TABLE_NAME".into(), table.to_owned()));
    start(ServerOptions {
        env,
        dynamodb: true,
        ..Default::default()
    })
}

/// What a client can tell apart: status, code, message, Retry-After present.
fn shape(r: &Resp) -> (u16, String, String, bool) {
    (
        r.status,
        r.code().to_owned(),
        r.body["message"].as_str().unwrap_or_default().to_owned(),
        r.header("retry-after").is_some(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_on_one_process_lock_the_user_id_on_the_other() {
    let table = crm_tests::unique("crm-rel-bf");
    let a = dynamo_server(&table);
    let b = dynamo_server(&table);
    let (ca, cb) = (a.client(), b.client());
    ca.signup("victim", None).await.expect(201);
    // The account works through both processes.
    ca.signin("victim", PASSWORD).await.expect(200);
    cb.signin("victim", PASSWORD).await.expect(200);

    let mut shapes = Vec::new();
    for user in ["victim", "never-signed-up"] {
        let mut fails = Vec::new();
        for _ in 0..5 {
            let r = ca.signin(user, "Wrong-Password-1").await;
            r.expect(401);
            fails.push(shape(&r));
        }
        // The sixth try, through the other process: locked, even with the right password.
        let locked = cb.signin(user, PASSWORD).await;
        locked.expect(429);
        let retry: u64 = locked
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("429 without a numeric Retry-After: {locked:?}"));
        assert!(
            (1..=900).contains(&retry),
            "Retry-After {retry} outside the 15-minute window"
        );
        // And through the first one too.
        let again = ca.signin(user, PASSWORD).await;
        again.expect(429);
        assert_no_internals(&locked);
        shapes.push((fails, shape(&locked), shape(&again)));
    }
    // Same answers for the real userId and the one that does not exist.
    assert_eq!(
        shapes[0], shapes[1],
        "the lock-out tells existing userIds apart"
    );
    // Another userId is not affected.
    ca.signup("bystander", None).await.expect(201);
    cb.signin("bystander", PASSWORD).await.expect(200);
    figure(
        "brute force",
        "5 failures on process A, 429 with Retry-After on process B (and A), same for an unknown userId",
    );
}

/// Issue 11 item 1 across instances: 60 wrong passwords for one userId, half through each of
/// two processes on one table, all at once. At most five are checked (every other answer is
/// 429), and the right password afterwards is refused on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_across_two_processes_checks_at_most_five_passwords() {
    let table = crm_tests::unique("crm-rel-burst");
    let a = dynamo_server(&table);
    let b = dynamo_server(&table);
    let (ca, cb) = (a.client(), b.client());
    ca.signup("victim", None).await.expect(201);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        set.spawn(async move { c.signin("victim", "Wrong-Password-1").await.status });
    }
    let statuses = set.join_all().await;
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    ca.signin("victim", PASSWORD).await.expect(429);
    cb.signin("victim", PASSWORD).await.expect(429);
    figure(
        "brute-force burst",
        format!("60 concurrent wrong sign-ins over two processes: {checked} checked, the rest 429"),
    );
}
