//! GET /tickets over HTTP (SPEC §3): scoped by role, filtered (status, reporter, assignee
//! with `null` for unassigned, ticketPriority, plain-text case-insensitive title and
//! description), oldest first, limit 1–100 (default 100), an opaque nextToken, and 400 for
//! invalid values, limits and tokens.

use super::desk::{HttpDesk, assert_error, enc, ids};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn id(t: &Value) -> String {
    t["_id"].as_str().expect("_id").to_owned()
}

fn names(m: &BTreeMap<&str, String>, want: &[&str]) -> Vec<String> {
    want.iter().map(|n| m[n].clone()).collect()
}

#[tokio::test]
async fn listing_is_scoped_by_role() {
    let d = HttpDesk::new().await;
    let cust1 = d.customer("cust1").await;
    let cust2 = d.customer("cust2").await;
    let eng1 = d.engineer("eng1").await;
    let eng2 = d.engineer("eng2").await;
    let mut m = BTreeMap::new();
    for (name, token, assignee) in [
        ("a", &cust1, "eng1"),
        ("b", &cust2, "eng2"),
        ("e", &eng1, "eng1"), // reported by and assigned to eng1: listed once
        ("f", &eng2, "eng2"),
        ("g", &cust1, "eng1"),
        ("h", &eng1, "eng2"),
    ] {
        let t = d.create(token, name).await;
        assert_eq!(t["assignee"], assignee, "{name}");
        m.insert(name, id(&t));
    }
    for (token, who, want) in [
        (&cust1, "cust1", &["a", "g"][..]),
        (&cust2, "cust2", &["b"]),
        (&eng1, "eng1", &["a", "e", "g", "h"]),
        (&eng2, "eng2", &["b", "f", "h"]),
        (&d.admin, "admin", &["a", "b", "e", "f", "g", "h"]),
    ] {
        let r = d.list(token, "").await;
        r.expect(200);
        assert_eq!(ids(&r), names(&m, want), "{who}");
        assert_eq!(r.body["documentResultsCount"], want.len());
        assert!(r.body["nextToken"].is_null(), "{}", r.text);
        for limit in [1, 4] {
            let (_, all) = d.walk(token, "", limit).await;
            assert_eq!(all, names(&m, want), "{who} at limit {limit}");
        }
    }
}

#[tokio::test]
async fn listing_filters_status_reporter_assignee_priority_and_text() {
    let d = HttpDesk::new().await;
    let cust1 = d.customer("cust1").await;
    let cust2 = d.customer("cust2").await;
    let mut m = BTreeMap::new();
    let u = d
        .post_ticket(
            &cust1,
            json!({"title": "Unassigned printer", "description": "nobody", "ticketPriority": 4}),
        )
        .await;
    u.expect(201);
    m.insert("u", id(u.data()));
    let eng1 = d.engineer("eng1").await;
    let eng2 = d.engineer("eng2").await;
    // eng1's approval hands "u" out from the backlog (SPEC §3 "Workload"): to eng1.
    d.settle().await;
    for (name, token, title, desc, prio) in [
        ("p1", &cust1, "Printer jam", "Paper stuck in TRAY 2", 2),
        ("m", &cust1, "Mobile phone", "Restarts after 5 minutes", 4),
        ("p2", &cust2, "printer toner", "Toner low", 1),
        ("l", &cust2, "Laptop", "Screen flickers", 3),
    ] {
        let r = d
            .post_ticket(
                token,
                json!({"title": title, "description": desc, "ticketPriority": prio}),
            )
            .await;
        r.expect(201);
        m.insert(name, id(r.data()));
    }
    d.update(&d.admin, &m["l"], json!({"status": "CLOSED"}))
        .await;
    d.update(&d.admin, &m["m"], json!({"status": "BLOCKED"}))
        .await;
    let cases: Vec<(&String, String, &[&str])> = vec![
        (&d.admin, "status=OPEN".into(), &["u", "p1", "p2"]),
        (&d.admin, "status=CLOSED".into(), &["l"]),
        (&d.admin, "status=BLOCKED".into(), &["m"]),
        (&d.admin, "reporter=cust1".into(), &["u", "p1", "m"]),
        (&d.admin, "reporter=nobody".into(), &[]),
        (&d.admin, "assignee=eng1".into(), &["u", "m", "l"]),
        (&d.admin, "assignee=null".into(), &[]),
        (&d.admin, "ticketPriority=4".into(), &["u", "m"]),
        (&d.admin, "ticketPriority=1".into(), &["p2"]),
        (&d.admin, "title=PRINTER".into(), &["u", "p1", "p2"]),
        (&d.admin, format!("title={}", enc("printer toner")), &["p2"]),
        (&d.admin, "description=tray".into(), &["p1"]),
        (&d.admin, "status=OPEN&description=PRINTER".into(), &[]),
        (
            &d.admin,
            "status=OPEN&assignee=eng1&title=printer".into(),
            &["u"],
        ),
        (&d.admin, "title=printer&ticketPriority=2".into(), &["p1"]),
        (&d.admin, "reporter=cust2&status=CLOSED".into(), &["l"]),
        (&d.admin, "reporter=cust1&assignee=null".into(), &[]),
        (&cust1, "status=OPEN".into(), &["u", "p1"]),
        (&cust1, "title=printer".into(), &["u", "p1"]),
        (&cust1, "reporter=cust2".into(), &[]),
        (&cust1, "assignee=null".into(), &[]),
        (&cust2, "ticketPriority=3".into(), &["l"]),
        (&eng1, "status=OPEN".into(), &["u"]),
        (&eng1, "title=toner".into(), &[]),
        (&eng1, "status=BLOCKED".into(), &["m"]),
        (&eng1, "assignee=eng2".into(), &[]),
        (&eng2, "status=BLOCKED".into(), &[]),
        (&eng2, "description=MINUTES".into(), &[]),
        (&eng2, "title=printer".into(), &["p1", "p2"]),
    ];
    for (token, query, want) in cases {
        let r = d.list(token, &query).await;
        r.expect(200);
        assert_eq!(ids(&r), names(&m, want), "{query}");
        let (_, walked) = d.walk(token, &query, 1).await;
        assert_eq!(walked, names(&m, want), "{query} one by one");
    }
}

