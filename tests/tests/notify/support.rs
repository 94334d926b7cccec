//! The notification fixture: a `Ctx` over a fresh store with an approved admin, helpers to
//! add users and change tickets as they would through the API, a notifier over the same
//! store, SQS batches as the Lambda runtime hands them over, and polling with a deadline.

use crm_notifier::{Notifier, Transport};
use crm_shared::config::Secret;
use crm_shared::model::{
    Description, Email, Name, Password, Priority, TicketEvent, TicketSnapshot, TicketStatus,
    Timestamp, Title, UserId, UserStatus, UserType,
};
use crm_shared::queue::Publisher;
use crm_shared::service::{self, Authed, Ctx, NewTicket, SignupInput, TicketPatch, UserUpdate};
use crm_shared::store::Store;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "crmService@1";
pub const SECRET: &str = "notify-tests-secret-0123456789abcdef-0123";

pub fn uid(s: &str) -> UserId {
    UserId::parse(s).expect("valid userId")
}

pub fn email_of(id: &str) -> String {
    format!("{id}@email.com")
}

/// A set of addresses, for exact comparisons.
pub fn set<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_owned()).collect()
}

pub fn status_patch(s: &str) -> TicketPatch {
    TicketPatch {
        status: Some(TicketStatus::parse(s).expect("status")),
        ..Default::default()
    }
}

pub fn assignee_patch(a: &str) -> TicketPatch {
    TicketPatch {
        assignee: Some(uid(a)),
        ..Default::default()
    }
}

/// A store with its users and tickets, changed through the use cases as the API would.
pub struct Desk {
    pub ctx: Ctx,
    /// The approved admin `admin` (admin@email.com).
    pub admin: Authed,
}

