//! Comments under concurrency (SPEC §3): reporters' replies that reopen CLOSED tickets race
//! status changes of the same tickets by staff; every request answers 201/200 or 409 (never
//! a 5xx), each reopening applies on fresh state only (the history replays), and the counter
//! invariant holds afterwards.

use crate::tickets::comments::{note, public, thread};
use crate::tickets::concurrency::{Rng, assert_history_replays, check, staffed};
use crm_shared::model::TicketStatus;
use crm_shared::service;
use crm_shared::store::Store;
use crm_tests::desk::tid;

crm_tests::on_both_backends!(concurrent: replies_racing_status_changes_keep_the_counts_exact);

async fn replies_racing_status_changes_keep_the_counts_exact(store: Store) {
    let (w, customers) = staffed(store).await;
    let mut tickets = Vec::new();
    for i in 0..6 {
        let reporter = customers[i % customers.len()].clone();
        let t = w.create(&reporter, &format!("t{i}")).await;
        tickets.push((t, reporter));
    }
    let statuses = [
        TicketStatus::Open,
        TicketStatus::Blocked,
        TicketStatus::Closed,
    ];
    let mut rng = Rng(0x5eed_c0de_0000_0015);
    let mut tasks = Vec::new();
    for round in 0..10 {
        for (t, reporter) in &tickets {
            let (w, id) = (w.clone(), t.id.clone());
            match rng.below(4) {
                // Staff close (or block, or reopen) the ticket...
                0 | 1 => {
                    let who = w.admin.clone();
                    let patch = crm_tests::desk::status_patch(statuses[rng.below(3)]);
                    tasks.push(tokio::spawn(async move {
                        service::update_ticket(&w.ctx, &who, &tid(&id), patch)
                            .await
                            .map(|_| false)
                    }));
                }
                // ...while the reporter replies (reopening it when it is CLOSED)...
                2 => {
                    let who = reporter.clone();
                    let body = format!("reply {round}");
                    tasks.push(tokio::spawn(async move {
                        service::add_comment(&w.ctx, &who, &tid(&id), public(&body))
                            .await
                            .map(|_| true)
                    }));
                }
                // ...and the admin adds notes, which change nothing.
                _ => {
                    let who = w.admin.clone();
                    tasks.push(tokio::spawn(async move {
                        service::add_comment(&w.ctx, &who, &tid(&id), note("note"))
                            .await
                            .map(|_| true)
                    }));
                }
            }
        }
    }
    let (mut ok, mut conflicts, mut comments) = (0, 0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(is_comment) => {
                ok += 1;
                comments += usize::from(is_comment);
            }
            Err(e) if e.status() == 409 => conflicts += 1,
            Err(e) => panic!("only success or 409, got {e:?}"),
        }
    }
    assert!(ok > 0, "{ok} ok, {conflicts} conflicts");
    check(&w, &[]).await;
    let mut stored = 0;
    for (t, _) in &tickets {
        assert_history_replays(&w, &t.id).await;
        stored += thread(&w, &w.admin, &t.id, 100).await.len();
    }
    assert_eq!(
        stored, comments,
        "every acknowledged comment is stored, once"
    );
}
