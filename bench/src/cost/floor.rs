//! The floor of an operation: the capacity units it could not do with less, computed from
//! the items it must touch, as the table held them before and after it (a strongly
//! consistent scan on each side, not counted), by the rules DynamoDB prices with:
//!
//! - a read of one item: 1 unit per 4 KB strongly consistent, half that eventually
//!   consistent (an item that is not there still costs the minimum);
//! - a query: the items it returns summed, rounded up to 4 KB, at the same rates;
//! - a write of one item: 1 unit per KB of the larger of its sizes before and after, 2 in a
//!   transaction; each global secondary index entry the write puts or deletes costs the same
//!   again (a changed index key is a delete and a put), at the same rate, as DynamoDB Local
//!   prices them (`Measured` is its own report).

use aws_sdk_dynamodb::types::AttributeValue;
use crm_shared::store::schema::{Index, KeyType, TABLE};
use crm_shared::store::{Key, Range, SortKey};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// One item as a snapshot holds it: its size and its key attributes (table and indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    pub bytes: u64,
    /// `pk`, `sk`, `gsi1pk`... as strings (numbers in their decimal form).
    pub keys: BTreeMap<String, String>,
}

/// The table at one moment, by (pk, sk).
#[derive(Debug, Clone, Default)]
pub struct Snapshot(pub HashMap<(String, String), ItemInfo>);

impl Snapshot {
    pub fn from_items(items: &[HashMap<String, AttributeValue>]) -> Self {
        let mut m = HashMap::new();
        for item in items {
            let info = info(item);
            let pk = info.keys.get(TABLE.pk).cloned().unwrap_or_default();
            let sk = info.keys.get(TABLE.sk).cloned().unwrap_or_default();
            m.insert((pk, sk), info);
        }
        Self(m)
    }

    pub fn get(&self, k: &Key) -> Option<&ItemInfo> {
        self.0.get(&(k.pk.clone(), k.sk.clone()))
    }

    /// The items a query of one partition of the table or an index returns: those in
    /// `range`, in the index's order, at most `limit`.
    pub fn partition(&self, index: Index, pk: &str, range: &Range, limit: usize) -> Vec<&ItemInfo> {
        let (pka, ska) = index.key_attrs();
        let numeric = index.def().is_some_and(|d| d.sk_type == KeyType::N);
        let order = |x: &str, y: &str| {
            if numeric {
                let n = |s: &str| s.parse::<i128>().unwrap_or(0);
                n(x).cmp(&n(y))
            } else {
                x.cmp(y)
            }
        };
        let bound = |k: &SortKey| match k {
            SortKey::S(s) => s.clone(),
            SortKey::N(n) => n.to_string(),
        };
        let within = |s: &str| match range {
            Range::All => true,
            Range::Prefix(p) => s.starts_with(p.as_str()),
            Range::After(k) => order(s, &bound(k)).is_gt(),
            Range::Before(k) => order(s, &bound(k)).is_lt(),
            Range::Between(lo, hi) => order(s, &bound(lo)).is_ge() && order(s, &bound(hi)).is_le(),
        };
        let mut v: Vec<&ItemInfo> = self
            .0
            .values()
            .filter(|i| i.keys.get(pka).is_some_and(|p| p == pk))
            .filter(|i| i.keys.get(ska).is_some_and(|s| within(s)))
            .collect();
        v.sort_by(|a, b| order(&a.keys[ska], &b.keys[ska]));
        v.truncate(limit);
        v
    }
}

/// The key attributes the snapshot keeps (the table's and every index's).
fn key_attr_names() -> Vec<&'static str> {
    let mut v = vec![TABLE.pk, TABLE.sk];
    for g in TABLE.gsis {
        v.push(g.pk);
        v.push(g.sk);
    }
    v
}

fn info(item: &HashMap<String, AttributeValue>) -> ItemInfo {
    let bytes = item
        .iter()
        .map(|(k, v)| k.len() as u64 + value_size(v))
        .sum();
    let keys = key_attr_names()
        .into_iter()
        .filter_map(|name| {
            let v = match item.get(name)? {
                AttributeValue::S(s) => s.clone(),
                AttributeValue::N(n) => n.clone(),
                _ => return None,
            };
            Some((name.to_owned(), v))
        })
        .collect();
    ItemInfo { bytes, keys }
}

/// The size of one attribute value by DynamoDB's rules: strings and binaries their bytes,
/// a number about one byte per two significant digits plus one, a boolean or null one byte,
/// a list or map 3 bytes plus its elements (each with one byte of its own, a map's also its
/// name), a set its members.
pub fn value_size(v: &AttributeValue) -> u64 {
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<u64>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() as u64 + value_size(x))
                .sum::<u64>()
        }
        AttributeValue::Ss(ss) => ss.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(|b| b.as_ref().len() as u64).sum(),
        _ => 0,
    }
}