#[tokio::test]
async fn title_filter_is_plain_text_never_a_regex() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let mut m = BTreeMap::new();
    for (name, title) in [
        ("dotstar", "Error .* in log"),
        ("plain", "Error in log"),
        ("parens", "Costs (USD) [draft]"),
        ("plus", "a+b? c|d"),
        ("slash", "back\\slash $HOME ^caret"),
    ] {
        m.insert(name, id(&d.create(&cust, title).await));
    }
    for (needle, want) in [
        (".*", &["dotstar"][..]),
        (".", &["dotstar"]),
        ("error .* IN", &["dotstar"]),
        ("error", &["dotstar", "plain"]),
        ("error.*log", &[]),
        ("^Error", &[]),
        ("(USD)", &["parens"]),
        ("(", &["parens"]),
        ("[", &["parens"]),
        ("+b?", &["plus"]),
        ("c|d", &["plus"]),
        ("\\", &["slash"]),
        ("$home", &["slash"]),
    ] {
        for field in ["title", "description"] {
            let r = d.list(&d.admin, &format!("{field}={}", enc(needle))).await;
            r.expect(200);
            assert_eq!(ids(&r), names(&m, want), "{field} {needle:?}");
        }
    }
}

#[tokio::test]
async fn listing_pages_with_limit_and_an_opaque_next_token() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let other = d.customer("other").await;
    let mut made = Vec::new();
    for i in 0..101 {
        made.push(id(&d.create(&cust, &format!("t{i}")).await));
    }
    // Default limit: 100.
    let r = d.list(&cust, "").await;
    r.expect(200);
    assert_eq!(r.body["documentResultsCount"], 100);
    assert_eq!(ids(&r), made[..100]);
    let next = r.body["nextToken"].as_str().expect("nextToken").to_owned();
    let r = d.list(&cust, &format!("nextToken={}", enc(&next))).await;
    r.expect(200);
    assert_eq!(ids(&r), made[100..]);
    assert!(r.body["nextToken"].is_null());
    // Limits 1..=100; pages oldest first, each ticket once.
    for limit in [1, 7, 100] {
        let (sizes, all) = d.walk(&cust, "", limit).await;
        assert_eq!(all, made, "limit {limit}");
        assert!(sizes.iter().all(|s| *s == limit || *s == 101 % limit));
    }
    for bad in ["0", "101", "-1", "abc", "1.5", ""] {
        let r = d.list(&cust, &format!("limit={bad}")).await;
        r.expect(400);
        assert_eq!(r.body["success"], false);
    }
    // The token is opaque and only fits its own listing.
    let r = d.list(&cust, "limit=3").await;
    let token = r.body["nextToken"].as_str().expect("nextToken").to_owned();
    assert!(!token.contains(&made[2]), "the sort key shows: {token}");
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for bad in [tampered, "garbage".into(), format!("{token}x"), "%%".into()] {
        let r = d
            .list(&cust, &format!("limit=3&nextToken={}", enc(&bad)))
            .await;
        assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    }
    let r = d
        .list(
            &cust,
            &format!("limit=3&status=OPEN&nextToken={}", enc(&token)),
        )
        .await;
    assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    let r = d
        .list(&other, &format!("limit=3&nextToken={}", enc(&token)))
        .await;
    assert_error(&r, 400, "INVALID_NEXT_TOKEN");
    let r = d
        .list(&cust, &format!("limit=3&nextToken={}", enc(&token)))
        .await;
    r.expect(200);
    assert_eq!(ids(&r), made[3..6]);
}

#[tokio::test]
async fn listing_rejects_invalid_filter_values_400() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    d.create(&cust, "t").await;
    for query in [
        "status=open",
        "status=DONE",
        "status=",
        "ticketPriority=0",
        "ticketPriority=5",
        "ticketPriority=high",
        "ticketPriority=2.0",
        "reporter=not%20a%20userId!",
        "assignee=not%20a%20userId!",
        "status=OPEN&status=CLOSED",
    ] {
        for token in [&cust, &d.admin] {
            let r = d.list(token, query).await;
            r.expect(400);
            assert_eq!(r.body["success"], false, "{query}");
        }
    }
}
