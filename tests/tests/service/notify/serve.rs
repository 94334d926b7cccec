//! `crm serve` runs the same notification path in-process: through the real binary and its
//! HTTP API, each change mails once through the notification API (CRM_NOTIFIER_TRANSPORT=
//! http) or the default mail log, and an event a killed run left in the outbox goes out
//! after the restart.

use super::notification_api::{NotificationApi, Reply};
use super::support::*;
use crm_tests::{Client, Server, ServerOptions};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const DEFAULT_ADMIN_EMAIL: &str = "john@email.com";
const WITHIN: Duration = Duration::from_secs(20);
const SETTLE: Duration = Duration::from_millis(600);

fn start(opts: ServerOptions) -> Server {
    tokio::task::block_in_place(|| Server::start_with(opts))
}

fn http_transport(api: &NotificationApi) -> Vec<(String, String)> {
    vec![
        ("CRM_NOTIFIER_TRANSPORT".into(), "http".into()),
        ("CRM_NOTIFICATION_SERVICE_URL".into(), api.url.clone()),
    ]
}

async fn create(c: &Client, token: &str, title: &str) -> Value {
    let r = c
        .post(
            "/tickets",
            token,
            json!({"title": title, "description": format!("Details of {title}"), "ticketPriority": 2}),
        )
        .await;
    r.expect(201);
    r.data().clone()
}

async fn update(c: &Client, token: &str, id: &str, body: Value) -> Value {
    let r = c.put(&format!("/tickets/{id}"), token, body).await;
    r.expect(200);
    r.data().clone()
}

fn id_of(t: &Value) -> String {
    t["_id"].as_str().expect("ticket id").to_owned()
}

