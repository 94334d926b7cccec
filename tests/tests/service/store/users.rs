//! The user model: uniqueness of userId and email under concurrency, optimistic updates, the
//! approved-admin counter, listings (order, filters, pagination) and engineers by load.

use super::{email, uid, user};
use crm_shared::model::{UserStatus, UserType};
use crm_shared::store::{
    CreateUserError, Store, StoreError, UpdateUserError, UserFilter, UserRecord, keys,
};
use std::sync::Arc;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use UserStatus::{Approved, Pending, Rejected};
use UserType::{Admin, Customer, Engineer};

crm_tests::on_both_backends!(
    create_then_get_round_trips_a_user,
    get_of_an_unknown_user_is_none,
    duplicate_user_id_is_taken_and_writes_nothing,
    duplicate_email_is_taken_case_insensitively_and_writes_nothing,
    #[concurrent]
    twenty_concurrent_creates_of_one_user_id_store_exactly_one,
    #[concurrent]
    concurrent_creates_of_one_email_store_exactly_one,
    update_stores_the_change_and_bumps_the_version,
    update_with_a_stale_version_conflicts_and_changes_nothing,
    #[concurrent]
    concurrent_updates_from_one_version_let_exactly_one_win,
    the_only_approved_admin_cannot_be_demoted,
    with_two_admins_one_demotion_works_and_the_second_is_refused,
    #[concurrent]
    concurrent_demotions_never_leave_no_approved_admin,
    admin_count_follows_promotions_and_ignores_unapproved_admins,
    list_users_orders_by_creation_then_user_id,
    every_filter_returns_exactly_the_matching_users,
    pagination_yields_every_user_once_in_order,
    least_loaded_engineer_is_the_approved_engineer_with_the_smallest_load_key,
    least_loaded_engineer_is_none_without_an_approved_engineer,
);

const T0: i64 = 1_700_000_000_000;

async fn create(store: &Store, u: &UserRecord) {
    store
        .create_user(u)
        .await
        .unwrap_or_else(|e| panic!("create {} on {}: {e}", u.user_id, store.backend_name()));
}

async fn fetch(store: &Store, id: &str) -> Option<UserRecord> {
    store.get_user(&uid(id)).await.expect("get_user")
}

async fn admins(store: &Store) -> i64 {
    store.approved_admin_count().await.expect("admin count")
}

async fn create_then_get_round_trips_a_user(store: Store) {
    let mut u = user("ann.o-k_1", Engineer, Approved, T0 + 123);
    u.tickets_working_on_count = 3;
    u.load_key = keys::load_key(3, T0 + 500);
    create(&store, &u).await;
    assert_eq!(fetch(&store, "ann.o-k_1").await, Some(u));
}

async fn get_of_an_unknown_user_is_none(store: Store) {
    create(&store, &user("ann", Customer, Approved, T0)).await;
    assert_eq!(fetch(&store, "bob").await, None);
    // userIds are case-sensitive.
    assert_eq!(fetch(&store, "Ann").await, None);
}

async fn duplicate_user_id_is_taken_and_writes_nothing(store: Store) {
    let ann = user("ann", Customer, Approved, T0);
    create(&store, &ann).await;
    let mut again = user("ann", Admin, Approved, T0 + 1);
    again.email = email("other@example.com");
    assert_eq!(
        store.create_user(&again).await,
        Err(CreateUserError::UserIdTaken)
    );
    assert_eq!(fetch(&store, "ann").await, Some(ann));
    // The refused create claimed neither its email nor an admin slot.
    assert_eq!(admins(&store).await, 0);
    let mut bob = user("bob", Customer, Approved, T0 + 2);
    bob.email = email("other@example.com");
    create(&store, &bob).await;
    // Both taken: the userId is reported.
    let mut both = user("ann", Customer, Approved, T0 + 3);
    both.email = bob.email.clone();
    assert_eq!(
        store.create_user(&both).await,
        Err(CreateUserError::UserIdTaken)
    );
}

async fn duplicate_email_is_taken_case_insensitively_and_writes_nothing(store: Store) {
    let mut ann = user("ann", Admin, Approved, T0);
    ann.email = email("Ann.Smith@Example.COM");
    assert_eq!(ann.email.as_str(), "ann.smith@example.com");
    create(&store, &ann).await;
    assert_eq!(admins(&store).await, 1);
    let mut bob = user("bob", Admin, Approved, T0 + 1);
    bob.email = email("ANN.SMITH@example.com");
    assert_eq!(
        store.create_user(&bob).await,
        Err(CreateUserError::EmailTaken)
    );
    assert_eq!(fetch(&store, "bob").await, None);
    assert_eq!(admins(&store).await, 1, "the refused admin was counted");
    // The userId the refused create wanted is still free.
    create(&store, &user("bob", Customer, Approved, T0 + 2)).await;
}

