//! Query: ascending key-range reads of the table and of each GSI, the range forms, sparse
//! indexes, and an exact `limit` / `more`.

use super::item;
use crm_shared::store::schema::Index;
use crm_shared::store::{Cond, Item, Query, QueryPage, Range, SortKey, Store, Write};
use serde_json::{Value, json};

crm_tests::on_both_backends!(
    table_query_is_ascending_by_sort_key_in_byte_order,
    each_string_gsi_query_is_ascending_by_its_sort_key,
    gsi4_orders_numerically_not_lexicographically,
    prefix_after_and_before_bound_the_range,
    numeric_bounds_on_gsi4,
    sparse_indexes_hold_only_items_with_both_index_keys,
    leaving_an_index_by_update_or_put,
    limit_and_more_are_exact,
    paging_with_after_visits_every_item_once,
    empty_partition_is_an_empty_page,
);

async fn put_all(store: &Store, items: Vec<Item>) {
    for it in items {
        store
            .transact(vec![Write::Put {
                item: it,
                cond: Cond::Always,
            }])
            .await
            .expect("put");
    }
}

async fn run(store: &Store, index: Index, pk: &str, range: Range, limit: usize) -> QueryPage {
    let q = Query {
        index,
        pk: pk.into(),
        range,
        limit,
    };
    store
        .query(&q)
        .await
        .unwrap_or_else(|e| panic!("{q:?} on {}: {e}", store.backend_name()))
}

/// The values of `attr` in the page's items, in order.
fn col(page: &QueryPage, attr: &str) -> Vec<Value> {
    page.items
        .iter()
        .map(|i| i.get(attr).cloned().unwrap_or(Value::Null))
        .collect()
}

fn strs<S: AsRef<str>>(v: &[S]) -> Vec<Value> {
    v.iter().map(|s| json!(s.as_ref())).collect()
}

/// Rust's `str` order is byte order, which both backends are expected to use.
fn sorted(v: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

const NONE: [&str; 0] = [];

/// Sort keys in a scrambled order: upper before lower case, '#' and digits sorting as
/// bytes (c#10 before c#2), '~' (0x7e) and a two-byte character last.
const SKS: [&str; 11] = [
    "c#2", "b", "é", "A", "c#10", "~", "a", "c#1", "B", "z", "c#0",
];

async fn table_query_is_ascending_by_sort_key_in_byte_order(store: Store) {
    let mut items: Vec<Item> = SKS
        .iter()
        .map(|sk| item(json!({"pk": "T", "sk": sk, "v": sk})))
        .collect();
    items.push(item(json!({"pk": "T2", "sk": "a"})));
    items.push(item(json!({"pk": "T#", "sk": "a"})));
    put_all(&store, items).await;
    let page = run(&store, Index::Table, "T", Range::All, 100).await;
    assert_eq!(col(&page, "sk"), strs(&sorted(&SKS)));
    assert_eq!(
        col(&page, "sk"),
        strs(&[
            "A", "B", "a", "b", "c#0", "c#1", "c#10", "c#2", "z", "~", "é"
        ])
    );
    assert!(!page.more);
}

async fn each_string_gsi_query_is_ascending_by_its_sort_key(store: Store) {
    for (n, idx) in [(1, Index::Gsi1), (2, Index::Gsi2), (3, Index::Gsi3)] {
        let (ipk, isk) = idx.key_attrs();
        assert_eq!((ipk, isk), (&*format!("gsi{n}pk"), &*format!("gsi{n}sk")));
        let mut items = Vec::new();
        for (i, sk) in SKS.iter().enumerate() {
            // Table keys in another order than the index keys.
            items.push(item(json!({
                "pk": format!("G{n}#{}", SKS.len() - i),
                "sk": "ITEM",
                ipk: "IDX",
                isk: sk,
            })));
        }
        items.push(item(
            json!({"pk": format!("G{n}#other"), "sk": "ITEM", ipk: "IDX2", isk: "a"}),
        ));
        put_all(&store, items).await;
        let page = run(&store, idx, "IDX", Range::All, 100).await;
        assert_eq!(col(&page, isk), strs(&sorted(&SKS)), "{idx:?}");
        assert!(!page.more);
        // Index queries return whole items (projection ALL).
        assert!(
            page.items
                .iter()
                .all(|i| i.get("sk") == Some(&json!("ITEM")))
        );
    }
}

const LOADS: [i64; 10] = [
    100,
    9,
    10,
    -5,
    0,
    1_000_000_000_000_000_000,
    2_000_001_700_000_000_000,
    1_700_000_000_000,
    10_001_700_000_000_000,
    -1_000_000_000_000_000_000,
];

async fn gsi4_orders_numerically_not_lexicographically(store: Store) {
    let items = LOADS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            item(json!({"pk": format!("E#{i}"), "sk": "ITEM", "gsi4pk": "ENG", "gsi4sk": n}))
        })
        .collect();
    put_all(&store, items).await;
    let page = run(&store, Index::Gsi4, "ENG", Range::All, 100).await;
    let mut want = LOADS.to_vec();
    want.sort();
    assert_eq!(
        col(&page, "gsi4sk"),
        want.iter().map(|n| json!(n)).collect::<Vec<_>>()
    );
    assert_eq!(col(&page, "gsi4sk")[2..5], [json!(0), json!(9), json!(10)]);
}