/// The mail-log lines about one ticket.
fn log_lines_about(dir: &Path, ticket_id: &str) -> Vec<Value> {
    mail_log(&dir.join("mail.log"))
        .into_iter()
        .filter(|l| {
            l["subject"]
                .as_str()
                .unwrap_or_default()
                .contains(ticket_id)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_mails_create_update_and_reassign_through_the_notification_api() {
    let api = NotificationApi::start().await;
    let server = start(ServerOptions {
        env: http_transport(&api),
        ..Default::default()
    });
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust1").await;
    c.engineer(&admin, "eng1").await;
    let everyone = |extra: &[&str]| {
        let mut v = vec![DEFAULT_ADMIN_EMAIL.to_owned(), email_of("cust1")];
        v.extend(extra.iter().map(|e| email_of(e)));
        v
    };

    let t = create(&c, &cust, "Serve mails it").await;
    let id = id_of(&t);
    assert_eq!(t["assignee"], json!("eng1"));
    exactly("one POST for the creation", 1, WITHIN, SETTLE, || async {
        api.about(&id).len()
    })
    .await;
    let got = api.received();
    let first = got.last().expect("a request");
    assert_eq!(first.method, "POST");
    assert!(first.content_type.starts_with("application/json"));
    assert_eq!(first.body["requester"], json!("CRM Service API"));
    let want = everyone(&["eng1"]);
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_recipients(&recipients_of(&first.body), &want);

    update(&c, &admin, &id, json!({"status": "BLOCKED"})).await;
    exactly("one POST for the update", 2, WITHIN, SETTLE, || async {
        api.about(&id).len()
    })
    .await;
    let mails = api.about(&id);
    assert_recipients(&recipients_of(&mails[1]), &want);
    let content = mails[1]["content"].as_str().expect("content");
    assert!(
        content.contains("OPEN") && content.contains("BLOCKED"),
        "the update mail says what changed:\n{content}"
    );

    c.engineer(&admin, "eng2").await;
    update(&c, &admin, &id, json!({"assignee": "eng2"})).await;
    exactly(
        "one POST for the reassignment",
        3,
        WITHIN,
        SETTLE,
        || async { api.about(&id).len() },
    )
    .await;
    let mails = api.about(&id);
    let want = everyone(&["eng1", "eng2"]);
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_recipients(&recipients_of(&mails[2]), &want);
    assert_eq!(api.count(), 3, "nothing else was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_logs_one_mail_per_change_by_default() {
    let server = start(ServerOptions::default());
    let c = server.client();
    let admin = c.admin().await;
    let cust = c.customer("cust1").await;
    let t = create(&c, &cust, "Logged locally").await;
    let id = id_of(&t);
    let dir = server.data_dir.clone();
    exactly(
        "one mail.log line for the creation",
        1,
        WITHIN,
        SETTLE,
        || async { log_lines_about(&dir, &id).len() },
    )
    .await;
    update(&c, &admin, &id, json!({"ticketPriority": 1})).await;
    // Changes nothing: no mail.
    update(&c, &admin, &id, json!({"ticketPriority": 1})).await;
    update(
        &c,
        &cust,
        &id,
        json!({"description": "Now with more detail"}),
    )
    .await;
    exactly("one line per change", 3, WITHIN, SETTLE, || async {
        log_lines_about(&dir, &id).len()
    })
    .await;
    let lines = log_lines_about(&dir, &id);
    let ids: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["eventId"].as_str().expect("eventId"))
        .collect();
    assert_eq!(ids.len(), 3, "three distinct events: {lines:?}");
    for l in &lines {
        assert_recipients(
            &recipients_of(l),
            &[DEFAULT_ADMIN_EMAIL, &email_of("cust1")],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_delivers_an_event_left_by_a_killed_run_once() {
    let dir = crm_tests::server::temp_dir("notify-restart");
    let mut first = start(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let c = first.client();
    let cust = c.customer("cust1").await;
    let id = id_of(&create(&c, &cust, "Killed right after").await);
    tokio::task::block_in_place(|| first.signal_and_wait("KILL"));
    drop(first);
    let second = start(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    exactly(
        "exactly one mail.log line for the event",
        1,
        WITHIN,
        Duration::from_millis(1500),
        || async { log_lines_about(&dir, &id).len() },
    )
    .await;
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_dead_letters_a_refused_mail_and_delivers_it_after_a_restart() {
    let api = NotificationApi::scripted(
        Vec::new(),
        Some(Reply::Status(400, json!({"message": "refused"}))),
    )
    .await;
    let dir = crm_tests::server::temp_dir("notify-refused");
    let mut first = start(ServerOptions {
        env: http_transport(&api),
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let c = first.client();
    let cust = c.customer("cust1").await;
    let id = id_of(&create(&c, &cust, "Refused by the API").await);
    // A 400 is permanent: tried once, then dead-lettered with its event id.
    let dead_letters = dir.join("dead-letter.log");
    let line = eventually("the dead-letter line", WITHIN, || async {
        mail_log(&dead_letters).into_iter().next()
    })
    .await;
    let event_id = line["eventId"].as_str().expect("eventId").to_owned();
    assert_eq!(line["event"]["data"]["ticket"]["_id"], json!(id));
    assert_eq!(api.about(&id).len(), 1, "a 400 is not retried");
    let stderr = first.stderr();
    assert!(
        stderr.contains(&event_id),
        "the refusal is logged with the event id {event_id}:\n{stderr}"
    );
    tokio::task::block_in_place(|| first.signal_and_wait("KILL"));
    drop(first);
    // The outbox still holds it; the next run (default mail log) delivers it once.
    {
        let store = crm_shared::store::Store::plugged(
            crm_embedded::SqliteBackend::open(&dir.join("crm.sqlite3")).expect("store"),
        );
        assert!(
            store
                .outbox_entry(event_id.strip_prefix("evt_").expect("an event id"))
                .await
                .expect("outbox")
                .is_some(),
            "the refused event stays in the outbox"
        );
    }
    let second = start(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    exactly(
        "exactly one mail.log line for the event",
        1,
        WITHIN,
        SETTLE,
        || async { log_lines_about(&dir, &id).len() },
    )
    .await;
    assert_eq!(log_lines_about(&dir, &id)[0]["eventId"], json!(event_id));
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}