/// Runs `n` futures made by `make(i)` at once (released together by a barrier) on the
/// runtime's worker threads; returns their results in index order.
async fn all_at_once<T, F>(n: usize, make: impl Fn(usize) -> F) -> Vec<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let mut set = JoinSet::new();
    for i in 0..n {
        let b = barrier.clone();
        let f = make(i);
        set.spawn(async move {
            b.wait().await;
            (i, f.await)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, v) = r.expect("task");
        out[i] = Some(v);
    }
    out.into_iter()
        .map(|v| v.expect("every task reported"))
        .collect()
}

async fn twenty_concurrent_creates_of_one_user_id_store_exactly_one(store: Store) {
    let results = all_at_once(20, |i| {
        let store = store.clone();
        async move {
            let mut u = user("same", Customer, Approved, T0 + i as i64);
            u.email = email(&format!("same{i}@example.com"));
            store.create_user(&u).await
        }
    })
    .await;
    let winners: Vec<usize> = (0..20).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(
                r,
                Err(CreateUserError::UserIdTaken)
                    | Err(CreateUserError::Store(StoreError::Contention))
            ),
            "{results:?}"
        );
    }
    let w = winners[0];
    let stored = fetch(&store, "same").await.expect("stored");
    assert_eq!(stored.email.as_str(), format!("same{w}@example.com"));
    // Only the winner's email was claimed.
    for i in (0..20).filter(|&i| i != w) {
        let mut u = user(&format!("other{i}"), Customer, Approved, T0);
        u.email = email(&format!("same{i}@example.com"));
        create(&store, &u).await;
    }
}

async fn concurrent_creates_of_one_email_store_exactly_one(store: Store) {
    let results = all_at_once(20, |i| {
        let store = store.clone();
        async move {
            let mut u = user(&format!("u{i}"), Customer, Approved, T0);
            u.email = email(if i % 2 == 0 {
                "shared@example.com"
            } else {
                "SHARED@Example.com"
            });
            store.create_user(&u).await
        }
    })
    .await;
    let winners: Vec<usize> = (0..20).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(
                r,
                Err(CreateUserError::EmailTaken)
                    | Err(CreateUserError::Store(StoreError::Contention))
            ),
            "{results:?}"
        );
    }
    for i in 0..20 {
        assert_eq!(
            fetch(&store, &format!("u{i}")).await.is_some(),
            i == winners[0],
            "u{i}"
        );
    }
}

async fn update_stores_the_change_and_bumps_the_version(store: Store) {
    let ann = user("ann", Engineer, Pending, T0);
    create(&store, &ann).await;
    let mut after = ann.clone();
    after.user_status = Approved;
    after.name = crm_shared::model::Name::parse("Ann B").expect("name");
    after.updated_at = "2030-01-01T00:00:00.000Z".into();
    let stored = store
        .update_user(&ann, after.clone())
        .await
        .expect("update");
    assert_eq!(stored.version, 2);
    assert_eq!(
        UserRecord {
            version: 1,
            ..stored.clone()
        },
        after
    );
    assert_eq!(fetch(&store, "ann").await, Some(stored.clone()));
    let mut third = stored.clone();
    third.user_type = Customer;
    let stored3 = store.update_user(&stored, third).await.expect("update 2");
    assert_eq!(stored3.version, 3);
    assert_eq!(fetch(&store, "ann").await, Some(stored3));
}

async fn update_with_a_stale_version_conflicts_and_changes_nothing(store: Store) {
    let v1 = user("ann", Customer, Approved, T0);
    create(&store, &v1).await;
    let mut change = v1.clone();
    change.name = crm_shared::model::Name::parse("First").expect("name");
    let v2 = store.update_user(&v1, change).await.expect("first update");
    let mut stale = v1.clone();
    stale.name = crm_shared::model::Name::parse("Second").expect("name");
    stale.user_type = Engineer;
    assert_eq!(
        store.update_user(&v1, stale).await,
        Err(UpdateUserError::Conflict)
    );
    assert_eq!(fetch(&store, "ann").await, Some(v2));
    // A stale read of an admin's demotion is a conflict too, and does not move the count.
    let admin = user("root", Admin, Approved, T0);
    let other = user("root2", Admin, Approved, T0);
    create(&store, &admin).await;
    create(&store, &other).await;
    let mut renamed = admin.clone();
    renamed.name = crm_shared::model::Name::parse("Root").expect("name");
    store.update_user(&admin, renamed).await.expect("rename");
    let mut demoted = admin.clone();
    demoted.user_status = Pending;
    assert_eq!(
        store.update_user(&admin, demoted).await,
        Err(UpdateUserError::Conflict)
    );
    assert_eq!(admins(&store).await, 2);
}