async fn numeric_bounds_on_gsi4(store: Store) {
    let items = [9, 10, 100, 1_000_000_000_000_000_000_i64]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            item(json!({"pk": format!("N#{i}"), "sk": "ITEM", "gsi4pk": "ENG", "gsi4sk": n}))
        })
        .collect();
    put_all(&store, items).await;
    let after = run(&store, Index::Gsi4, "ENG", Range::After(SortKey::N(9)), 10).await;
    assert_eq!(
        col(&after, "gsi4sk"),
        [json!(10), json!(100), json!(1_000_000_000_000_000_000_i64)]
    );
    let before = run(
        &store,
        Index::Gsi4,
        "ENG",
        Range::Before(SortKey::N(100)),
        10,
    )
    .await;
    assert_eq!(col(&before, "gsi4sk"), [json!(9), json!(10)]);
    let after_big = run(
        &store,
        Index::Gsi4,
        "ENG",
        Range::After(SortKey::N(999_999_999_999_999_999)),
        10,
    )
    .await;
    assert_eq!(
        col(&after_big, "gsi4sk"),
        [json!(1_000_000_000_000_000_000_i64)]
    );
}

async fn prefix_after_and_before_bound_the_range(store: Store) {
    let mut items = Vec::new();
    for sk in SKS {
        items.push(item(json!({"pk": "R", "sk": sk})));
        items.push(item(
            json!({"pk": format!("R#{sk}"), "sk": "X", "gsi1pk": "R", "gsi1sk": sk}),
        ));
    }
    put_all(&store, items).await;
    for idx in [Index::Table, Index::Gsi1] {
        let (_, skc) = idx.key_attrs();
        let q = |r: Range| run(&store, idx, "R", r, 100);
        let p = q(Range::Prefix("c#".into())).await;
        assert_eq!(
            col(&p, skc),
            strs(&["c#0", "c#1", "c#10", "c#2"]),
            "{idx:?}"
        );
        let p = q(Range::Prefix("c#1".into())).await;
        assert_eq!(col(&p, skc), strs(&["c#1", "c#10"]), "{idx:?}");
        let p = q(Range::Prefix("c#10".into())).await;
        assert_eq!(col(&p, skc), strs(&["c#10"]), "{idx:?}");
        let p = q(Range::Prefix("d".into())).await;
        assert_eq!(col(&p, skc), strs(&NONE), "{idx:?}");
        let p = q(Range::Prefix("~".into())).await;
        assert_eq!(col(&p, skc), strs(&["~"]), "{idx:?}");
        let p = q(Range::After(SortKey::S("b".into()))).await;
        assert_eq!(
            col(&p, skc),
            strs(&["c#0", "c#1", "c#10", "c#2", "z", "~", "é"]),
            "{idx:?}"
        );
        let p = q(Range::After(SortKey::S("c#1".into()))).await;
        assert_eq!(
            col(&p, skc),
            strs(&["c#10", "c#2", "z", "~", "é"]),
            "{idx:?}"
        );
        // A bound that is no stored key.
        let p = q(Range::After(SortKey::S("c#1~".into()))).await;
        assert_eq!(col(&p, skc), strs(&["c#2", "z", "~", "é"]), "{idx:?}");
        let p = q(Range::Before(SortKey::S("b".into()))).await;
        assert_eq!(col(&p, skc), strs(&["A", "B", "a"]), "{idx:?}");
        let p = q(Range::Before(SortKey::S("A".into()))).await;
        assert_eq!(col(&p, skc), strs(&NONE), "{idx:?}");
        let p = q(Range::After(SortKey::S("é".into()))).await;
        assert_eq!(col(&p, skc), strs(&NONE), "{idx:?}");
    }
}

