//! Store stats: round trips counted per kind, and the sequential depth (calls that had to
//! wait for another). On tokio's current_thread runtime (the `#[tokio::test]` default), two
//! calls in one `join!` are in flight together, so they must share a level. Concurrency
//! claims are checked over many runs: one lucky schedule proves nothing.

use super::{key, uid, user};
use crm_shared::model::{UserStatus, UserType};
use crm_shared::store::schema::Index;
use crm_shared::store::{Cond, Cost, Query, Range, Stats, Store, UserFilter, Write};

crm_tests::on_both_backends!(
    a_get_costs_one_get_at_depth_one,
    two_joined_gets_share_one_level,
    a_get_then_a_write_is_two_levels,
    joined_query_and_get_then_write_is_two_levels,
    failed_calls_are_counted_too,
    model_operations_cost_what_they_should,
);

fn cost(gets: usize, queries: usize, writes: usize, depth: usize) -> Cost {
    Cost {
        gets,
        queries,
        writes,
        depth,
    }
}

/// How many times each concurrency claim is checked.
const RUNS: usize = 100;

/// Runs `once` RUNS times, each measured on its own; fails listing every deviating cost.
async fn every_run_costs<F, Fut>(stats: &Stats, want: Cost, once: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    stats.take();
    let mut off = Vec::new();
    for run in 0..RUNS {
        once().await;
        let got = stats.take();
        if got != want {
            off.push((run, got));
        }
    }
    assert!(
        off.is_empty(),
        "want {want:?} every run; {} of {RUNS} runs differed: {off:?}",
        off.len()
    );
}

fn touch(sk: &str) -> Write {
    Write::Update {
        key: key("STATS", sk),
        set: vec![],
        add: vec![("n", 1)],
        remove: vec![],
        cond: Cond::Always,
    }
}

async fn a_get_costs_one_get_at_depth_one(store: Store) {
    let (store, stats) = store.with_stats();
    assert_eq!(stats.take(), Cost::default());
    store.get(&key("STATS", "a")).await.expect("get");
    assert_eq!(stats.take(), cost(1, 0, 0, 1));
    // take() starts afresh.
    assert_eq!(stats.take(), Cost::default());
}

async fn two_joined_gets_share_one_level(store: Store) {
    let (store, stats) = store.with_stats();
    let (ka, kb) = (key("STATS", "a"), key("STATS", "b"));
    every_run_costs(&stats, cost(2, 0, 0, 1), || async {
        let (a, b) = tokio::join!(store.get(&ka), store.get(&kb));
        a.expect("get a");
        b.expect("get b");
    })
    .await;
}

async fn a_get_then_a_write_is_two_levels(store: Store) {
    let (store, stats) = store.with_stats();
    store.get(&key("STATS", "a")).await.expect("get");
    store.transact(vec![touch("a")]).await.expect("write");
    assert_eq!(stats.take(), cost(1, 0, 1, 2));
    // A multi-write transaction is still one write.
    store
        .transact(vec![touch("a"), touch("b"), touch("c")])
        .await
        .expect("write");
    assert_eq!(stats.take(), cost(0, 0, 1, 1));
}

async fn joined_query_and_get_then_write_is_two_levels(store: Store) {
    let (store, stats) = store.with_stats();
    let q = Query {
        index: Index::Gsi1,
        pk: "X".into(),
        range: Range::All,
        limit: 10,
    };
    let k = key("STATS", "a");
    every_run_costs(&stats, cost(2, 1, 1, 3), || async {
        let (p, g) = tokio::join!(store.query(&q), store.get(&k));
        p.expect("query");
        g.expect("get");
        store.transact(vec![touch("a")]).await.expect("write");
        store.get(&k).await.expect("get");
    })
    .await;
}

async fn failed_calls_are_counted_too(store: Store) {
    let (store, stats) = store.with_stats();
    let out = store
        .transact(vec![Write::Check {
            key: key("STATS", "none"),
            cond: Cond::Exists,
        }])
        .await;
    assert!(out.is_err());
    assert_eq!(stats.take(), cost(0, 0, 1, 1));
}

async fn model_operations_cost_what_they_should(store: Store) {
    let (store, stats) = store.with_stats();
    let eng = user(
        "eng",
        UserType::Engineer,
        UserStatus::Approved,
        1_700_000_000_000,
    );
    store.create_user(&eng).await.expect("create");
    assert_eq!(stats.take(), cost(0, 0, 1, 1), "create_user");
    store.get_user(&uid("eng")).await.expect("get");
    assert_eq!(stats.take(), cost(1, 0, 0, 1), "get_user");
    store.least_loaded_engineer().await.expect("least loaded");
    assert_eq!(stats.take(), cost(0, 1, 0, 1), "least_loaded_engineer");
    store
        .list_users(UserFilter::default(), None, 10)
        .await
        .expect("list");
    assert_eq!(stats.take(), cost(0, 1, 0, 1), "unfiltered listing page");
    // A type filter reads its three status partitions concurrently.
    let engineers = UserFilter {
        user_type: Some(UserType::Engineer),
        user_status: None,
    };
    every_run_costs(&stats, cost(0, 3, 0, 1), || async {
        store.list_users(engineers, None, 10).await.expect("list");
    })
    .await;
}