async fn concurrent_updates_from_one_version_let_exactly_one_win(store: Store) {
    let v1 = user("ann", Customer, Approved, T0);
    create(&store, &v1).await;
    let results = all_at_once(10, |i| {
        let store = store.clone();
        let v1 = v1.clone();
        async move {
            let mut after = v1.clone();
            after.name = crm_shared::model::Name::parse(&format!("Name {i}")).expect("name");
            store.update_user(&v1, after).await
        }
    })
    .await;
    let winners: Vec<usize> = (0..10).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| r == &Err(UpdateUserError::Conflict)),
        "{results:?}"
    );
    let stored = fetch(&store, "ann").await.expect("stored");
    assert_eq!(stored.name.as_str(), format!("Name {}", winners[0]));
    assert_eq!(stored.version, 2);
}

async fn the_only_approved_admin_cannot_be_demoted(store: Store) {
    let root = user("root", Admin, Approved, T0);
    create(&store, &root).await;
    // Other users do not help: a pending admin, an approved engineer.
    create(&store, &user("pend", Admin, Pending, T0)).await;
    create(&store, &user("eng", Engineer, Approved, T0)).await;
    assert_eq!(admins(&store).await, 1);
    let changes: [(UserType, UserStatus); 4] = [
        (Admin, Pending),
        (Admin, Rejected),
        (Engineer, Approved),
        (Customer, Approved),
    ];
    for (t, s) in changes {
        let mut after = root.clone();
        after.user_type = t;
        after.user_status = s;
        assert_eq!(
            store.update_user(&root, after).await,
            Err(UpdateUserError::LastAdmin),
            "{t} {s}"
        );
        assert_eq!(fetch(&store, "root").await, Some(root.clone()), "{t} {s}");
        assert_eq!(admins(&store).await, 1);
    }
    // A change that keeps the admin approved is fine.
    let mut renamed = root.clone();
    renamed.name = crm_shared::model::Name::parse("Root").expect("name");
    store.update_user(&root, renamed).await.expect("rename");
    assert_eq!(admins(&store).await, 1);
}

async fn with_two_admins_one_demotion_works_and_the_second_is_refused(store: Store) {
    let a = user("a", Admin, Approved, T0);
    let b = user("b", Admin, Approved, T0 + 1);
    create(&store, &a).await;
    create(&store, &b).await;
    assert_eq!(admins(&store).await, 2);
    let mut a2 = a.clone();
    a2.user_status = Rejected;
    let a_stored = store.update_user(&a, a2).await.expect("first demotion");
    assert_eq!(admins(&store).await, 1);
    let mut b2 = b.clone();
    b2.user_type = Customer;
    assert_eq!(
        store.update_user(&b, b2).await,
        Err(UpdateUserError::LastAdmin)
    );
    assert_eq!(fetch(&store, "b").await, Some(b.clone()));
    assert_eq!(admins(&store).await, 1);
    // Re-approving a brings the count back, and then b may go.
    let mut a3 = a_stored.clone();
    a3.user_status = Approved;
    store.update_user(&a_stored, a3).await.expect("re-approve");
    assert_eq!(admins(&store).await, 2);
    let mut b3 = b.clone();
    b3.user_status = Pending;
    store.update_user(&b, b3).await.expect("second demotion");
    assert_eq!(admins(&store).await, 1);
}