async fn sparse_indexes_hold_only_items_with_both_index_keys(store: Store) {
    put_all(
        &store,
        vec![
            item(json!({"pk": "S#full", "sk": "X",
                "gsi1pk": "P", "gsi1sk": "1", "gsi2pk": "P", "gsi2sk": "1",
                "gsi3pk": "P", "gsi3sk": "1", "gsi4pk": "P", "gsi4sk": 1})),
            item(json!({"pk": "S#none", "sk": "X", "other": "P"})),
            item(json!({"pk": "S#pk-only", "sk": "X",
                "gsi1pk": "P", "gsi2pk": "P", "gsi3pk": "P", "gsi4pk": "P"})),
            item(json!({"pk": "S#sk-only", "sk": "X",
                "gsi1sk": "2", "gsi2sk": "2", "gsi3sk": "2", "gsi4sk": 2})),
            item(json!({"pk": "S#gsi1", "sk": "X", "gsi1pk": "P", "gsi1sk": "3"})),
            // The user shape: gsi4sk kept on every user, gsi4pk only on approved engineers.
            item(json!({"pk": "S#gsi4sk", "sk": "X", "gsi4sk": 0})),
        ],
    )
    .await;
    let pks = |p: &QueryPage| col(p, "pk");
    let all = |idx| run(&store, idx, "P", Range::All, 100);
    assert_eq!(pks(&all(Index::Gsi1).await), strs(&["S#full", "S#gsi1"]));
    assert_eq!(pks(&all(Index::Gsi2).await), strs(&["S#full"]));
    assert_eq!(pks(&all(Index::Gsi3).await), strs(&["S#full"]));
    assert_eq!(pks(&all(Index::Gsi4).await), strs(&["S#full"]));
}

async fn leaving_an_index_by_update_or_put(store: Store) {
    put_all(
        &store,
        vec![
            item(json!({"pk": "L#a", "sk": "X", "gsi4pk": "ENG", "gsi4sk": 1})),
            item(json!({"pk": "L#b", "sk": "X", "gsi4pk": "ENG", "gsi4sk": 2})),
            item(json!({"pk": "L#c", "sk": "X", "gsi4pk": "ENG", "gsi4sk": 3})),
        ],
    )
    .await;
    store
        .transact(vec![
            Write::Update {
                key: crm_shared::store::Key::new("L#a", "X"),
                set: vec![],
                add: vec![],
                remove: vec!["gsi4pk"],
                cond: Cond::Exists,
            },
            Write::Put {
                item: item(json!({"pk": "L#b", "sk": "X", "gsi4sk": 2})),
                cond: Cond::Exists,
            },
            Write::Update {
                key: crm_shared::store::Key::new("L#c", "X"),
                set: vec![],
                add: vec![("gsi4sk", 10)],
                remove: vec![],
                cond: Cond::Exists,
            },
        ])
        .await
        .expect("transaction");
    let p = run(&store, Index::Gsi4, "ENG", Range::All, 100).await;
    assert_eq!(col(&p, "pk"), strs(&["L#c"]));
    assert_eq!(col(&p, "gsi4sk"), [json!(13)]);
    // And back in, by a set.
    store
        .transact(vec![Write::Update {
            key: crm_shared::store::Key::new("L#a", "X"),
            set: vec![("gsi4pk", json!("ENG"))],
            add: vec![],
            remove: vec![],
            cond: Cond::Exists,
        }])
        .await
        .expect("update");
    let p = run(&store, Index::Gsi4, "ENG", Range::All, 100).await;
    assert_eq!(col(&p, "pk"), strs(&["L#a", "L#c"]));
}

