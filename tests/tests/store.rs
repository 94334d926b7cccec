//! The backend conformance suite: every case is written once as `async fn case(store: Store)`
//! and runs on both backends (`<area>::sqlite::case` and `<area>::dynamodb::case`, the latter
//! on a fresh table in DynamoDB Local, which must be running). Plus service-level tests
//! of the auth and users use cases on the embedded backend (`service::…`).

use crm_shared::model::{Email, Name, Timestamp, UserId, UserStatus, UserType};
use crm_shared::store::{Item, Key, Store, UserRecord};
use serde_json::Value;

/// Generates, for each named case, one test per backend: `sqlite::case` on a fresh SQLite
/// file and `dynamodb::case` on a fresh emulator table, on tokio's default current_thread
/// runtime. A case marked `#[concurrent]` runs on a multi-threaded runtime instead.
macro_rules! on_both_backends {
    (@test [concurrent] $case:ident, $store:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            super::$case($store).await;
        }
    };
    (@test [] $case:ident, $store:expr) => {
        #[tokio::test]
        async fn $case() {
            super::$case($store).await;
        }
    };
    ($($(#[$marker:ident])? $case:ident),+ $(,)?) => {
        mod sqlite {
            $(on_both_backends!(@test [$($marker)?] $case, crm_tests::emulator::sqlite_store());)+
        }

        mod dynamodb {
            $(on_both_backends!(@test [$($marker)?] $case, crm_tests::emulator::dynamo_store().await);)+
        }
    };
}

#[path = "store/accounts.rs"]
mod accounts;
#[path = "store/items.rs"]
mod items;
#[path = "store/query.rs"]
mod query;
#[path = "store/service.rs"]
mod service;
#[path = "store/signin.rs"]
mod signin;
#[path = "store/stats.rs"]
mod stats;
#[path = "store/users.rs"]
mod users;

/// An item from a JSON object literal.
#[track_caller]
pub fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

/// Reads an item, failing the test on a store error.
pub async fn read(store: &Store, k: &Key) -> Option<Item> {
    store
        .get(k)
        .await
        .unwrap_or_else(|e| panic!("get {k:?} on {}: {e}", store.backend_name()))
}

pub fn uid(s: &str) -> UserId {
    UserId::parse(s).expect("valid userId")
}

pub fn email(s: &str) -> Email {
    Email::parse(s).expect("valid email")
}

/// A user as of `created_ms`, with the email `<id>@example.com`.
pub fn user(id: &str, t: UserType, s: UserStatus, created_ms: i64) -> UserRecord {
    UserRecord::new(
        uid(id),
        Name::parse(&format!("Name of {id}")).expect("valid name"),
        email(&format!("{id}@example.com")),
        t,
        s,
        "$2b$04$not-a-real-hash".into(),
        Timestamp::from_millis(created_ms),
    )
}
