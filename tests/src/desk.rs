//! The service-level fixture: a `Desk` is a `Ctx` over a fresh store with one approved
//! admin, helpers to add users, act as them (tokens issued and verified as the API does) and
//! change tickets as the API would, the counter invariant and the outbox read straight from
//! the store; and `settle`, which waits for a store's workload jobs.

use crm_shared::ApiError;
use crm_shared::config::Secret;
use crm_shared::model::{
    Description, Email, Event, Name, Password, Priority, TicketId, TicketSnapshot, TicketStatus,
    Timestamp, Title, UserId, UserStatus, UserType,
};
use crm_shared::queue::Publisher;
use crm_shared::service::{
    self, Authed, Ctx, HistoryView, NewTicket, SignupInput, TicketFilter, TicketPatch, UserUpdate,
};
use crm_shared::store::schema::Index;
use crm_shared::store::{
    Cond, Listing, OutboxEntry, Query, Range, Store, TicketRecord, UserRecord, Write, keys,
};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub const PASSWORD: &str = "crmService@1";
/// The JWT secret of every `Desk`.
pub const SECRET: &str = "service-tests-secret-0123456789abcdef-01";

/// A user's email address: `<id>@email.com`.
pub fn email_of(id: &str) -> String {
    format!("{id}@email.com")
}

pub fn uid(s: &str) -> UserId {
    UserId::parse(s).expect("valid userId")
}

/// A ticket id as the tickets function's routes read one from a path (400 when malformed).
pub fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    <TicketId as crm_shared::http::FromParam>::from_param(raw)
}

/// A well-formed ticket id (tests only: panics otherwise).
pub fn tid(raw: &str) -> TicketId {
    TicketId::parse(raw).expect("a well-formed ticket id")
}

pub fn title(s: &str) -> Title {
    Title::parse(s).expect("valid title")
}

pub fn description(s: &str) -> Description {
    Description::parse(s).expect("valid description")
}

pub fn priority(n: i64) -> Priority {
    Priority::from_int(n).expect("valid priority")
}

pub fn new_ticket(t: &str) -> NewTicket {
    NewTicket {
        title: title(t),
        description: description(&format!("About {t}")),
        priority: None,
        tags: None,
    }
}

pub fn status_patch(s: TicketStatus) -> TicketPatch {
    TicketPatch {
        status: Some(s),
        ..Default::default()
    }
}

pub fn assignee_patch(a: &str) -> TicketPatch {
    TicketPatch {
        assignee: Some(uid(a)),
        ..Default::default()
    }
}

/// Asserts an error's status and code.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(r: Result<T, ApiError>, status: u16, code: &str) -> ApiError {
    let e = r.expect_err("expected an error");
    assert_eq!((e.status(), e.code.as_str()), (status, code), "{e:?}");
    e
}

/// The ticket events pushed to a channel publisher: the user events a fixture's sign-ups and
/// approvals record are skipped (these tests watch tickets).
pub struct TicketEvents(tokio::sync::mpsc::UnboundedReceiver<Event>);

impl TicketEvents {
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            let e = self.0.recv().await?;
            if e.event_type.is_ticket() {
                return Some(e);
            }
        }
    }

    pub fn try_recv(&mut self) -> Result<Event, tokio::sync::mpsc::error::TryRecvError> {
        loop {
            let e = self.0.try_recv()?;
            if e.event_type.is_ticket() {
                return Ok(e);
            }
        }
    }
}

/// A channel publisher and the ticket events it is given.
pub fn ticket_event_channel() -> (Publisher, TicketEvents) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    (Publisher::Channel(tx), TicketEvents(rx))
}

/// The ticket of a ticket event (panics for a user event).
#[track_caller]
pub fn ticket_of(e: &Event) -> &TicketSnapshot {
    e.data.ticket.as_ref().expect("a ticket event")
}

#[track_caller]
pub fn ticket_of_mut(e: &mut Event) -> &mut TicketSnapshot {
    e.data.ticket.as_mut().expect("a ticket event")
}