fn number_size(n: &str) -> u64 {
    let digits: String = n
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len() as u64;
    significant.div_ceil(2) + 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Strong,
    Eventual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Part of a TransactWriteItems: twice the units.
    Transaction,
    Standard,
}

/// Which written items a need stands for.
#[derive(Debug, Clone)]
pub enum Target {
    Key(Key),
    /// Every item the operation created in partition `pk` with a sort key starting with the
    /// prefix (history entries, comments, recipient markers: keys the bench cannot know).
    New {
        pk: String,
        sk_prefix: String,
    },
    /// Every item the operation created with exactly this sort key (an outbox event).
    NewSk(String),
    /// Every item the operation created in a partition whose key starts with the prefix (a
    /// change feed item: its shard is a hash of the event's id, its sort key the commit time).
    NewIn(String),
}

/// What an operation must do, as one line of its floor.
#[derive(Debug, Clone)]
pub enum Need {
    Get {
        what: String,
        key: Key,
        read: Read,
    },
    Query {
        what: String,
        index: Index,
        pk: String,
        range: Range,
        limit: usize,
        read: Read,
    },
    Write {
        what: String,
        target: Target,
        mode: Mode,
    },
    /// A write of an item under 1 KB that the operation makes and removes again, so neither
    /// snapshot holds it (a sign-in's reservation): `writes` writes, no index entry.
    Transient {
        what: String,
        writes: u32,
        mode: Mode,
    },
}

pub fn get(what: impl Into<String>, key: Key, read: Read) -> Need {
    Need::Get {
        what: what.into(),
        key,
        read,
    }
}

pub fn query(
    what: impl Into<String>,
    index: Index,
    pk: impl Into<String>,
    range: Range,
    limit: usize,
) -> Need {
    Need::Query {
        what: what.into(),
        index,
        pk: pk.into(),
        range,
        limit,
        // An index is only ever read eventually consistent; on the table it is enough where
        // the page is a view and not the ground of a write.
        read: Read::Eventual,
    }
}

/// A query of the table that must be strongly consistent: the change feed's shards (a page
/// may skip nothing committed before its visible end, docs/events.md).
pub fn query_strong(
    what: impl Into<String>,
    pk: impl Into<String>,
    range: Range,
    limit: usize,
) -> Need {
    Need::Query {
        what: what.into(),
        index: Index::Table,
        pk: pk.into(),
        range,
        limit,
        read: Read::Strong,
    }
}

pub fn write(what: impl Into<String>, key: Key, mode: Mode) -> Need {
    Need::Write {
        what: what.into(),
        target: Target::Key(key),
        mode,
    }
}

pub fn write_new(
    what: impl Into<String>,
    pk: impl Into<String>,
    sk_prefix: impl Into<String>,
    mode: Mode,
) -> Need {
    Need::Write {
        what: what.into(),
        target: Target::New {
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
        },
        mode,
    }
}

pub fn write_new_sk(what: impl Into<String>, sk: impl Into<String>, mode: Mode) -> Need {
    Need::Write {
        what: what.into(),
        target: Target::NewSk(sk.into()),
        mode,
    }
}

pub fn write_new_in(what: impl Into<String>, pk_prefix: impl Into<String>, mode: Mode) -> Need {
    Need::Write {
        what: what.into(),
        target: Target::NewIn(pk_prefix.into()),
        mode,
    }
}

pub fn transient(what: impl Into<String>, writes: u32, mode: Mode) -> Need {
    Need::Transient {
        what: what.into(),
        writes,
        mode,
    }
}

/// One line of a floor, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub read: f64,
    pub write: f64,
}

/// An operation's floor: units and the lines they come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Floor {
    pub read: f64,
    pub write: f64,
    pub lines: Vec<Line>,
    /// Needs that found no item (a mistake in a row's floor, reported, never hidden).
    pub problems: Vec<String>,
}

fn kb(bytes: u64) -> String {
    format!("{:.2} KB", bytes as f64 / 1024.0)
}

/// Read units of one item of `bytes` (the minimum when it is not there).
pub fn read_units(bytes: u64, r: Read) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    match r {
        Read::Strong => units,
        Read::Eventual => units / 2.0,
    }
}

/// Read units of a query returning `bytes` in all (nothing read, nothing charged, as
/// DynamoDB Local reports it).
pub fn query_units(bytes: u64, r: Read) -> f64 {
    let units = bytes.div_ceil(4096) as f64;
    match r {
        Read::Strong => units,
        Read::Eventual => units / 2.0,
    }
}

