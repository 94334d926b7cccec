//! Sign-in attempts per userId: a password check is reserved atomically before bcrypt, five
//! per window; the window, release after a right password, clearing, and the limit under a
//! burst of concurrent attempts (SPEC §2, issue 11 item 1).

use super::uid;
use crm_shared::model::Timestamp;
use crm_shared::store::{Attempt, Cost, SigninFailures, Store};

crm_tests::on_both_backends!(
    five_reservations_lock_the_user_id,
    a_reservation_after_the_window_starts_a_new_one,
    a_release_gives_back_one_attempt_only,
    clear_forgets_the_failures,
    a_reservation_is_one_write_when_no_window_is_open,
    a_right_password_that_was_the_only_check_closes_its_window,
    #[concurrent]
    a_burst_of_concurrent_attempts_reserves_exactly_the_limit,
);

const T0: i64 = 1_700_000_000_000;

async fn failures(store: &Store, id: &str) -> Option<SigninFailures> {
    store
        .get_signin_failures(&uid(id))
        .await
        .expect("get failures")
}

async fn reserve(store: &Store, id: &str, now: Timestamp) -> Attempt {
    store
        .reserve_signin_attempt(&uid(id), now)
        .await
        .expect("reserve")
}

async fn five_reservations_lock_the_user_id(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    assert_eq!(failures(&store, "ann").await, None);
    for i in 1..=5 {
        assert_eq!(
            reserve(&store, "ann", t0.plus_seconds(i)).await,
            Attempt::Reserved,
            "attempt {i}"
        );
        let f = failures(&store, "ann").await.expect("recorded");
        assert_eq!(
            f,
            SigninFailures {
                count: i,
                window_start_ms: T0 + 1_000
            }
        );
    }
    // The window opened at the first attempt (t0 + 1 s) and lasts 15 minutes.
    assert_eq!(
        reserve(&store, "ann", t0.plus_seconds(5)).await,
        Attempt::Locked { retry_after: 896 }
    );
    assert_eq!(
        reserve(&store, "ann", t0.plus_seconds(900)).await,
        Attempt::Locked { retry_after: 1 }
    );
    // A refused attempt is not counted.
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(5));
    // Another userId is not affected.
    assert_eq!(reserve(&store, "bob", t0).await, Attempt::Reserved);
}

async fn a_reservation_after_the_window_starts_a_new_one(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    for _ in 0..5 {
        reserve(&store, "ann", t0).await;
    }
    assert!(matches!(
        reserve(&store, "ann", t0).await,
        Attempt::Locked { .. }
    ));
    let later = t0.plus_seconds(SigninFailures::WINDOW_SECONDS);
    assert_eq!(reserve(&store, "ann", later).await, Attempt::Reserved);
    assert_eq!(
        failures(&store, "ann").await,
        Some(SigninFailures {
            count: 1,
            window_start_ms: later.millis()
        })
    );
}

async fn a_release_gives_back_one_attempt_only(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    for _ in 0..5 {
        reserve(&store, "ann", t0).await;
    }
    store
        .release_signin_attempt(&uid("ann"), t0)
        .await
        .expect("release");
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(4));
    assert_eq!(reserve(&store, "ann", t0).await, Attempt::Reserved);
    assert!(matches!(
        reserve(&store, "ann", t0).await,
        Attempt::Locked { .. }
    ));
    // Releasing where nothing is reserved (or the window is over) changes nothing.
    store
        .release_signin_attempt(&uid("nobody"), t0)
        .await
        .expect("release nothing");
    assert_eq!(failures(&store, "nobody").await, None);
    let later = t0.plus_seconds(SigninFailures::WINDOW_SECONDS);
    store
        .release_signin_attempt(&uid("ann"), later)
        .await
        .expect("release after the window");
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(5));
}

async fn clear_forgets_the_failures(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    for _ in 0..5 {
        reserve(&store, "ann", t0).await;
    }
    reserve(&store, "bob", t0).await;
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
    assert_eq!(reserve(&store, "ann", t0).await, Attempt::Reserved);
    assert_eq!(failures(&store, "ann").await.map(|f| f.count), Some(1));
}