impl Desk {
    pub async fn new(store: Store) -> Desk {
        let ctx = Ctx::new(store, &Secret::new(SECRET), 3600, 4);
        service::create_admin(
            &ctx.store,
            &ctx.passwords,
            uid("admin"),
            Name::parse("John Doe").expect("name"),
            Email::parse(&email_of("admin")).expect("email"),
            &Password::parse(PASSWORD).expect("password"),
        )
        .await
        .expect("creating the admin");
        let admin = authed(&ctx, "admin", UserType::Admin);
        Desk { ctx, admin }
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    pub fn with_publisher(mut self, p: Publisher) -> Desk {
        self.ctx.publisher = p;
        self
    }

    pub async fn signup(&self, id: &str, t: UserType) -> Authed {
        service::signup(
            &self.ctx,
            SignupInput {
                name: Name::parse(&id.to_uppercase()).expect("name"),
                user_id: uid(id),
                email: Email::parse(&email_of(id)).expect("email"),
                password: Password::parse(PASSWORD).expect("password"),
                user_type: t,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("signing up {id}: {e:?}"));
        authed(&self.ctx, id, t)
    }

    pub async fn customer(&self, id: &str) -> Authed {
        self.signup(id, UserType::Customer).await
    }

    /// An engineer approved by the admin (so assignable). Waits 2 ms after, so approvals
    /// never share a millisecond (the load tie-break is the approval time).
    pub async fn engineer(&self, id: &str) -> Authed {
        let who = self.signup(id, UserType::Engineer).await;
        self.set(id, None, Some(UserStatus::Approved)).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        who
    }

    /// Another ADMIN with this status: signed up as a customer and promoted by the admin.
    pub async fn admin_with_status(&self, id: &str, s: UserStatus) -> Authed {
        self.signup(id, UserType::Customer).await;
        self.set(id, Some(UserType::Admin), Some(s)).await;
        authed(&self.ctx, id, UserType::Admin)
    }

    pub async fn set(&self, id: &str, t: Option<UserType>, s: Option<UserStatus>) {
        service::update_user(
            &self.ctx,
            &self.admin,
            id,
            UserUpdate {
                user_type: t,
                user_status: s,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("changing {id}: {e:?}"));
    }

    pub async fn create(&self, who: &Authed, title: &str) -> TicketSnapshot {
        service::create_ticket(&self.ctx, who, new_ticket(title))
            .await
            .unwrap_or_else(|e| panic!("{} creating {title:?}: {e:?}", who.id))
    }

    pub async fn update(&self, who: &Authed, id: &str, patch: TicketPatch) -> TicketSnapshot {
        service::update_ticket(&self.ctx, who, id, patch)
            .await
            .unwrap_or_else(|e| panic!("{} updating {id}: {e:?}", who.id))
    }

    /// The outbox, oldest first (every item, whatever its age).
    pub async fn outbox(&self) -> Vec<crm_shared::store::OutboxEntry> {
        self.store()
            .stale_outbox(Timestamp::now().plus_seconds(3600), 1000)
            .await
            .expect("reading the outbox")
    }

    /// The outbox events of one ticket, oldest first.
    pub async fn outbox_events_of(&self, ticket_id: &str) -> Vec<TicketEvent> {
        self.outbox()
            .await
            .into_iter()
            .map(|e| e.event)
            .filter(|e| e.ticket.id == ticket_id)
            .collect()
    }
}

pub fn new_ticket(title: &str) -> NewTicket {
    NewTicket {
        title: Title::parse(title).expect("title"),
        description: Description::parse(&format!("Details about {title}")).expect("description"),
        priority: Some(Priority::from_int(2).expect("priority")),
    }
}

/// A token for `id` issued by this context, verified as a request's would be.
pub fn authed(ctx: &Ctx, id: &str, t: UserType) -> Authed {
    let token = token(ctx, id, t);
    let mut h = HeaderMap::new();
    h.insert(
        "x-access-token",
        HeaderValue::from_str(&token).expect("header"),
    );
    ctx.authenticate(&h).expect("a fresh token verifies")
}

pub fn token(ctx: &Ctx, id: &str, t: UserType) -> String {
    ctx.tokens
        .issue(&uid(id), t, Timestamp::now())
        .expect("issuing a token")
}

/// A notifier over `store` (a short lease, the sweep age of the cloud default).
pub fn notifier(store: Store, transport: Transport, publisher: Publisher) -> Notifier {
    Notifier {
        store,
        transport,
        publisher,
        lease_seconds: 30,
        sweep_age_seconds: 120,
        jobs: crm_shared::queue::JobQueue::default(),
        capacity: None,
    }
}

/// A batch as the Lambda runtime hands it over: (messageId, body) per record.
pub fn sqs_event(records: &[(&str, Option<&str>)]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:crm-events",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// The failed message ids of a batch response, sorted.
pub fn failed_ids(r: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

/// Polls `probe` until it returns Some, failing the test after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `count` until it reaches `n`, then keeps watching for `settle` to make sure it
/// stays at `n` (nothing is delivered twice a little later).
pub async fn exactly<F, Fut>(what: &str, n: usize, within: Duration, settle: Duration, mut count: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let deadline = Instant::now() + within;
    loop {
        let c = count().await;
        assert!(c <= n, "{what}: expected {n}, got {c}");
        if c == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {c} of {n}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let until = Instant::now() + settle;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let c = count().await;
        assert_eq!(c, n, "{what}: more arrived after the first {n}");
    }
}

/// The lines of a mail log (`Transport::Log` / `<data-dir>/mail.log`), parsed.
pub fn mail_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("mail.log line {l:?}: {e}")))
        .collect()
}

/// The recipients of a mail-log line or a notification API body.
pub fn recipients_of(v: &Value) -> Vec<String> {
    v["recipientEmails"]
        .as_array()
        .unwrap_or_else(|| panic!("no recipientEmails in {v}"))
        .iter()
        .map(|e| e.as_str().expect("an address").to_owned())
        .collect()
}

/// Asserts a list of addresses names each address once and is exactly `want`.
#[track_caller]
pub fn assert_recipients(got: &[String], want: &[&str]) {
    let as_set = set(got);
    assert_eq!(as_set.len(), got.len(), "an address repeats in {got:?}");
    assert_eq!(as_set, set(want), "recipients");
}

/// Asserts a mail's subject and body carry what SPEC §4 asks for.
#[track_caller]
pub fn assert_mail_describes(subject: &str, body: &str, t: &TicketSnapshot, extra: &[&str]) {
    let text = format!("{subject}\n{body}");
    let assignee = t.assignee.clone().unwrap_or_else(|| "(unassigned)".into());
    for want in [
        t.id.as_str(),
        t.title.as_str(),
        t.description.as_str(),
        t.status.as_str(),
        t.reporter.as_str(),
        assignee.as_str(),
    ] {
        assert!(text.contains(want), "mail lacks {want:?}:\n{text}");
    }
    let priority = t.ticket_priority.to_string();
    assert!(
        body.lines()
            .any(|l| l.to_lowercase().contains("priority") && l.contains(&priority)),
        "mail lacks the priority {priority}:\n{text}"
    );
    for want in extra {
        assert!(text.contains(want), "mail lacks {want:?}:\n{text}");
    }
}