/// A store with its users and tickets, changed through the use cases as the API would.
pub struct Desk {
    pub ctx: Ctx,
    /// The approved admin `admin`.
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
        let desk = Desk { ctx, admin };
        desk.drop_user_events().await;
        desk
    }

    /// Empties the outbox (as if every event were delivered).
    pub async fn drop_all_events(&self) {
        for e in self.outbox().await {
            self.store()
                .transact(vec![Write::Delete {
                    key: keys::outbox(e.event.key_id()),
                    cond: Cond::Always,
                }])
                .await
                .expect("dropping an event");
        }
    }

    /// Takes the `user.*` events the fixture's own user changes recorded out of the outbox
    /// (as if delivered), so tests of tickets see ticket events only. Tests of user events
    /// call the use cases directly.
    pub async fn drop_user_events(&self) {
        let done: Vec<Write> = self
            .outbox()
            .await
            .into_iter()
            .filter(|e| !e.event.event_type.is_ticket())
            .map(|e| Write::Delete {
                key: keys::outbox(e.event.key_id()),
                cond: Cond::Always,
            })
            .collect();
        for w in done {
            self.store()
                .transact(vec![w])
                .await
                .expect("dropping a user event");
        }
    }

    /// Another process on the same store: its own `Ctx` (so its own assignment gate), the
    /// same secret, the existing admin.
    pub fn attach(store: Store) -> Desk {
        let ctx = Ctx::new(store, &Secret::new(SECRET), 3600, 4);
        let admin = authed(&ctx, "admin", UserType::Admin);
        Desk { ctx, admin }
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The same desk publishing its ticket events through `p`.
    pub fn with_publisher(mut self, p: Publisher) -> Desk {
        self.ctx.publisher = p;
        self
    }

    /// Acts as `id` with a token saying `user_type` (the type is only a planning hint).
    pub fn as_user(&self, id: &str, user_type: UserType) -> Authed {
        authed(&self.ctx, id, user_type)
    }

    pub async fn signup(&self, id: &str, user_type: UserType) -> Result<Authed, ApiError> {
        let r = signup(&self.ctx, id, user_type).await;
        self.drop_user_events().await;
        r
    }

    /// A new (approved) customer.
    pub async fn customer(&self, id: &str) -> Authed {
        self.signup(id, UserType::Customer)
            .await
            .expect("customer signup")
    }

    /// A new engineer, approved by the admin. Waits 2 ms after, so approvals never share a
    /// millisecond (the tie-break is the approval time).
    pub async fn engineer(&self, id: &str) -> Authed {
        let who = self
            .signup(id, UserType::Engineer)
            .await
            .expect("engineer signup");
        self.set_status(id, UserStatus::Approved).await;
        who
    }

    /// Another ADMIN with this status: signed up as a customer and promoted by the admin.
    pub async fn admin_with_status(&self, id: &str, s: UserStatus) -> Authed {
        self.customer(id).await;
        self.set(id, Some(UserType::Admin), Some(s)).await;
        authed(&self.ctx, id, UserType::Admin)
    }

    /// Has the admin change `id`'s type and status.
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
        self.drop_user_events().await;
    }

    /// Has the admin set `id`'s status (waits 2 ms after, see `engineer`).
    pub async fn set_status(&self, id: &str, s: UserStatus) {
        self.update_user(
            &self.admin,
            id,
            UserUpdate {
                user_status: Some(s),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("setting {id} {s}: {e:?}"));
    }

    /// Has the admin set `id`'s type (and optionally status).
    pub async fn set_type(&self, id: &str, t: UserType, s: Option<UserStatus>) {
        self.update_user(
            &self.admin,
            id,
            UserUpdate {
                user_type: Some(t),
                user_status: s,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("setting {id} to {t}: {e:?}"));
    }

    pub async fn update_user(
        &self,
        who: &Authed,
        id: &str,
        u: UserUpdate,
    ) -> Result<service::UserView, ApiError> {
        let r = service::update_user(&self.ctx, who, id, u).await;
        self.drop_user_events().await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        r
    }

    pub async fn create(&self, who: &Authed, t: &str) -> TicketSnapshot {
        service::create_ticket(&self.ctx, who, new_ticket(t))
            .await
            .unwrap_or_else(|e| panic!("{} creating {t:?}: {e:?}", who.id))
    }

    pub async fn update(
        &self,
        who: &Authed,
        id: &str,
        patch: TicketPatch,
    ) -> Result<TicketSnapshot, ApiError> {
        service::update_ticket(&self.ctx, who, &ticket_id(id)?, patch).await
    }

    pub async fn get(&self, who: &Authed, id: &str) -> Result<TicketSnapshot, ApiError> {
        service::get_ticket(&self.ctx, who, &ticket_id(id)?).await
    }

    pub async fn list(
        &self,
        who: &Authed,
        f: TicketFilter,
        next: Option<&str>,
        limit: usize,
    ) -> Result<Listing<TicketSnapshot>, ApiError> {
        service::list_tickets(&self.ctx, who, f, next, limit).await
    }

    /// Every page of a listing (limit `limit`): the ticket ids in order.
    pub async fn list_all(&self, who: &Authed, f: TicketFilter, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..1000 {
            let page = self
                .list(who, f.clone(), next.as_deref(), limit)
                .await
                .unwrap_or_else(|e| panic!("listing as {}: {e:?}", who.id));
            assert!(page.items.len() <= limit);
            out.extend(page.items.into_iter().map(|t| t.id));
            match page.next {
                Some(n) => next = Some(n),
                None => return out,
            }
        }
        panic!("more than 1000 pages");
    }

    pub async fn history(&self, who: &Authed, id: &str) -> Vec<HistoryView> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = service::ticket_history(&self.ctx, who, &tid(id), next.as_deref(), 100)
                .await
                .unwrap_or_else(|e| panic!("history of {id}: {e:?}"));
            out.extend(page.items);
            match page.next {
                Some(n) => next = Some(n),
                None => return out,
            }
        }
    }

    pub async fn user(&self, id: &str) -> UserRecord {
        self.store()
            .get_user(&uid(id))
            .await
            .expect("reading a user")
            .unwrap_or_else(|| panic!("no user {id}"))
    }

    /// A user's stored ticketsWorkingOnCount.
    pub async fn count(&self, id: &str) -> i64 {
        self.user(id).await.tickets_working_on_count
    }

    pub async fn ticket(&self, id: &str) -> TicketRecord {
        self.store()
            .get_ticket(&crm_shared::model::TicketId::parse(id).expect("ticket id"))
            .await
            .expect("reading a ticket")
            .expect("ticket exists")
    }

    /// Every ticket, read as the admin (all pages).
    pub async fn all_tickets(&self) -> Vec<TicketSnapshot> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .list(&self.admin, TicketFilter::default(), next.as_deref(), 100)
                .await
                .expect("admin listing");
            out.extend(page.items);
            match page.next {
                Some(n) => next = Some(n),
                None => return out,
            }
        }
    }

    /// The counter invariant for `users`: each stored count equals the OPEN tickets assigned
    /// to them, recounted from every ticket (each re-read by id, not trusted from a listing).
    /// Returns the counts.
    pub async fn assert_invariant(&self, users: &[&str]) -> BTreeMap<String, i64> {
        let listed = self.all_tickets().await;
        let mut open: BTreeMap<String, i64> = BTreeMap::new();
        for t in &listed {
            let stored = self.ticket(&t.id).await.snapshot();
            assert_eq!(&stored, t, "the listing shows the stored ticket");
            if let (Some(a), "OPEN") = (&t.assignee, t.status.as_str()) {
                *open.entry(a.clone()).or_default() += 1;
            }
        }
        let mut counts = BTreeMap::new();
        for u in users {
            let c = self.count(u).await;
            assert_eq!(
                c,
                open.get(*u).copied().unwrap_or(0),
                "ticketsWorkingOnCount of {u} on {}",
                self.store().backend_name()
            );
            counts.insert((*u).to_owned(), c);
        }
        for a in open.keys() {
            assert!(
                users.contains(&a.as_str()),
                "{a} has open tickets but was not checked"
            );
        }
        counts
    }

    /// The approved engineers by load, as the index has them: (userId, load key).
    pub async fn engineers_by_load(&self) -> Vec<(String, i64)> {
        let page = self
            .store()
            .query(&crm_shared::store::Query {
                index: crm_shared::store::schema::Index::Gsi4,
                pk: keys::ENGINEERS_BY_LOAD.into(),
                range: crm_shared::store::Range::All,
                limit: 1000,
            })
            .await
            .expect("querying the load index");
        assert!(!page.more);
        page.items
            .iter()
            .map(|i| {
                (
                    i["userId"].as_str().expect("userId").to_owned(),
                    i["gsi4sk"].as_i64().expect("numeric load key"),
                )
            })
            .collect()
    }

    /// How many events wait in the outbox (nothing drains it in these tests).
    pub async fn outbox_len(&self) -> usize {
        let page = self
            .store()
            .query(&crm_shared::store::Query {
                index: crm_shared::store::schema::Index::Gsi1,
                pk: keys::OUTBOX.into(),
                range: crm_shared::store::Range::All,
                limit: 1000,
            })
            .await
            .expect("querying the outbox");
        assert!(!page.more);
        page.items.len()
    }

    /// The outbox, oldest first (every item, whatever its age).
    pub async fn outbox(&self) -> Vec<OutboxEntry> {
        self.store()
            .stale_outbox(Timestamp::now().plus_seconds(3600), 1000)
            .await
            .expect("reading the outbox")
    }

    /// The outbox events of one ticket, oldest first.
    pub async fn outbox_events_of(&self, ticket_id: &str) -> Vec<Event> {
        self.outbox()
            .await
            .into_iter()
            .map(|e| e.event)
            .filter(|e| e.data.ticket.as_ref().is_some_and(|t| t.id == ticket_id))
            .collect()
    }

    /// Writes an item as is (to stage states the API cannot reach).
    pub async fn put_raw(&self, item: serde_json::Map<String, Value>) {
        self.store()
            .transact(vec![Write::Put {
                item,
                cond: Cond::Always,
            }])
            .await
            .expect("raw put");
    }
}

