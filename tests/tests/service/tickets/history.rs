//! GET /tickets/{id}/history (SPEC §3): oldest first, creation first, each entry
//! {version, actor, at, changes:[{field, from, to}]}, paginated like listings, visible to
//! concerned users only.

use crm_shared::model::TicketStatus;
use crm_shared::service::{self, TicketPatch};
use crm_shared::store::Store;
use crm_tests::desk::{Desk, assert_err, assignee_patch, status_patch, tid, title};
use serde_json::{Value, json};

crm_tests::on_both_backends!(
    history_is_oldest_first_with_creation_first,
    history_pages_follow_the_next_token,
);

fn changes(h: &service::HistoryView) -> Vec<Value> {
    h.changes
        .iter()
        .map(|c| json!([c.field, c.from, c.to]))
        .collect()
}

async fn history_is_oldest_first_with_creation_first(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    let other = w.customer("other").await;
    let eng1 = w.engineer("eng1").await;
    let eng2 = w.engineer("eng2").await;
    let t = w.create(&c, "Problem in printer").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    let rename = TicketPatch {
        title: Some(title("Printer on fire")),
        ..Default::default()
    };
    w.update(&eng1, &t.id, rename).await.expect("rename");
    w.update(&w.admin, &t.id, assignee_patch("eng2"))
        .await
        .expect("reassign");
    let last = w
        .update(&eng2, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");

    let h = w.history(&c, &t.id).await;
    let summary: Vec<(i64, &str)> = h.iter().map(|e| (e.version, e.actor.as_str())).collect();
    assert_eq!(
        summary,
        vec![(1, "cust"), (2, "eng1"), (3, "admin"), (4, "eng2")]
    );
    assert_eq!(
        changes(&h[0]),
        vec![
            json!(["title", null, "Problem in printer"]),
            json!(["description", null, "About Problem in printer"]),
            json!(["ticketPriority", null, 4]),
            json!(["status", null, "OPEN"]),
            json!(["reporter", null, "cust"]),
            json!(["assignee", null, "eng1"]),
        ]
    );
    assert_eq!(
        changes(&h[1]),
        vec![json!(["title", "Problem in printer", "Printer on fire"])]
    );
    assert_eq!(changes(&h[2]), vec![json!(["assignee", "eng1", "eng2"])]);
    assert_eq!(changes(&h[3]), vec![json!(["status", "OPEN", "CLOSED"])]);
    assert_eq!(h[0].at, t.created_at);
    assert_eq!(h[3].at, last.updated_at);
    assert!(h.windows(2).all(|p| p[0].at <= p[1].at), "{h:?}");
    // The entry as clients see it: exactly these fields.
    let shown = serde_json::to_value(&h[2]).expect("serializes");
    assert_eq!(
        shown,
        json!({"version": 3, "actor": "admin", "at": h[2].at, "changes": [
            {"field": "assignee", "from": "eng1", "to": "eng2"}
        ]})
    );
    // Concerned users only: eng1 lost the ticket with the reassignment.
    for who in [&other, &eng1] {
        assert_err(
            service::ticket_history(&w.ctx, who, &tid(&t.id), None, 10).await,
            403,
            "FORBIDDEN",
        );
    }
    assert_eq!(w.history(&eng2, &t.id).await, h);
    assert_eq!(w.history(&w.admin, &t.id).await, h);
}

async fn history_pages_follow_the_next_token(store: Store) {
    let w = Desk::new(store).await;
    let c = w.customer("cust").await;
    w.engineer("eng1").await;
    let t = w.create(&c, "t").await;
    let flips = [
        TicketStatus::Blocked,
        TicketStatus::Open,
        TicketStatus::Closed,
        TicketStatus::Open,
    ];
    for s in flips {
        w.update(&c, &t.id, status_patch(s)).await.expect("flip");
    }
    let all = w.history(&c, &t.id).await;
    assert_eq!(
        all.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let mut walked = Vec::new();
    let mut sizes = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..10 {
        let p = service::ticket_history(&w.ctx, &c, &tid(&t.id), next.as_deref(), 2)
            .await
            .expect("page");
        sizes.push(p.items.len());
        walked.extend(p.items);
        match p.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(walked, all);
    let first = service::ticket_history(&w.ctx, &c, &tid(&t.id), None, 2)
        .await
        .expect("page");
    let token = first.next.expect("more");
    for bad in ["garbage".to_owned(), format!("{token}x")] {
        assert_err(
            service::ticket_history(&w.ctx, &c, &tid(&t.id), Some(&bad), 2).await,
            400,
            "INVALID_NEXT_TOKEN",
        );
    }
    // A history token does not page another ticket's history or a listing.
    let t2 = w.create(&c, "t2").await;
    assert_err(
        service::ticket_history(&w.ctx, &c, &tid(&t2.id), Some(&token), 2).await,
        400,
        "INVALID_NEXT_TOKEN",
    );
    assert_err(
        w.list(&c, Default::default(), Some(&token), 2).await,
        400,
        "INVALID_NEXT_TOKEN",
    );
}
