//! The item-level interface both backends implement: get an item, query a key range of the
//! table or an index (ordered, limited), and commit a transaction of conditional writes.
//! The single-table model in this module's siblings is written once against it.

use super::schema::Index;
use serde_json::{Map, Value};

/// An item: attribute name → value (strings, integers, booleans, lists, maps).
pub type Item = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A sort key value in a query bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    S(String),
    N(i64),
}

/// Which sort keys a query covers, in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Range {
    All,
    /// Sort keys starting with this (ASCII) prefix.
    Prefix(String),
    /// Sort keys strictly greater.
    After(SortKey),
    /// Sort keys strictly smaller.
    Before(SortKey),
    /// Sort keys from the first to the second, both included (DynamoDB's `BETWEEN`); none
    /// when the first is above the second.
    Between(SortKey, SortKey),
}

impl SortKey {
    /// Whether `self` sorts after `other` (false across types, which a range never mixes).
    pub fn is_above(&self, other: &SortKey) -> bool {
        match (self, other) {
            (SortKey::S(a), SortKey::S(b)) => a > b,
            (SortKey::N(a), SortKey::N(b)) => a > b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub range: Range,
    pub limit: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPage {
    pub items: Vec<Item>,
    /// More items may follow the last one returned.
    pub more: bool,
}

/// A condition on the item a write targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Always,
    Exists,
    NotExists,
    Eq(&'static str, Value),
    AttrExists(&'static str),
    /// The numeric attribute is at least this.
    Ge(&'static str, i64),
    /// The numeric attribute is below this.
    Lt(&'static str, i64),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replace (or create) the whole item.
    Put {
        item: Item,
        cond: Cond,
    },
    /// Set, add to (numbers, missing counts as 0) and remove attributes of one item.
    Update {
        key: Key,
        set: Vec<(&'static str, Value)>,
        add: Vec<(&'static str, i64)>,
        remove: Vec<&'static str>,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    /// Only check a condition on an item the transaction does not change.
    Check {
        key: Key,
        cond: Cond,
    },
}

impl Write {
    pub fn key(&self) -> Option<Key> {
        match self {
            Write::Put { item, .. } => key_of(item),
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// The table key of an item, if it has one.
pub fn key_of(item: &Item) -> Option<Key> {
    let pk = item.get(super::schema::TABLE.pk)?.as_str()?;
    let sk = item.get(super::schema::TABLE.sk)?.as_str()?;
    Some(Key::new(pk, sk))
}

/// A transaction's writes, each tagged with what it is for, so a failed condition is told by
/// the write it guarded (`Store::commit` answers with tags), not by its place in the list.
#[derive(Debug, Clone)]
pub struct Tx<T> {
    writes: Vec<Write>,
    tags: Vec<T>,
}

impl<T: Copy> Tx<T> {
    pub fn new() -> Self {
        Self {
            writes: Vec::new(),
            tags: Vec::new(),
        }
    }

    pub fn push(&mut self, tag: T, write: Write) {
        self.writes.push(write);
        self.tags.push(tag);
    }

    pub fn into_parts(self) -> (Vec<Write>, Vec<T>) {
        (self.writes, self.tags)
    }
}

impl<T: Copy> Default for Tx<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why `Store::commit` wrote nothing.
#[derive(Debug)]
pub enum Refused<T> {
    /// The conditions of the writes with these tags did not hold.
    Conditions(Vec<T>),
    Store(StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The conditions of these writes (indexes into the transaction) did not hold; nothing
    /// was written.
    #[error("condition failed on write(s) {0:?}")]
    ConditionFailed(Vec<usize>),
    /// Another transaction was touching the same items; nothing was written; retry.
    #[error("transaction conflict")]
    Contention,
    /// The backend is down, throttling or too slow; nothing was written (or, for a timeout,
    /// it is unknown: the writes are idempotent under their conditions).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

/// Evaluates a condition against the current item (None: no such item). The embedded
/// backend uses this; the DynamoDB backend translates `Cond` into a ConditionExpression.
pub fn holds(cond: &Cond, item: Option<&Item>) -> bool {
    match cond {
        Cond::Always => true,
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::Eq(a, v) => item.and_then(|i| i.get(*a)) == Some(v),
        Cond::AttrExists(a) => item.is_some_and(|i| i.contains_key(*a)),
        Cond::Ge(a, n) => item
            .and_then(|i| i.get(*a))
            .and_then(Value::as_i64)
            .is_some_and(|v| v >= *n),
        Cond::Lt(a, n) => item
            .and_then(|i| i.get(*a))
            .and_then(Value::as_i64)
            .is_some_and(|v| v < *n),
        Cond::All(cs) => cs.iter().all(|c| holds(c, item)),
        Cond::Any(cs) => cs.iter().any(|c| holds(c, item)),
    }
}

/// Applies an update's set/add/remove to an item (creating it from `key` when absent), the
/// way DynamoDB does.
pub fn apply_update(
    current: Option<Item>,
    key: &Key,
    set: &[(&'static str, Value)],
    add: &[(&'static str, i64)],
    remove: &[&'static str],
) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| {
        let mut m = Item::new();
        m.insert(
            super::schema::TABLE.pk.into(),
            Value::String(key.pk.clone()),
        );
        m.insert(
            super::schema::TABLE.sk.into(),
            Value::String(key.sk.clone()),
        );
        m
    });
    for (a, v) in set {
        item.insert((*a).to_owned(), v.clone());
    }
    for (a, d) in add {
        let cur = match item.get(*a) {
            None => 0,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| StoreError::Internal(format!("ADD on non-numeric attribute {a}")))?,
        };
        let next = cur
            .checked_add(*d)
            .ok_or_else(|| StoreError::Internal(format!("ADD overflows attribute {a}")))?;
        item.insert((*a).to_owned(), Value::from(next));
    }
    for a in remove {
        item.remove(*a);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn conditions_evaluate_like_dynamodb() {
        let it = item(json!({"pk": "a", "sk": "b", "version": 3, "n": 5}));
        let table = [
            (Cond::Always, None, true),
            (Cond::Exists, None, false),
            (Cond::Exists, Some(&it), true),
            (Cond::NotExists, Some(&it), false),
            (Cond::Eq("version", json!(3)), Some(&it), true),
            (Cond::Eq("version", json!(4)), Some(&it), false),
            (Cond::Eq("version", json!(3)), None, false),
            (Cond::AttrExists("n"), Some(&it), true),
            (Cond::AttrExists("m"), Some(&it), false),
            (Cond::Ge("n", 5), Some(&it), true),
            (Cond::Ge("n", 6), Some(&it), false),
            (Cond::Ge("pk", 0), Some(&it), false),
            (Cond::Lt("n", 6), Some(&it), true),
            (Cond::Lt("n", 5), Some(&it), false),
            (Cond::Lt("n", 5), None, false),
            (
                Cond::Any(vec![Cond::NotExists, Cond::Lt("n", 6)]),
                Some(&it),
                true,
            ),
            (
                Cond::Any(vec![Cond::NotExists, Cond::Lt("n", 5)]),
                Some(&it),
                false,
            ),
            (
                Cond::Any(vec![Cond::NotExists, Cond::Lt("n", 5)]),
                None,
                true,
            ),
            (
                Cond::All(vec![Cond::Exists, Cond::Eq("n", json!(5))]),
                Some(&it),
                true,
            ),
            (
                Cond::All(vec![Cond::Exists, Cond::Eq("n", json!(6))]),
                Some(&it),
                false,
            ),
        ];
        for (c, i, want) in table {
            assert_eq!(holds(&c, i), want, "{c:?}");
        }
    }

    #[test]
    fn update_sets_adds_and_removes() {
        let k = Key::new("a", "b");
        let out = apply_update(
            Some(item(json!({"pk": "a", "sk": "b", "n": 1, "x": true}))),
            &k,
            &[("s", json!("v"))],
            &[("n", 2), ("m", -1)],
            &["x"],
        )
        .unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"pk": "a", "sk": "b", "n": 3, "m": -1, "s": "v"})
        );
        let fresh = apply_update(None, &k, &[], &[("n", 1)], &[]).unwrap();
        assert_eq!(Value::Object(fresh), json!({"pk": "a", "sk": "b", "n": 1}));
        assert!(apply_update(Some(item(json!({"n": "x"}))), &k, &[], &[("n", 1)], &[]).is_err());
    }
}