async fn limit_and_more_are_exact(store: Store) {
    let s = |v: &str| SortKey::S(v.into());
    let mut items = Vec::new();
    for i in 0..5 {
        items.push(item(json!({"pk": "M", "sk": format!("a#{i}")})));
        items.push(item(json!({"pk": format!("M#{i}"), "sk": "X",
            "gsi2pk": "M", "gsi2sk": format!("a#{i}"),
            "gsi4pk": "M", "gsi4sk": i})));
    }
    // Beyond the prefix "a#", in the same partition.
    items.push(item(json!({"pk": "M", "sk": "b"})));
    items.push(item(
        json!({"pk": "M#b", "sk": "X", "gsi2pk": "M", "gsi2sk": "b"}),
    ));
    put_all(&store, items).await;
    for idx in [Index::Table, Index::Gsi2] {
        let (_, skc) = idx.key_attrs();
        let q = |r: Range, l| run(&store, idx, "M", r, l);
        // (range, limit, items returned, more)
        let table: Vec<(Range, usize, usize, bool)> = vec![
            (Range::All, 0, 0, true),
            (Range::All, 1, 1, true),
            (Range::All, 5, 5, true),
            (Range::All, 6, 6, false),
            (Range::All, 7, 6, false),
            (Range::Prefix("a#".into()), 4, 4, true),
            (Range::Prefix("a#".into()), 5, 5, false),
            (Range::Prefix("a#".into()), 6, 5, false),
            (Range::Prefix("zz".into()), 1, 0, false),
            (Range::After(SortKey::S("a#2".into())), 2, 2, true),
            (Range::After(SortKey::S("a#2".into())), 3, 3, false),
            (Range::After(SortKey::S("b".into())), 3, 0, false),
            (Range::Before(SortKey::S("a#3".into())), 2, 2, true),
            (Range::Before(SortKey::S("a#3".into())), 3, 3, false),
            (Range::Before(SortKey::S("a#0".into())), 3, 0, false),
            // Both bounds included (DynamoDB's BETWEEN), out of order: empty.
            (Range::Between(s("a#1"), s("a#3")), 3, 3, false),
            (Range::Between(s("a#1"), s("a#3")), 2, 2, true),
            (Range::Between(s("a#1!"), s("a#3")), 3, 2, false),
            (Range::Between(s("a#4"), s("c")), 3, 2, false),
            (Range::Between(s("a#3"), s("a#1")), 3, 0, false),
            (Range::Between(s("c"), s("d")), 3, 0, false),
        ];
        for (range, limit, n, more) in table {
            let label = format!("{idx:?} {range:?} limit {limit}");
            let p = q(range, limit).await;
            assert_eq!(p.items.len(), n, "{label}");
            assert_eq!(p.more, more, "{label}: more");
            // Always the first items of the range.
            let vals = col(&p, skc);
            let mut s = vals.clone();
            s.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            assert_eq!(vals, s, "{label}: order");
        }
    }
    let numeric: Vec<(Range, usize, usize, bool)> = vec![
        (Range::All, 4, 4, true),
        (Range::All, 5, 5, false),
        (Range::After(SortKey::N(2)), 2, 2, false),
        (Range::After(SortKey::N(2)), 1, 1, true),
        (Range::Before(SortKey::N(2)), 2, 2, false),
        (Range::Between(SortKey::N(1), SortKey::N(3)), 5, 3, false),
        (Range::Between(SortKey::N(3), SortKey::N(1)), 5, 0, false),
    ];
    for (range, limit, n, more) in numeric {
        let label = format!("Gsi4 {range:?} limit {limit}");
        let p = run(&store, Index::Gsi4, "M", range, limit).await;
        assert_eq!(p.items.len(), n, "{label}");
        assert_eq!(p.more, more, "{label}: more");
    }
}

async fn paging_with_after_visits_every_item_once(store: Store) {
    let mut items = Vec::new();
    let mut want = Vec::new();
    for i in 0..23 {
        let sk = format!("k#{i:03}");
        want.push(json!(sk));
        items.push(item(json!({"pk": "PG", "sk": sk})));
        items.push(item(
            json!({"pk": format!("PG#{i}"), "sk": "X", "gsi3pk": "PG", "gsi3sk": sk}),
        ));
    }
    put_all(&store, items).await;
    for idx in [Index::Table, Index::Gsi3] {
        let (_, skc) = idx.key_attrs();
        for limit in [1, 4, 23, 50] {
            let mut seen = Vec::new();
            let mut range = Range::All;
            for round in 0.. {
                assert!(round <= 23, "{idx:?} limit {limit}: does not end");
                let p = run(&store, idx, "PG", range.clone(), limit).await;
                let vals = col(&p, skc);
                assert!(vals.len() <= limit);
                seen.extend(vals.clone());
                if !p.more {
                    break;
                }
                let last = vals
                    .last()
                    .and_then(Value::as_str)
                    .expect("a page with more has items");
                range = Range::After(SortKey::S(last.into()));
            }
            assert_eq!(seen, want, "{idx:?} limit {limit}");
        }
    }
}

async fn empty_partition_is_an_empty_page(store: Store) {
    put_all(
        &store,
        vec![item(
            json!({"pk": "E", "sk": "a", "gsi1pk": "E", "gsi1sk": "a"}),
        )],
    )
    .await;
    for idx in [
        Index::Table,
        Index::Gsi1,
        Index::Gsi2,
        Index::Gsi3,
        Index::Gsi4,
    ] {
        let p = run(&store, idx, "NOTHING", Range::All, 10).await;
        assert_eq!(p, QueryPage::default(), "{idx:?}");
        let p = run(&store, idx, "E#", Range::All, 10).await;
        assert_eq!(
            p,
            QueryPage::default(),
            "{idx:?}: partition keys match exactly"
        );
    }
}
