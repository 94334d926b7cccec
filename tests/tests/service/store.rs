//! The backend conformance suite: every case is written once as `async fn case(store: Store)`
//! and runs on both backends (`<area>::sqlite::case` and `<area>::dynamodb::case`, the latter
//! on a fresh table in DynamoDB Local, which must be running; `crm_tests::on_both_backends!`).

use crm_shared::model::{Email, Name, Timestamp, UserId, UserStatus, UserType};
use crm_shared::store::{Item, Key, Store, UserRecord};
use serde_json::Value;

mod accounts;
mod items;
mod query;
mod signin;
mod stats;
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
