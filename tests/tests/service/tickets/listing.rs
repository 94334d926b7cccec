//! GET /tickets (SPEC §3): scoped by role (customer: reported; engineer: reported ∪
//! assigned, each once; admin: all), the filters, plain-text title/description matching,
//! oldest first, pages with an opaque nextToken that only fits its own listing.

use crm_shared::model::TicketStatus;
use crm_shared::service::{self, Authed, NewTicket, TicketFilter};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, priority, status_patch, uid};
use std::collections::BTreeMap;

crm_tests::on_both_backends!(
    listings_are_scoped_by_role,
    filters_narrow_the_listing,
    title_and_description_filters_are_plain_text,
    pages_are_oldest_first_with_an_opaque_next_token,
    no_next_token_after_the_last_page,
);

/// Creates a ticket and remembers its id under `name`.
async fn make(
    w: &Desk,
    ids: &mut BTreeMap<&'static str, String>,
    name: &'static str,
    who: &Authed,
    title: &str,
    desc: &str,
    prio: i64,
) -> Option<String> {
    let t = service::create_ticket(
        &w.ctx,
        who,
        NewTicket {
            title: crm_tests::desk::title(title),
            description: crm_tests::desk::description(desc),
            priority: Some(priority(prio)),
            tags: None,
        },
    )
    .await
    .expect("create");
    ids.insert(name, t.id.clone());
    t.assignee
}

fn names(ids: &BTreeMap<&'static str, String>, want: &[&str]) -> Vec<String> {
    want.iter().map(|n| ids[n].clone()).collect()
}

async fn listings_are_scoped_by_role(store: Store) {
    let w = Desk::new(store).await;
    let cust1 = w.customer("cust1").await;
    let cust2 = w.customer("cust2").await;
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let mut ids = BTreeMap::new();
    let plan: [(&str, &Authed, &str); 6] = [
        ("a", &cust1, "eng1"),
        ("b", &cust2, "eng2"),
        ("e", &eng1, "eng1"), // reported by and assigned to eng1: listed once
        ("f", &eng2, "eng2"),
        ("g", &cust1, "eng1"),
        ("h", &eng1, "eng2"), // reported by eng1 only
    ];
    for (name, who, assignee) in plan {
        let got = make(&w, &mut ids, name, who, name, "d", 4).await;
        assert_eq!(got.as_deref(), Some(assignee), "ticket {name}");
    }
    let all = TicketFilter::default;
    let cases: [(&Authed, &[&str]); 5] = [
        (&cust1, &["a", "g"]),
        (&cust2, &["b"]),
        (&eng1, &["a", "e", "g", "h"]),
        (&eng2, &["b", "f", "h"]),
        (&w.admin, &["a", "b", "e", "f", "g", "h"]),
    ];
    for (who, want) in cases {
        for limit in [1, 2, 3, 100] {
            assert_eq!(
                w.list_all(who, all(), limit).await,
                names(&ids, want),
                "{} at limit {limit}",
                who.id
            );
        }
    }
    // Filters never widen the scope.
    let by = |r: &str| TicketFilter {
        reporter: Some(uid(r)),
        ..Default::default()
    };
    let to = |a: Option<&str>| TicketFilter {
        assignee: Some(a.map(uid)),
        ..Default::default()
    };
    let cases: [(&Authed, TicketFilter, &[&str]); 10] = [
        (&cust1, by("cust2"), &[]),
        (&cust1, by("cust1"), &["a", "g"]),
        (&cust1, to(Some("eng1")), &["a", "g"]),
        (&cust2, to(Some("eng1")), &[]),
        (&eng1, by("eng1"), &["e", "h"]),
        (&eng1, by("cust1"), &["a", "g"]),
        (&eng1, by("cust2"), &[]),
        (&eng1, to(Some("eng1")), &["a", "e", "g"]),
        (&eng1, to(Some("eng2")), &["h"]),
        (&eng1, to(None), &[]),
    ];
    for (who, f, want) in cases {
        assert_eq!(
            w.list_all(who, f.clone(), 100).await,
            names(&ids, want),
            "{} {f:?}",
            who.id
        );
    }
}