/// A token for `id` issued by this context, verified as a request's would be.
pub fn authed(ctx: &Ctx, id: &str, user_type: UserType) -> Authed {
    let token = token(ctx, id, user_type);
    let mut h = HeaderMap::new();
    h.insert(
        "x-access-token",
        HeaderValue::from_str(&token).expect("header"),
    );
    crm_shared::http::authenticate(&ctx.tokens, &h).expect("a fresh token verifies")
}

/// A token for `id` issued by this context.
pub fn token(ctx: &Ctx, id: &str, user_type: UserType) -> String {
    ctx.tokens
        .issue(&uid(id), user_type, Timestamp::now())
        .expect("issuing a token")
}

pub async fn signup(ctx: &Ctx, id: &str, user_type: UserType) -> Result<Authed, ApiError> {
    service::signup(
        ctx,
        SignupInput {
            name: Name::parse(&id.to_uppercase()).expect("name"),
            user_id: uid(id),
            email: Email::parse(&email_of(id)).expect("email"),
            password: Password::parse(PASSWORD).expect("password"),
            user_type,
        },
    )
    .await?;
    Ok(authed(ctx, id, user_type))
}

/// A user item as the store would hold it, but at partition `pk` and, when `in_index`, in
/// the engineers-by-load index with load key `load`: to stage index entries that never match
/// their user item (a load that changes before every commit) or an approved engineer the
/// index lacks (an assignee that is never assignable at commit time).
pub fn staged_user_item(
    user_id: &str,
    pk: &str,
    in_index: bool,
    load: i64,
) -> serde_json::Map<String, Value> {
    let mut rec = UserRecord::new(
        uid(user_id),
        Name::parse("Staged").expect("name"),
        Email::parse(&format!("{user_id}@staged.example")).expect("email"),
        UserType::Engineer,
        UserStatus::Approved,
        "$2b$04$not-a-real-hash".into(),
        Timestamp::now(),
    );
    rec.load_key = load;
    let Ok(Value::Object(mut item)) = serde_json::to_value(&rec) else {
        panic!("a user record serializes to an object")
    };
    item.insert("pk".into(), Value::String(pk.into()));
    item.insert("sk".into(), Value::String(keys::USER_SK.into()));
    if in_index {
        item.insert(
            "gsi4pk".into(),
            Value::String(keys::ENGINEERS_BY_LOAD.into()),
        );
    }
    item
}

/// How many workload jobs `store` holds (up to 100).
pub async fn pending_jobs(store: &Store) -> usize {
    store
        .query(&Query {
            index: Index::Gsi1,
            pk: keys::JOBS.into(),
            range: Range::All,
            limit: 100,
        })
        .await
        .expect("jobs")
        .items
        .len()
}

/// Waits until `store` holds no workload job (an approval, a departure, room freed under the
/// capacity: SPEC §3 "Workload" runs them after the request), failing the test after `within`.
pub async fn settle(store: &Store, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while pending_jobs(store).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "workload jobs still pending after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