/// 48 attempts at once for one userId: exactly five are reserved, the rest are locked out
/// without a password check, and the count is exactly the limit.
async fn a_burst_of_concurrent_attempts_reserves_exactly_the_limit(store: Store) {
    let t0 = Timestamp::from_millis(T0);
    const N: usize = 48;
    let mut set = tokio::task::JoinSet::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    for _ in 0..N {
        let store = store.clone();
        let b = barrier.clone();
        set.spawn(async move {
            b.wait().await;
            store.reserve_signin_attempt(&uid("ann"), t0).await
        });
    }
    let mut reserved = 0;
    while let Some(r) = set.join_next().await {
        match r.expect("task").expect("reserve") {
            Attempt::Reserved => reserved += 1,
            Attempt::Locked { retry_after } => assert_eq!(retry_after, 900),
        }
    }
    assert_eq!(reserved, SigninFailures::LIMIT);
    assert_eq!(
        failures(&store, "ann").await.map(|f| f.count),
        Some(SigninFailures::LIMIT)
    );
}

/// The usual sign-in comes more than a window after the last one: its reservation is one
/// conditional put. Adding to an open window is a second write, and a locked userId costs
/// a read on top (to say how long).
async fn a_reservation_is_one_write_when_no_window_is_open(store: Store) {
    let (store, stats) = store.with_stats();
    let writes = |writes, gets, depth| Cost {
        gets,
        queries: 0,
        writes,
        depth,
    };
    let t0 = Timestamp::from_millis(T0);
    assert_eq!(reserve(&store, "ann", t0).await, Attempt::Reserved);
    assert_eq!(stats.take(), writes(1, 0, 1), "the first attempt");
    assert_eq!(
        reserve(&store, "ann", t0.plus_seconds(1)).await,
        Attempt::Reserved
    );
    assert_eq!(stats.take(), writes(2, 0, 2), "in the open window");
    for i in 2..5 {
        reserve(&store, "ann", t0.plus_seconds(i)).await;
    }
    stats.take();
    assert!(matches!(
        reserve(&store, "ann", t0.plus_seconds(6)).await,
        Attempt::Locked { .. }
    ));
    assert_eq!(stats.take(), writes(2, 1, 3), "locked");
    let later = t0.plus_seconds(SigninFailures::WINDOW_SECONDS + 1);
    assert_eq!(reserve(&store, "ann", later).await, Attempt::Reserved);
    assert_eq!(stats.take(), writes(1, 0, 1), "after the window");
}

/// A right password that was its window's only check deletes the window (one write), so a
/// user who signs in again minutes later opens a new one in one write, not two. With a
/// failure in the window the release takes one off and keeps the failure (two writes).
async fn a_right_password_that_was_the_only_check_closes_its_window(store: Store) {
    let (store, stats) = store.with_stats();
    let writes = |writes, depth| Cost {
        gets: 0,
        queries: 0,
        writes,
        depth,
    };
    let ann = uid("ann");
    let t0 = Timestamp::from_millis(T0);
    for minute in 0..3 {
        let t = t0.plus_seconds(60 * minute);
        assert_eq!(reserve(&store, "ann", t).await, Attempt::Reserved);
        store
            .release_signin_attempt(&ann, t)
            .await
            .expect("release");
        assert_eq!(
            stats.take(),
            writes(2, 2),
            "a sign-in {minute} min after the last: a put, then a delete"
        );
        assert_eq!(failures(&store, "ann").await, None, "minute {minute}");
        stats.take();
    }
    // A failure, then a right password: the failure stays counted.
    let t1 = t0.plus_seconds(600);
    reserve(&store, "ann", t1).await;
    assert_eq!(
        reserve(&store, "ann", t1.plus_seconds(1)).await,
        Attempt::Reserved
    );
    stats.take();
    store
        .release_signin_attempt(&ann, t1.plus_seconds(1))
        .await
        .expect("release");
    assert_eq!(
        stats.take(),
        writes(2, 2),
        "the delete is refused, then one is taken off"
    );
    assert_eq!(
        failures(&store, "ann").await,
        Some(SigninFailures {
            count: 1,
            window_start_ms: t1.millis()
        })
    );
}