async fn filters_narrow_the_listing(store: Store) {
    let w = Desk::new(store).await;
    let cust1 = w.customer("cust1").await;
    let cust2 = w.customer("cust2").await;
    let mut ids = BTreeMap::new();
    let u = make(&w, &mut ids, "u", &cust1, "Unassigned printer", "nobody", 4).await;
    assert_eq!(u, None);
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let tickets = [
        (
            "p1",
            &cust1,
            "Printer jam",
            "Paper stuck in TRAY 2",
            2,
            "eng1",
        ),
        (
            "m",
            &cust1,
            "Mobile phone",
            "Restarts after 5 minutes",
            4,
            "eng2",
        ),
        ("p2", &cust2, "printer toner", "Toner low", 1, "eng1"),
        ("l", &cust2, "Laptop", "Screen flickers", 3, "eng2"),
    ];
    for (name, who, title, desc, prio, assignee) in tickets {
        let got = make(&w, &mut ids, name, who, title, desc, prio).await;
        assert_eq!(got.as_deref(), Some(assignee), "{name}");
    }
    w.update(&w.admin, &ids["l"], status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    w.update(&w.admin, &ids["m"], status_patch(TicketStatus::Blocked))
        .await
        .expect("block");
    let f = TicketFilter::default;
    let status = |s| TicketFilter {
        status: Some(s),
        ..f()
    };
    let reporter = |r: &str| TicketFilter {
        reporter: Some(uid(r)),
        ..f()
    };
    let assignee = |a: Option<&str>| TicketFilter {
        assignee: Some(a.map(uid)),
        ..f()
    };
    let prio = |p| TicketFilter {
        priority: Some(priority(p)),
        ..f()
    };
    let title = |t: &str| TicketFilter {
        title: Some(t.into()),
        ..f()
    };
    let desc = |d: &str| TicketFilter {
        description: Some(d.into()),
        ..f()
    };
    use TicketStatus::*;
    let cases: Vec<(&Authed, TicketFilter, &[&str])> = vec![
        (&w.admin, status(Open), &["u", "p1", "p2"]),
        (&w.admin, status(Closed), &["l"]),
        (&w.admin, status(Blocked), &["m"]),
        (&w.admin, reporter("cust1"), &["u", "p1", "m"]),
        (&w.admin, reporter("nobody"), &[]),
        (&w.admin, assignee(Some("eng1")), &["p1", "p2"]),
        (&w.admin, assignee(None), &["u"]),
        (&w.admin, prio(4), &["u", "m"]),
        (&w.admin, prio(1), &["p2"]),
        (&w.admin, title("PRINTER"), &["u", "p1", "p2"]),
        (&w.admin, title("toner"), &["p2"]),
        (&w.admin, desc("tray"), &["p1"]),
        (&w.admin, desc("TONER LOW"), &["p2"]),
        (
            &w.admin,
            TicketFilter {
                status: Some(Open),
                assignee: Some(Some(uid("eng1"))),
                title: Some("printer".into()),
                ..f()
            },
            &["p1", "p2"],
        ),
        (
            &w.admin,
            TicketFilter {
                title: Some("printer".into()),
                priority: Some(priority(2)),
                ..f()
            },
            &["p1"],
        ),
        (
            &w.admin,
            TicketFilter {
                reporter: Some(uid("cust2")),
                status: Some(Closed),
                ..f()
            },
            &["l"],
        ),
        (
            &w.admin,
            TicketFilter {
                reporter: Some(uid("cust1")),
                assignee: Some(None),
                ..f()
            },
            &["u"],
        ),
        (&cust1, status(Open), &["u", "p1"]),
        (&cust1, title("printer"), &["u", "p1"]),
        (&cust1, assignee(None), &["u"]),
        (&cust2, prio(3), &["l"]),
        (&eng1, status(Open), &["p1", "p2"]),
        (&eng1, title("toner"), &["p2"]),
        (&eng1, status(Blocked), &[]),
        (&eng2, status(Blocked), &["m"]),
        (&eng2, prio(3), &["l"]),
        (&eng2, desc("minutes"), &["m"]),
    ];
    for (who, filter, want) in cases {
        for limit in [1, 100] {
            assert_eq!(
                w.list_all(who, filter.clone(), limit).await,
                names(&ids, want),
                "{} {filter:?} limit {limit}",
                who.id
            );
        }
    }
}

async fn title_and_description_filters_are_plain_text(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let mut ids = BTreeMap::new();
    let titles = [
        ("dotstar", "Error .* in log"),
        ("plain", "Error in log"),
        ("parens", "Costs (USD) [draft]"),
        ("plus", "a+b? c|d"),
        ("slash", "back\\slash $HOME ^caret"),
        ("accent", "Écran cassé"),
    ];
    for (name, title) in titles {
        make(&w, &mut ids, name, &c, title, &format!("About {title}"), 4).await;
    }
    let cases: [(&str, &[&str]); 14] = [
        (".*", &["dotstar"]),
        (".", &["dotstar"]),
        ("error .* in", &["dotstar"]),
        ("ERROR", &["dotstar", "plain"]),
        ("error.*log", &[]),
        ("^Error", &[]),
        ("(USD)", &["parens"]),
        ("[", &["parens"]),
        ("[draft]", &["parens"]),
        ("+b?", &["plus"]),
        ("c|d", &["plus"]),
        ("\\", &["slash"]),
        ("$home ^", &["slash"]),
        ("écran", &["accent"]),
    ];
    for (needle, want) in cases {
        for who in [&c, &w.admin] {
            let by_title = TicketFilter {
                title: Some(needle.into()),
                ..Default::default()
            };
            assert_eq!(
                w.list_all(who, by_title, 100).await,
                names(&ids, want),
                "title {needle:?}"
            );
            let by_desc = TicketFilter {
                description: Some(needle.into()),
                ..Default::default()
            };
            assert_eq!(
                w.list_all(who, by_desc, 100).await,
                names(&ids, want),
                "description {needle:?}"
            );
        }
    }
}

/// The same token with one character changed.
fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn pages_are_oldest_first_with_an_opaque_next_token(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let other = w.customer("other").await;
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(w.create(&c, &format!("t{i}")).await.id);
    }
    let f = TicketFilter::default;
    for who in [&c, &w.admin] {
        let p1 = w.list(who, f(), None, 3).await.expect("page 1");
        let n1 = p1.next.clone().expect("a second page");
        let p2 = w.list(who, f(), Some(&n1), 3).await.expect("page 2");
        let n2 = p2.next.clone().expect("a third page");
        let p3 = w.list(who, f(), Some(&n2), 3).await.expect("page 3");
        assert_eq!(p3.next, None, "the last page");
        let sizes = [p1.items.len(), p2.items.len(), p3.items.len()];
        assert_eq!(sizes, [3, 3, 1]);
        let got: Vec<String> = [p1, p2, p3]
            .into_iter()
            .flat_map(|p| p.items.into_iter().map(|t| t.id))
            .collect();
        assert_eq!(got, made, "oldest first, each once");
        // The token is opaque: it does not show the sort key it stands for.
        assert!(!n1.contains(&made[2]), "{n1}");
        for bad in [tamper(&n1), "garbage".to_owned(), format!("{n1}x")] {
            assert_err(
                w.list(who, f(), Some(&bad), 3).await,
                400,
                "INVALID_NEXT_TOKEN",
            );
        }
        // A token only fits the listing it came from.
        let other_filter = TicketFilter {
            status: Some(TicketStatus::Open),
            ..f()
        };
        assert_err(
            w.list(who, other_filter, Some(&n1), 3).await,
            400,
            "INVALID_NEXT_TOKEN",
        );
        assert_err(
            w.list(&other, f(), Some(&n1), 3).await,
            400,
            "INVALID_NEXT_TOKEN",
        );
    }
    // limit 100 returns everything in one page.
    let all = w.list(&c, f(), None, 100).await.expect("one page");
    assert_eq!(all.items.len(), 7);
    assert_eq!(all.next, None);
}

async fn no_next_token_after_the_last_page(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let e = w.engineer("eng").await;
    for i in 0..6 {
        w.create(&c, &format!("t{i}")).await;
    }
    let open = TicketFilter {
        status: Some(TicketStatus::Open),
        ..Default::default()
    };
    for (who, f) in [
        (&c, TicketFilter::default()),
        (&e, TicketFilter::default()),
        (&w.admin, TicketFilter::default()),
        (&w.admin, open),
    ] {
        for limit in [2, 3, 6] {
            let mut sizes = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let p = w
                    .list(who, f.clone(), next.as_deref(), limit)
                    .await
                    .expect("page");
                sizes.push(p.items.len());
                match p.next {
                    Some(n) if sizes.len() < 10 => next = Some(n),
                    _ => break,
                }
            }
            assert_eq!(
                sizes,
                vec![limit; 6 / limit],
                "{} {f:?}: no nextToken (and no empty page) after the last item, on {}",
                who.id,
                w.store().backend_name()
            );
        }
    }
}