async fn concurrent_demotions_never_leave_no_approved_admin(store: Store) {
    let all: Vec<UserRecord> = (0..4)
        .map(|i| user(&format!("admin{i}"), Admin, Approved, T0 + i))
        .collect();
    for u in &all {
        create(&store, u).await;
    }
    let results = all_at_once(all.len(), |i| {
        let store = store.clone();
        let before = all[i].clone();
        async move {
            let mut after = before.clone();
            after.user_status = Rejected;
            store.update_user(&before, after).await
        }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    // Three may go; the last refuses (a conflict would be retried by the service).
    assert!(
        results.iter().all(|r| matches!(
            r,
            Ok(_) | Err(UpdateUserError::LastAdmin) | Err(UpdateUserError::Conflict)
        )),
        "{results:?}"
    );
    assert!(ok <= 3, "{results:?}");
    let mut approved = 0;
    for u in &all {
        let stored = fetch(&store, u.user_id.as_str()).await.expect("stored");
        approved += i64::from(stored.is_approved_admin());
    }
    assert!(approved >= 1, "no approved admin left: {results:?}");
    assert_eq!(approved as usize, all.len() - ok);
    assert_eq!(
        admins(&store).await,
        approved,
        "counter agrees with the users"
    );
}

async fn admin_count_follows_promotions_and_ignores_unapproved_admins(store: Store) {
    assert_eq!(admins(&store).await, 0);
    let p = user("p", Admin, Pending, T0);
    let e = user("e", Engineer, Approved, T0);
    create(&store, &p).await;
    create(&store, &e).await;
    assert_eq!(admins(&store).await, 0);
    let mut p2 = p.clone();
    p2.user_status = Approved;
    store.update_user(&p, p2).await.expect("approve admin");
    assert_eq!(admins(&store).await, 1);
    let mut e2 = e.clone();
    e2.user_type = Admin;
    let e2 = store.update_user(&e, e2).await.expect("engineer to admin");
    assert_eq!(admins(&store).await, 2);
    let mut e3 = e2.clone();
    e3.user_status = Pending;
    store.update_user(&e2, e3).await.expect("demote");
    assert_eq!(admins(&store).await, 1);
}

/// Users of every type and status, created out of order, some in the same millisecond.
fn population() -> Vec<UserRecord> {
    let mut out = Vec::new();
    let mut n = 0i64;
    for t in UserType::ALL {
        for s in UserStatus::ALL {
            for k in 0..2 {
                n += 1;
                // Scrambled times with collisions (n*7 % 5 repeats).
                let ms = T0 + (n * 7) % 5;
                let id = format!(
                    "{}{}-{k}",
                    t.as_str().to_lowercase(),
                    s.as_str().to_lowercase()
                );
                out.push(user(&id, *t, *s, ms));
            }
        }
    }
    let mut upper = user("Zed", Customer, Approved, T0 + 2);
    upper.email = email("upper.zed@example.com");
    out.push(upper);
    out.push(user("zed", Customer, Approved, T0 + 2));
    out.push(user("early", Engineer, Approved, T0 - 1_000));
    out
}

fn in_listing_order(mut users: Vec<UserRecord>) -> Vec<String> {
    users.sort_by(|a, b| {
        (a.created_ms, a.user_id.as_str().as_bytes())
            .cmp(&(b.created_ms, b.user_id.as_str().as_bytes()))
    });
    users.into_iter().map(|u| u.user_id.to_string()).collect()
}

async fn create_population(store: &Store) -> Vec<UserRecord> {
    let pop = population();
    for u in &pop {
        create(store, u).await;
    }
    pop
}

fn filters() -> Vec<UserFilter> {
    let types = [None, Some(Admin), Some(Engineer), Some(Customer)];
    let statuses = [None, Some(Approved), Some(Pending), Some(Rejected)];
    let mut out = Vec::new();
    for t in types {
        for s in statuses {
            out.push(UserFilter {
                user_type: t,
                user_status: s,
            });
        }
    }
    out
}

fn matching(pop: &[UserRecord], f: UserFilter) -> Vec<String> {
    in_listing_order(
        pop.iter()
            .filter(|u| f.user_type.is_none_or(|t| t == u.user_type))
            .filter(|u| f.user_status.is_none_or(|s| s == u.user_status))
            .cloned()
            .collect(),
    )
}

fn ids(users: &[UserRecord]) -> Vec<String> {
    users.iter().map(|u| u.user_id.to_string()).collect()
}

async fn list_users_orders_by_creation_then_user_id(store: Store) {
    let pop = create_population(&store).await;
    let page = store
        .list_users(UserFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(page.next, None);
    assert_eq!(ids(&page.items), in_listing_order(pop.clone()));
    assert_eq!(page.items[0].user_id.as_str(), "early");
    // Same millisecond: by userId, byte order ("Zed" before "zed").
    let names = ids(&page.items);
    let pos = |id: &str| names.iter().position(|n| n == id).expect(id);
    assert!(pos("Zed") < pos("zed"));
    // Whole records come back.
    for u in &page.items {
        assert_eq!(Some(u), pop.iter().find(|p| p.user_id == u.user_id));
    }
}

async fn every_filter_returns_exactly_the_matching_users(store: Store) {
    let pop = create_population(&store).await;
    for f in filters() {
        let page = store.list_users(f, None, 1000).await.expect("list");
        assert_eq!(ids(&page.items), matching(&pop, f), "{f:?}");
        assert_eq!(page.next, None, "{f:?}");
    }
}

async fn pagination_yields_every_user_once_in_order(store: Store) {
    let pop = create_population(&store).await;
    for f in filters() {
        let want = matching(&pop, f);
        for limit in [1, 2, 3, 7] {
            let label = format!("{f:?} limit {limit}");
            let mut seen = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages <= 2 * pop.len() + 2, "{label}: does not end");
                let page = store
                    .list_users(f, after.clone(), limit)
                    .await
                    .expect("list");
                assert!(page.items.len() <= limit, "{label}: page too long");
                seen.extend(ids(&page.items));
                match page.next {
                    None => break,
                    Some(n) => {
                        assert_ne!(after.as_ref(), Some(&n), "{label}: cursor did not move");
                        after = Some(n);
                    }
                }
            }
            assert_eq!(seen, want, "{label}");
            // Single-partition listings have exact pages: no short or empty last page.
            let single = f.user_type.is_some() == f.user_status.is_some();
            if single {
                assert_eq!(pages, want.len().div_ceil(limit).max(1), "{label}: pages");
            }
        }
    }
}

async fn least_loaded_engineer_is_the_approved_engineer_with_the_smallest_load_key(store: Store) {
    let with_load = |id: &str, t, s, count: i64, approved_ms: i64| {
        let mut u = user(id, t, s, T0);
        u.tickets_working_on_count = count;
        u.load_key = keys::load_key(count, approved_ms);
        u
    };
    let busy = with_load("busy", Engineer, Approved, 2, T0);
    let late = with_load("late", Engineer, Approved, 0, T0 + 3_000);
    let early = with_load("early", Engineer, Approved, 0, T0 + 2_000);
    // Smaller load keys, but not assignable.
    let pending = with_load("pending", Engineer, Pending, 0, 1);
    let rejected = with_load("rejected", Engineer, Rejected, 0, 2);
    let customer = with_load("customer", Customer, Approved, 0, 3);
    let admin = with_load("admin", Admin, Approved, 0, 4);
    for u in [&busy, &late, &early, &pending, &rejected, &customer, &admin] {
        create(&store, u).await;
    }
    let least = || async { store.least_loaded_engineer().await.expect("least loaded") };
    assert_eq!(least().await, Some(early.clone()));
    // early takes two tickets: late is now least loaded.
    let mut e2 = early.clone();
    e2.tickets_working_on_count = 2;
    e2.load_key = keys::load_key(2, T0 + 2_000);
    let early = store.update_user(&early, e2).await.expect("update");
    assert_eq!(least().await.map(|u| u.user_id), Some(uid("late")));
    // late is rejected: it leaves the index; between busy and early (both 2) the earlier
    // approved wins.
    let mut l2 = late.clone();
    l2.user_status = Rejected;
    store.update_user(&late, l2).await.expect("reject");
    assert_eq!(least().await.map(|u| u.user_id), Some(uid("busy")));
    // A load key near 1e18 (100 000 open tickets) still orders numerically.
    let mut b2 = busy.clone();
    b2.load_key = keys::load_key(100_000, T0);
    store.update_user(&busy, b2).await.expect("update");
    assert_eq!(least().await, Some(early));
}

async fn least_loaded_engineer_is_none_without_an_approved_engineer(store: Store) {
    assert_eq!(store.least_loaded_engineer().await, Ok(None));
    for u in [
        user("pending", Engineer, Pending, T0),
        user("rejected", Engineer, Rejected, T0),
        user("customer", Customer, Approved, T0),
        user("admin", Admin, Approved, T0),
        user("padmin", Admin, Pending, T0),
    ] {
        create(&store, &u).await;
    }
    assert_eq!(store.least_loaded_engineer().await, Ok(None));
    // The one approved engineer turned customer: none again.
    let e = user("eng", Engineer, Approved, T0);
    create(&store, &e).await;
    assert_eq!(
        store
            .least_loaded_engineer()
            .await
            .map(|u| u.map(|u| u.user_id)),
        Ok(Some(uid("eng")))
    );
    let mut c = e.clone();
    c.user_type = Customer;
    store.update_user(&e, c).await.expect("to customer");
    assert_eq!(store.least_loaded_engineer().await, Ok(None));
}
