//! Failed sign-ins per userId: the lock after five, the window, clearing, and counting
//! under concurrent failures.

use super::uid;
use crm_shared::model::Timestamp;
use crm_shared::store::{SigninFailures, Store};

on_both_backends!(
    five_failures_lock_the_user_id,
    a_failure_after_the_window_starts_a_new_one,
    clear_forgets_the_failures,
    a_stale_or_missing_read_still_counts,
    #[concurrent]
    concurrent_failures_are_all_counted,
);

const T0: i64 = 1_700_000_000_000;

async fn failures(store: &Store, id: &str) -> Option<SigninFailures> {
    store
        .get_signin_failures(&uid(id))
        .await
        .expect("get failures")
}

/// Records one failure the way sign-in does: with what it read beforehand.
async fn fail(store: &Store, id: &str, now: Timestamp) {
    let seen = failures(store, id).await;
    store
        .record_signin_failure(&uid(id), seen, now)
        .await
        .expect("record failure");
}

async fn five_failures_lock_the_user_id(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    assert_eq!(failures(&store, "ann").await, None);
    for i in 1..=4 {
        fail(&store, "ann", t0.plus_seconds(i)).await;
        let f = failures(&store, "ann").await.expect("recorded");
        assert_eq!(
            f,
            SigninFailures {
                count: i,
                window_start_ms: T0 + 1_000
            }
        );
        assert_eq!(f.locked_for(t0.plus_seconds(i)), None, "after {i}");
    }
    fail(&store, "ann", t0.plus_seconds(5)).await;
    let f = failures(&store, "ann").await.expect("recorded");
    assert_eq!(f.count, 5);
    // The window opened at the first failure (t0 + 1 s) and lasts 15 minutes.
    assert_eq!(f.locked_for(t0.plus_seconds(5)), Some(896));
    assert!(f.locked_for(t0.plus_seconds(900)).is_some());
    assert_eq!(f.locked_for(t0.plus_seconds(901)), None);
    // Another userId is not affected.
    assert_eq!(failures(&store, "bob").await, None);
}

async fn a_failure_after_the_window_starts_a_new_one(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    for _ in 0..5 {
        fail(&store, "ann", t0).await;
    }
    let locked = failures(&store, "ann").await.expect("recorded");
    assert_eq!(locked.locked_for(t0), Some(900));
    let later = t0.plus_seconds(SigninFailures::WINDOW_SECONDS);
    assert_eq!(locked.locked_for(later), None, "window over");
    fail(&store, "ann", later).await;
    assert_eq!(
        failures(&store, "ann").await,
        Some(SigninFailures {
            count: 1,
            window_start_ms: later.millis()
        })
    );
}

async fn clear_forgets_the_failures(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    for _ in 0..5 {
        fail(&store, "ann", t0).await;
    }
    fail(&store, "bob", t0).await;
    store
        .clear_signin_failures(&uid("ann"))
        .await
        .expect("clear");
    assert_eq!(failures(&store, "ann").await, None);
    assert_eq!(failures(&store, "bob").await.map(|f| f.count), Some(1));
    // Clearing nothing is fine.
    store
        .clear_signin_failures(&uid("carl"))
        .await
        .expect("clear nothing");
    fail(&store, "ann", t0).await;
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(1));
}

async fn a_stale_or_missing_read_still_counts(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    let id = uid("ann");
    store
        .record_signin_failure(&id, None, t0)
        .await
        .expect("first");
    // Claims there is nothing yet, though there is.
    store
        .record_signin_failure(&id, None, t0)
        .await
        .expect("missing read");
    // Claims an older window than the stored one.
    let stale = SigninFailures {
        count: 4,
        window_start_ms: T0 - 5,
    };
    store
        .record_signin_failure(&id, Some(stale), t0)
        .await
        .expect("stale read");
    assert_eq!(
        failures(&store, "ann").await,
        Some(SigninFailures {
            count: 3,
            window_start_ms: T0
        })
    );
}

async fn concurrent_failures_are_all_counted(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    let mut set = tokio::task::JoinSet::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(5));
    for _ in 0..5 {
        let store = store.clone();
        let b = barrier.clone();
        set.spawn(async move {
            b.wait().await;
            store.record_signin_failure(&uid("ann"), None, t0).await
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("task").expect("record failure");
    }
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(5));
}
