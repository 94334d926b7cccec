//! Concurrency and conflicts over HTTP (SPEC §3): parallel creations spread and count
//! exactly; parallel conflicting updates answer 200 or 409, never a 5xx; two servers on one
//! DynamoDB table (two Lambda instances) keep the counts; and a change that keeps
//! conflicting ends as 503 + Retry-After (create) or 409 (update), with nothing written.

use super::desk::{HttpDesk, assert_error};
use crm_shared::store::{Cond, DynamoBackend, Store, Write};
use crm_tests::desk::staged_user_item;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const ENGINEERS: [&str; 4] = ["eng1", "eng2", "eng3", "eng4"];
const SECRET: &str = "tickets-suite-secret-0123456789-abcdefgh";

/// A store on the server's table, to stage items the API cannot make.
async fn table_store(table: &str) -> Store {
    let sdk = crm_tests::emulator::sdk_config().await;
    Store::dynamo(DynamoBackend::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table.to_owned(),
    ))
}

async fn staff(d: &HttpDesk) -> Vec<String> {
    for e in ENGINEERS {
        d.engineer(e).await;
    }
    let mut customers = Vec::new();
    for i in 0..5 {
        customers.push(d.customer(&format!("cust{i}")).await);
    }
    customers
}

/// Each engineer's OPEN assigned tickets as the engineer lists them equal its count.
async fn assert_engineer_listings(d: &HttpDesk, counts: &BTreeMap<String, i64>) {
    for e in ENGINEERS {
        let token = d.c.token(e).await;
        let (_, mine) = d
            .walk(&token, &format!("status=OPEN&assignee={e}"), 100)
            .await;
        assert_eq!(mine.len() as i64, counts[e], "{e}'s listing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_creates_spread_and_count_exactly() {
    let d = Arc::new(HttpDesk::new().await);
    let customers = staff(&d).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (d, token) = (d.clone(), customers[i % 5].clone());
        tasks.push(tokio::spawn(async move {
            d.post_ticket(
                &token,
                json!({"title": format!("t{i}"), "description": "d"}),
            )
            .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        r.expect(201);
        assert!(r.data()["assignee"].is_string(), "{}", r.text);
    }
    assert_eq!(d.all_tickets().await.len(), 40);
    let counts = d.assert_invariant().await;
    let per: Vec<i64> = ENGINEERS.iter().map(|e| counts[*e]).collect();
    assert_eq!(per, [10; 4], "spread evenly");
    assert_engineer_listings(&d, &counts).await;
}

/// Replays a ticket's history over HTTP: each change's `from` is the state before it.
async fn assert_history_replays(d: &HttpDesk, id: &str) {
    let (_, h) =
        d.c.walk(&d.admin, &format!("/tickets/{id}/history"), "", 100)
            .await;
    let mut state: BTreeMap<String, Value> = BTreeMap::new();
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e["version"], i + 1, "contiguous versions");
        for c in e["changes"].as_array().expect("changes") {
            let field = c["field"].as_str().expect("field").to_owned();
            let before = state.get(&field).cloned().unwrap_or(Value::Null);
            assert_eq!(before, c["from"], "entry {} of {id}: {field}", i + 1);
            state.insert(field, c["to"].clone());
        }
    }
    let r = d.get_ticket(&d.admin, id).await;
    r.expect(200);
    for (field, v) in &state {
        assert_eq!(&r.data()[field.as_str()], v, "{field} of {id}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_conflicting_updates_answer_200_or_409() {
    let d = Arc::new(HttpDesk::new().await);
    let customers = staff(&d).await;
    d.customer("admin2").await;
    d.set_user(
        "admin2",
        json!({"userType": "ADMIN", "userStatus": "APPROVED"}),
    )
    .await;
    let admins = [d.admin.clone(), d.c.token("admin2").await];
    let mut tickets = Vec::new();
    for i in 0..8 {
        let t = d.create(&customers[i % 5], &format!("t{i}")).await;
        tickets.push(t["_id"].as_str().expect("_id").to_owned());
    }
    let mut tasks = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as usize
    };
    for round in 0..12 {
        for t in &tickets {
            let body = if next(2) == 0 {
                {
                    let s = ["OPEN", "BLOCKED", "CLOSED"][next(3)];
                    json!({ "status": s })
                }
            } else {
                json!({"assignee": ENGINEERS[next(4)]})
            };
            let token = admins[(round + next(2)) % 2].clone();
            let (d, t) = (d.clone(), t.clone());
            tasks.push(tokio::spawn(
                async move { d.put_ticket(&token, &t, body).await },
            ));
        }
    }
    let (mut ok, mut conflicts) = (0, 0);
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            200 => ok += 1,
            409 => {
                assert_error(&r, 409, "CONFLICT");
                conflicts += 1;
            }
            s => panic!("only 200 or 409, got {s}: {}", r.text),
        }
    }
    assert!(ok > 0, "{ok} ok, {conflicts} conflicts");
    let counts = d.assert_invariant().await;
    assert_engineer_listings(&d, &counts).await;
    for t in &tickets {
        assert_history_replays(&d, t).await;
    }
}

/// A server on `table` of DynamoDB Local, with a JWT secret shared with the other servers on
/// the table.
fn shared_table_server(table: &str) -> crm_tests::Server {
    let mut env = crm_tests::emulator::env();
    env.push(("CRM_TABLE_NAME".into(), table.into()));
    env.push(("CRM_JWT_SECRET".into(), SECRET.into()));
    crm_tests::Server::start_with(crm_tests::ServerOptions {
        env,
        dynamodb: true,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_from_two_servers_on_one_table_count_exactly() {
    let table = crm_tests::unique("tickets-two");
    let a = Arc::new(HttpDesk::on(shared_table_server(&table)).await);
    let customers = staff(&a).await;
    let b = Arc::new(HttpDesk::on(shared_table_server(&table)).await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let d = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = customers[i % 5].clone();
        tasks.push(tokio::spawn(async move {
            d.post_ticket(
                &token,
                json!({"title": format!("t{i}"), "description": "d"}),
            )
            .await
        }));
    }
    let (mut created, mut unavailable) = (0, 0);
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            201 => created += 1,
            503 => {
                assert_error(&r, 503, "SERVICE_UNAVAILABLE");
                assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
                unavailable += 1;
            }
            s => panic!("201 or 503 only, got {s}: {}", r.text),
        }
    }
    assert!(created > 0);
    // A 503 may still have committed: the servers' SDK gives up on a slow attempt after 2 s
    // and retries, and the emulator (unlike DynamoDB, which honours the transaction's
    // ClientRequestToken) then runs both, so the retry meets its own ticket as a conflict.
    // Every ticket is whole either way, and the counts must match the tickets that exist.
    let present = a.all_tickets().await.len();
    assert!(
        (created..=created + unavailable).contains(&present),
        "{present} tickets for {created} created and {unavailable} unavailable"
    );
    assert_eq!(b.all_tickets().await.len(), present);
    let counts = a.assert_invariant().await;
    let per: Vec<i64> = ENGINEERS.iter().map(|e| counts[*e]).collect();
    assert_eq!(per.iter().sum::<i64>(), present as i64);
    let (min, max) = (per.iter().min(), per.iter().max());
    assert!(
        min.zip(max)
            .is_some_and(|(lo, hi)| hi - lo <= 1 + crm_shared::assignment::SKEW),
        "spread: {per:?}"
    );
}

/// An index entry at load 0 for "ghost", whose own item is approved engineer but not in the
/// index: every commit that picks it fails its condition.
async fn stage_ghost(table: &str) {
    table_store(table)
        .await
        .transact(vec![
            Write::Put {
                item: staged_user_item("ghost", "USER#ghost-decoy", true, 0),
                cond: Cond::Always,
            },
            Write::Put {
                item: staged_user_item("ghost", "USER#ghost", false, 0),
                cond: Cond::Always,
            },
        ])
        .await
        .expect("staging the decoy");
}

#[tokio::test]
async fn create_that_keeps_conflicting_answers_503_with_retry_after() {
    let table = crm_tests::unique("tickets-503");
    let d = HttpDesk::on(HttpDesk::dynamodb_server(&table)).await;
    let cust = d.customer("cust").await;
    // The only index entry names a user whose own item says approved engineer but is not in
    // the index: the commit's condition fails on it every time. (With a real engineer beside
    // it, the picks spread after the first collision and the creation goes to that one.)
    stage_ghost(&table).await;
    let r = d
        .post_ticket(&cust, json!({"title": "t", "description": "d"}))
        .await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(r.header("retry-after"), Some("1"), "{:?}", r.headers);
    assert!(d.all_tickets().await.is_empty(), "nothing written");
}

/// After a collision the process spreads its picks (assignment::Contention): a least-loaded
/// candidate whose commit always fails no longer blocks creation; another engineer under the
/// bound gets the ticket, and the counts stay exact.
#[tokio::test]
async fn a_pick_that_keeps_colliding_spreads_to_another_engineer() {
    let table = crm_tests::unique("tickets-spread");
    let d = HttpDesk::on(HttpDesk::dynamodb_server(&table)).await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    stage_ghost(&table).await;
    let r = d
        .post_ticket(&cust, json!({"title": "t", "description": "d"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["assignee"], "eng1", "{}", r.text);
    assert_eq!(d.count("eng1").await, 1);
}

#[tokio::test]
async fn update_that_keeps_conflicting_answers_409() {
    let table = crm_tests::unique("tickets-409");
    let d = HttpDesk::on(HttpDesk::dynamodb_server(&table)).await;
    let cust = d.customer("cust").await;
    d.engineer("eng1").await;
    let t = d.create(&cust, "t").await;
    let id = t["_id"].as_str().expect("_id").to_owned();
    // An approved engineer the load index lacks: never assignable when the write commits.
    table_store(&table)
        .await
        .transact(vec![Write::Put {
            item: staged_user_item("eng-x", "USER#eng-x", false, 0),
            cond: Cond::Always,
        }])
        .await
        .expect("staging the engineer");
    let r = d
        .put_ticket(&d.admin, &id, json!({"assignee": "eng-x"}))
        .await;
    assert_error(&r, 409, "CONFLICT");
    let r = d.get_ticket(&cust, &id).await;
    assert_eq!(r.data(), &t, "unchanged");
    let h = d.history(&cust, &id, "").await;
    assert_eq!(h.body["documentResultsCount"], 1, "no history entry");
    d.assert_invariant().await;
}