/// How many index entries a write puts or deletes: per global secondary index, one where the
/// item is in it before or after, two where its key there changed.
pub fn index_entries(before: Option<&ItemInfo>, after: Option<&ItemInfo>) -> u64 {
    let entry = |i: Option<&ItemInfo>, pk: &str, sk: &str| {
        let i = i?;
        Some((i.keys.get(pk)?.clone(), i.keys.get(sk)?.clone()))
    };
    TABLE
        .gsis
        .iter()
        .map(
            |g| match (entry(before, g.pk, g.sk), entry(after, g.pk, g.sk)) {
                (Some(b), Some(a)) if a != b => 2,
                (None, None) => 0,
                _ => 1,
            },
        )
        .sum()
}

/// Write units of one item written (`before` → `after`; None where it is absent): the table's
/// and its index entries', each per KB of the larger size.
pub fn write_units(before: Option<&ItemInfo>, after: Option<&ItemInfo>, m: Mode) -> (f64, u64) {
    let bytes = before
        .map(|i| i.bytes)
        .max(after.map(|i| i.bytes))
        .unwrap_or(0);
    let per = bytes.div_ceil(1024).max(1);
    let entries = index_entries(before, after);
    let rate = match m {
        Mode::Transaction => 2,
        Mode::Standard => 1,
    };
    ((rate * per * (1 + entries)) as f64, entries)
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Transaction => "in the transaction",
        Mode::Standard => "standard",
    }
}

fn read_name(r: Read) -> &'static str {
    match r {
        Read::Strong => "strongly consistent",
        Read::Eventual => "eventually consistent",
    }
}

fn units(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// The floor of `needs` given the table before and after the operation.
pub fn floor(needs: &[Need], before: &Snapshot, after: &Snapshot) -> Floor {
    let mut f = Floor::default();
    for n in needs {
        match n {
            Need::Get { what, key, read } => {
                let bytes = before.get(key).or(after.get(key)).map_or(0, |i| i.bytes);
                let r = read_units(bytes, *read);
                f.lines.push(Line {
                    text: format!(
                        "{what}: get, {} ({}) → {} RCU",
                        read_name(*read),
                        kb(bytes),
                        units(r)
                    ),
                    read: r,
                    write: 0.0,
                });
            }
            Need::Query {
                what,
                index,
                pk,
                range,
                limit,
                read,
            } => {
                let items = before.partition(*index, pk, range, *limit);
                let bytes: u64 = items.iter().map(|i| i.bytes).sum();
                let r = query_units(bytes, *read);
                f.lines.push(Line {
                    text: format!(
                        "{what}: query, {} ({} item{}, {}) → {} RCU",
                        read_name(*read),
                        items.len(),
                        if items.len() == 1 { "" } else { "s" },
                        kb(bytes),
                        units(r)
                    ),
                    read: r,
                    write: 0.0,
                });
            }
            Need::Write { what, target, mode } => {
                let keys: Vec<(String, String)> = match target {
                    Target::Key(k) => vec![(k.pk.clone(), k.sk.clone())],
                    Target::New { pk, sk_prefix } => {
                        let mut v: Vec<_> = after
                            .0
                            .keys()
                            .filter(|(p, s)| p == pk && s.starts_with(sk_prefix.as_str()))
                            .filter(|k| !before.0.contains_key(*k))
                            .cloned()
                            .collect();
                        v.sort();
                        v
                    }
                    Target::NewSk(sk) => {
                        let mut v: Vec<_> = after
                            .0
                            .keys()
                            .filter(|(_, s)| s == sk)
                            .filter(|k| !before.0.contains_key(*k))
                            .cloned()
                            .collect();
                        v.sort();
                        v
                    }
                    Target::NewIn(prefix) => {
                        let mut v: Vec<_> = after
                            .0
                            .keys()
                            .filter(|(p, _)| p.starts_with(prefix.as_str()))
                            .filter(|k| !before.0.contains_key(*k))
                            .cloned()
                            .collect();
                        v.sort();
                        v
                    }
                };
                if keys.is_empty() {
                    f.problems.push(format!("{what}: no such item was written"));
                }
                for k in keys {
                    let (b, a) = (before.0.get(&k), after.0.get(&k));
                    if b.is_none() && a.is_none() {
                        f.problems
                            .push(format!("{what}: {}/{} is in neither snapshot", k.0, k.1));
                        continue;
                    }
                    let (w, entries) = write_units(b, a, *mode);
                    let size = b.map(|i| i.bytes).max(a.map(|i| i.bytes)).unwrap_or(0);
                    let verb = match (b, a) {
                        (None, _) => "put",
                        (_, None) => "delete",
                        _ => "update",
                    };
                    let mut text = format!("{what}: {verb}, {} ({}", mode_name(*mode), kb(size));
                    if entries > 0 {
                        let _ = write!(
                            text,
                            ", {entries} index entr{}",
                            if entries == 1 { "y" } else { "ies" }
                        );
                    }
                    let _ = write!(text, ") → {} WCU", units(w));
                    f.lines.push(Line {
                        text,
                        read: 0.0,
                        write: w,
                    });
                }
            }
            Need::Transient { what, writes, mode } => {
                let rate = match mode {
                    Mode::Transaction => 2.0,
                    Mode::Standard => 1.0,
                };
                let w = rate * f64::from(*writes);
                f.lines.push(Line {
                    text: format!(
                        "{what}: {writes} write{}, {} (under 1 KB) → {} WCU",
                        if *writes == 1 { "" } else { "s" },
                        mode_name(*mode),
                        units(w)
                    ),
                    read: 0.0,
                    write: w,
                });
            }
        }
    }
    f.read = f.lines.iter().map(|l| l.read).sum();
    f.write = f.lines.iter().map(|l| l.write).sum();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(value_size(&s("abc")), 3);
        assert_eq!(value_size(&AttributeValue::N("12345".into())), 4);
        assert_eq!(value_size(&AttributeValue::N("-100".into())), 2);
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        assert_eq!(
            value_size(&AttributeValue::M(HashMap::from([("a".into(), s("xy"))]))),
            3 + 1 + 1 + 2
        );
        assert_eq!(
            value_size(&AttributeValue::L(vec![s("x"), s("yz")])),
            3 + 2 + 3
        );
        let i = info(&item(&[("pk", s("P")), ("sk", s("S")), ("name", s("Ann"))]));
        assert_eq!(i.bytes, 2 + 1 + 2 + 1 + 4 + 3);
    }

    #[test]
    fn units_round_up_per_item_and_query() {
        assert_eq!(read_units(0, Read::Strong), 1.0);
        assert_eq!(read_units(4096, Read::Eventual), 0.5);
        assert_eq!(read_units(4097, Read::Strong), 2.0);
        assert_eq!(query_units(0, Read::Eventual), 0.0);
        assert_eq!(query_units(5000, Read::Eventual), 1.0);
    }

    fn with_keys(bytes: u64, keys: &[(&str, &str)]) -> ItemInfo {
        ItemInfo {
            bytes,
            keys: keys
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn writes_pay_per_kb_per_index_entry_and_twice_in_a_transaction() {
        let open = with_keys(
            700,
            &[
                ("pk", "T"),
                ("sk", "T"),
                ("gsi1pk", "R"),
                ("gsi1sk", "1"),
                ("gsi3pk", "STATUS#OPEN"),
                ("gsi3sk", "1"),
            ],
        );
        let mut closed = open.clone();
        closed.keys.insert("gsi3pk".into(), "STATUS#CLOSED".into());
        // A creation: the table and two entries, 1 KB each, twice in a transaction.
        assert_eq!(write_units(None, Some(&open), Mode::Transaction), (6.0, 2));
        // A status change moves one entry (delete and put) and rewrites the other.
        assert_eq!(
            write_units(Some(&open), Some(&closed), Mode::Standard),
            (4.0, 3)
        );
        // A 1.5 KB delete from no index.
        let big = with_keys(1500, &[("pk", "E"), ("sk", "E")]);
        assert_eq!(write_units(Some(&big), None, Mode::Standard), (2.0, 0));
    }

    #[test]
    fn a_floor_adds_its_lines_and_reports_what_it_could_not_find() {
        let mut before = Snapshot::default();
        before.0.insert(
            ("U".into(), "P".into()),
            with_keys(
                300,
                &[
                    ("pk", "U"),
                    ("sk", "P"),
                    ("gsi1pk", "USERS"),
                    ("gsi1sk", "1"),
                ],
            ),
        );
        let mut after = before.clone();
        after.0.insert(
            ("T".into(), "V#1".into()),
            with_keys(100, &[("pk", "T"), ("sk", "V#1")]),
        );
        let f = floor(
            &[
                get("caller", Key::new("U", "P"), Read::Strong),
                query("users", Index::Gsi1, "USERS", Range::All, 100),
                write_new("history", "T", "V#", Mode::Transaction),
                write_new_sk("outbox", "OUTBOX", Mode::Transaction),
            ],
            &before,
            &after,
        );
        assert_eq!(f.read, 1.5);
        assert_eq!(f.write, 2.0);
        assert_eq!(
            f.problems,
            vec!["outbox: no such item was written".to_owned()]
        );
    }
}
