//! The rows of the cost section: one operation each, as a closure that prepares what it
//! needs (not measured), measures one call with `World::measure`, and returns the needs its
//! floor is made of. A capability that lands adds its rows here (and its steps to the
//! ticket's life in price.rs when a ticket's life includes it).

use super::floor::{
    Mode, Need, Read, get, query, query_strong, transient, write, write_new, write_new_in,
    write_new_sk,
};
use super::price::{Function, Trigger};
use super::{Caller, Env, Row, World, row, user_key};
use crm_shared::model::{
    Email, Event, EventType, JobKind, TicketId, Timestamp, UserStatus, UserType,
};
use crm_shared::store::feed::{SHARDS, shard_of};
use crm_shared::store::schema::Index;
use crm_shared::store::{Key, Position, Range, SortKey, keys};
use http::Method;
use serde_json::{Value, json};
use std::time::Duration;

pub const TITLE: &str = "The printer on floor 3 jams";
/// A typical description: a few sentences.
pub const DESCRIPTION: &str = "Since this morning the printer on the third floor jams on every second page. \
I have cleared the paper path twice and replaced the toner; the error light stays on and the \
queue keeps growing. Several colleagues need to print contracts today, so this is urgent for \
us. The model is an HP LaserJet M607, asset tag 4471.";
const COMMENT: &str = "Thanks for looking into it. It also happens with the manual feed tray, \
and it started right after the firmware update on Monday.";
const NEW_PASSWORD: &str = "crmService@2";

/// Why a read costs 1 RCU where the floor has 0.5: the DynamoDB backend reads every item
/// strongly consistent.
const TARGET_STRONG: &str = "The target is read strongly consistent (`DynamoBackend::get` reads every item so), where only the answer depends on it: +0.5 RCU. It buys read-your-writes: a client's GET right after its own change sees it.";
const BEFORE_WRITE_STRONG: &str = "The item the write is conditioned on (its `version`) is read strongly consistent: +0.5 RCU. An eventually consistent read would be as safe (a stale read fails the condition and is read again, as a concurrent change already is), at the price of a retry in the rare case the read lags the last write.";
const COMMENT_WHY: &str = "The ticket is read strongly consistent before the transaction, which holds a ConditionCheck of its `version`: +0.5 RCU. The check is needed (a reporter's comment on a ticket closed meanwhile must reopen it in the same write), so it is no waste; DynamoDB Local reports it at 0 WCU and DynamoDB bills it (see below), and given the check, the read could be eventually consistent.";
const PAGE_STRONG: &str = "The ticket (who may see it) and the page of its partition are read strongly consistent (every GetItem, and every query of the table rather than an index, is): +0.5 RCU each.";
const PASSWORD: &str = "The new hash (with the token generation) and its `user.updated` event (outbox and change feed items) are one transaction (`Store::change_password`), as every change with its event is; the clearing of the sign-in window rides in it, which doubles it: 2 WCU where a standard delete costs 1. SPEC asks for the tokens to stop working and the failures to be cleared, not for the two to be atomic: a crash between them leaves failures counted a little longer. The reservation before bcrypt (one put) is at the floor.";
const DELIVERY: &str = "The claim is one conditional put (the marker is read only when the put is refused, that is for a copy), the recipients are read eventually consistent (resolved at send time: a second's lag is as good), and the finish is two standard writes (the SENT marker, then the outbox item's deletion: a crash between them leaves an outbox item whose re-push finds SENT and only deletes it). The query of earlier recipient markers (strongly consistent, of the table) finds none on a first delivery and costs 0 here.";
const DELIVERY_AGAIN: &str = "As for TICKET_CREATED.";
const FEED_PAGE: &str = "A page reads every shard of the feed (16 queries at once, each strongly consistent and of the table: the visibility argument needs every committed item, docs/events.md), each asked for its share of the page plus 2 (`limit ÷ 16 + 2`; the DynamoDB backend asks one more to know whether more follow), so it reads up to 3 items per shard that the page does not return, and each query's bytes round up to 4 KB on their own. The floor counts only the page's own items, per shard. Flat in the table's size: section 10.";
const DISPATCH: &str = "The subscription and the delivery record are read strongly consistent beside each other (1 RCU where 0.5 is the floor for each), and both are needed so: the delivery record is written by the notifier's fan-out a moment before its message is queued, and an eventually consistent read may not find it yet, which the dispatcher must take for a stale message and drop; a stale subscription could sign with a secret rotated a moment ago. The delivery record holds the event's body (the signed bytes, the same on every attempt), so its rewrite costs by the event's size.";
const BACKLOG: &str = "The job's item is read strongly consistent (`job_pending`): +0.5 RCU, where every step is conditioned on what it reads and an eventual read would do.";
const DEPARTURE: &str = "The job's item and the departed engineer are read strongly consistent: +0.5 RCU each, where every step is conditioned on what it reads.";

fn ticket_key(id: &str) -> anyhow::Result<Key> {
    Ok(keys::ticket(&TicketId::parse(id)?))
}

fn ticket_pk(id: &str) -> String {
    format!("TICKET#{id}")
}

/// The caller's user item, read strongly consistent on every authenticated request.
fn caller(c: &Caller) -> anyhow::Result<Need> {
    Ok(get("the caller", c.key()?, Read::Strong))
}

fn id_in(body: &Value) -> anyhow::Result<String> {
    body.pointer("/data/_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no _id in {body}"))
}

/// The writes of a ticket change (SPEC §3: one atomic write): the ticket, each assignee whose
/// count moves, the history entry and the outbox event.
fn ticket_change(ticket: &str, counts: &[&str]) -> anyhow::Result<Vec<Need>> {
    let mut v = vec![write("the ticket", ticket_key(ticket)?, Mode::Transaction)];
    for u in counts {
        v.push(write(
            format!("{u}'s open count"),
            user_key(u)?,
            Mode::Transaction,
        ));
    }
    v.push(write_new(
        "the history entry",
        ticket_pk(ticket),
        keys::HISTORY_PREFIX,
        Mode::Transaction,
    ));
    v.extend(event_records());
    Ok(v)
}

/// The records of the change's event, in its transaction: the outbox item (the webhooks,
/// the bus: SPEC §6) and the change feed item (SPEC §8).
fn event_records() -> [Need; 2] {
    [
        write_new_sk("the outbox event", keys::OUTBOX, Mode::Transaction),
        write_new_in("the change feed item", keys::FEED_PREFIX, Mode::Transaction),
    ]
}

fn least_loaded() -> Need {
    query(
        "the least-loaded engineer",
        Index::Gsi4,
        keys::ENGINEERS_BY_LOAD,
        Range::All,
        1,
    )
}

/// A delivery's floor: the recipients read eventually consistent (resolved at send time; a
/// change a second old is as good), a claim before sending (two copies of one SQS message
/// must not both send), one marker per recipient (SPEC §4: a retry mails only those not
/// mailed), the event marked sent and its outbox item deleted: standard writes each, since
/// each is safe alone (a crash between them leaves an outbox item the sweep re-pushes and
/// the SENT marker turns into a no-op).
fn delivery(e: &crm_shared::model::Event) -> anyhow::Result<Vec<Need>> {
    let t = e
        .data
        .ticket
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("not a ticket event"))?;
    let mut v = vec![get("the reporter", user_key(&t.reporter)?, Read::Eventual)];
    if let Some(a) = &t.assignee {
        v.push(get("the assignee", user_key(a)?, Read::Eventual));
    }
    v.push(query(
        "the approved admins",
        Index::Gsi2,
        keys::users_by(UserType::Admin, UserStatus::Approved),
        Range::All,
        100,
    ));
    // The webhook fan-out reads the subscriptions (none here: the query finds nothing).
    v.push(query(
        "the webhook subscriptions (fan-out)",
        Index::Table,
        "WEBHOOKS",
        Range::Prefix("SUB#".into()),
        100,
    ));
    let marker = keys::delivery(e.key_id());
    v.push(write(
        "the delivery marker (the claim)",
        marker.clone(),
        Mode::Standard,
    ));
    v.push(write_new(
        "a recipient marker",
        keys::event_partition(e.key_id()),
        keys::MAILED_PREFIX,
        Mode::Standard,
    ));
    v.push(write("the delivery marker (sent)", marker, Mode::Standard));
    v.push(write(
        "the outbox event",
        keys::outbox(e.key_id()),
        Mode::Standard,
    ));
    Ok(v)
}

/// The job item read (eventually: every step is conditioned on what it reads) and removed.
fn job_item(job_id: &str) -> (Need, Need) {
    (
        get("the job", keys::job(job_id), Read::Eventual),
        write("the job (removed)", keys::job(job_id), Mode::Standard),
    )
}

pub fn rows() -> Vec<Row> {
    vec![
        row(
            "POST /auth/signup",
            Function::Auth,
            Trigger::Api,
            "",
            |e: std::sync::Arc<Env>, i| async move {
                let w = &e.main;
                let id = format!("su{i}");
                let email = format!("{id}@bench.example");
                let body = json!({"name": "Sign Up", "userId": id, "email": email, "password": crate::fixtures::PASSWORD});
                let (_, s) = w
                    .measure(w.api(Method::POST, "/auth/signup", None, Some(body), 201))
                    .await?;
                let mut needs = vec![
                    write("the user", user_key(&id)?, Mode::Transaction),
                    write(
                        "its email sentinel (uniqueness)",
                        keys::email(&Email::parse(&email)?),
                        Mode::Transaction,
                    ),
                ];
                needs.extend(event_records());
                Ok(s.needs(needs))
            },
        ),
        row(
            "POST /auth/signin",
            Function::Auth,
            Trigger::Api,
            "",
            |e, _| async move {
                let w = &e.main;
                let body = json!({"userId": w.cust.id, "password": crate::fixtures::PASSWORD});
                let (_, s) = w
                    .measure(w.api(Method::POST, "/auth/signin", None, Some(body), 200))
                    .await?;
                Ok(s.needs([
                    get("the user", w.cust.key()?, Read::Strong),
                    transient(
                        "the sign-in window (a check reserved before bcrypt, given back after a right password)",
                        2,
                        Mode::Standard,
                    ),
                ]))
            },
        ),
        row(
            "GET /users/{userId} (admin)",
            Function::Users,
            Trigger::Api,
            TARGET_STRONG,
            |e, _| async move {
                let w = &e.main;
                let path = format!("/users/{}", w.cust.id);
                let (_, s) = w
                    .measure(w.api(Method::GET, &path, Some(&w.admin), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.admin)?,
                    get("the user", w.cust.key()?, Read::Eventual),
                ]))
            },
        ),
        row(
            "GET /users (admin)",
            Function::Users,
            Trigger::Api,
            "",
            |e, _| async move {
                let w = &e.main;
                let (_, s) = w
                    .measure(w.api(Method::GET, "/users", Some(&w.admin), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.admin)?,
                    query(
                        "a page of users",
                        Index::Gsi1,
                        keys::USERS_ALL,
                        Range::All,
                        100,
                    ),
                ]))
            },
        ),
        row(
            "PUT /users/{self} (name)",
            Function::Users,
            Trigger::Api,
            "",
            |e, i| async move {
                let w = &e.main;
                let path = format!("/users/{}", w.cust.id);
                let body = json!({"name": format!("Customer {i}")});
                let (_, s) = w
                    .measure(w.api(Method::PUT, &path, Some(&w.cust), Some(body), 200))
                    .await?;
                let mut needs = vec![
                    get("the caller, who is the user", w.cust.key()?, Read::Strong),
                    write("the user", w.cust.key()?, Mode::Transaction),
                ];
                needs.extend(event_records());
                Ok(s.needs(needs))
            },
        ),
        row(
            "PUT /users/{userId} (admin approves an engineer)",
            Function::Users,
            Trigger::Api,
            BEFORE_WRITE_STRONG,
            |e, i| async move {
                let w = &e.main;
                let eng = w.signup(&format!("pe{i}"), UserType::Engineer).await?;
                let path = format!("/users/{}", eng.id);
                let body = json!({"userStatus": "APPROVED"});
                let (_, s) = w
                    .measure(w.api(Method::PUT, &path, Some(&w.admin), Some(body), 200))
                    .await?;
                let mut needs = vec![
                    caller(&w.admin)?,
                    get("the engineer", eng.key()?, Read::Eventual),
                    write("the engineer", eng.key()?, Mode::Transaction),
                    write_new_sk(
                        "the backlog job (SPEC §3: committed with the approval)",
                        "JOB",
                        Mode::Transaction,
                    ),
                ];
                needs.extend(event_records());
                Ok(s.needs(needs))
            },
        ),
        row(
            "PUT /users/{self}/password",
            Function::Users,
            Trigger::Api,
            PASSWORD,
            |e, i| async move {
                let w = &e.main;
                let u = w.signup(&format!("pw{i}"), UserType::Customer).await?;
                let path = format!("/users/{}/password", u.id);
                let body = json!({"currentPassword": crate::fixtures::PASSWORD, "newPassword": NEW_PASSWORD});
                let (_, s) = w
                    .measure(w.api(Method::PUT, &path, Some(&u), Some(body), 200))
                    .await?;
                let mut needs = vec![
                    get("the caller, who is the user", u.key()?, Read::Strong),
                    transient(
                        "the sign-in window (a wrong currentPassword counts: reserved before bcrypt, cleared after)",
                        2,
                        Mode::Standard,
                    ),
                    write(
                        "the user (hash, token generation)",
                        u.key()?,
                        Mode::Transaction,
                    ),
                ];
                needs.extend(event_records());
                Ok(s.needs(needs))
            },
        ),
        row(
            "POST /auth/signout",
            Function::Auth,
            Trigger::Api,
            "",
            |e, i| async move {
                let w = &e.main;
                let u = w.signup(&format!("so{i}"), UserType::Customer).await?;
                let (_, s) = w
                    .measure(w.api(Method::POST, "/auth/signout", Some(&u), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&u)?,
                    write("the user (token generation)", u.key()?, Mode::Standard),
                ]))
            },
        ),
        row(
            "POST /tickets",
            Function::Tickets,
            Trigger::Api,
            "",
            |e, _| async move {
                let w = &e.main;
                let body = json!({"title": TITLE, "description": DESCRIPTION});
                let (created, s) = w
                    .measure(w.api(Method::POST, "/tickets", Some(&w.cust), Some(body), 201))
                    .await?;
                let id = id_in(&created)?;
                let assignee: Vec<&str> = created
                    .pointer("/data/assignee")
                    .and_then(Value::as_str)
                    .into_iter()
                    .collect();
                let mut needs = vec![
                    caller(&w.cust)?,
                    least_loaded(),
                    // SPEC §10: due times under the policy in force at creation, so a policy
                    // put a moment before is read (strongly consistent; missing here: the
                    // minimum, 1 RCU).
                    get("the SLA policy in force", keys::sla_current(), Read::Strong),
                ];
                needs.extend(ticket_change(&id, &assignee)?);
                Ok(s.needs(needs))
            },
        ),
        row(
            "GET /tickets/{id}",
            Function::Tickets,
            Trigger::Api,
            TARGET_STRONG,
            |e, _| async move {
                let w = &e.main;
                let path = format!("/tickets/{}", e.ticket);
                let (_, s) = w
                    .measure(w.api(Method::GET, &path, Some(&w.cust), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.cust)?,
                    get("the ticket", ticket_key(&e.ticket)?, Read::Eventual),
                ]))
            },
        ),
        row(
            "GET /tickets (customer)",
            Function::Tickets,
            Trigger::Api,
            "",
            |e, _| async move {
                let w = &e.main;
                let (_, s) = w
                    .measure(w.api(Method::GET, "/tickets", Some(&w.cust), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.cust)?,
                    query(
                        "the customer's tickets (a page)",
                        Index::Gsi1,
                        keys::by_reporter(&crm_shared::model::UserId::parse(&w.cust.id)?),
                        Range::All,
                        100,
                    ),
                ]))
            },
        ),
        row(
            "PUT /tickets/{id} (priority)",
            Function::Tickets,
            Trigger::Api,
            BEFORE_WRITE_STRONG,
            |e, i| async move {
                let w = &e.main;
                let path = format!("/tickets/{}", e.ticket);
                let body = json!({"ticketPriority": 2 + (i % 2)});
                let (_, s) = w
                    .measure(w.api(Method::PUT, &path, Some(&w.cust), Some(body), 200))
                    .await?;
                let mut needs = vec![
                    caller(&w.cust)?,
                    get("the ticket", ticket_key(&e.ticket)?, Read::Eventual),
                ];
                needs.extend(ticket_change(&e.ticket, &[])?);
                Ok(s.needs(needs))
            },
        ),
        row(
            "PUT /tickets/{id} (close)",
            Function::Tickets,
            Trigger::Api,
            BEFORE_WRITE_STRONG,
            |e, _| async move {
                let w = &e.main;
                let (id, assignee) = w.new_ticket(&w.cust).await?;
                let path = format!("/tickets/{id}");
                let body = json!({"status": "CLOSED"});
                let (_, s) = w
                    .measure(w.api(Method::PUT, &path, Some(&w.cust), Some(body), 200))
                    .await?;
                let counts: Vec<&str> = assignee.as_deref().into_iter().collect();
                let mut needs = vec![
                    caller(&w.cust)?,
                    get("the ticket", ticket_key(&id)?, Read::Eventual),
                ];
                needs.extend(ticket_change(&id, &counts)?);
                Ok(s.needs(needs))
            },
        ),
        row(
            "GET /tickets/{id}/history",
            Function::Tickets,
            Trigger::Api,
            PAGE_STRONG,
            |e, _| async move {
                let w = &e.main;
                let path = format!("/tickets/{}/history", e.ticket);
                let (_, s) = w
                    .measure(w.api(Method::GET, &path, Some(&w.cust), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.cust)?,
                    get(
                        "the ticket (who may see it)",
                        ticket_key(&e.ticket)?,
                        Read::Eventual,
                    ),
                    query(
                        "the history (first page)",
                        Index::Table,
                        ticket_pk(&e.ticket),
                        Range::Prefix(keys::HISTORY_PREFIX.into()),
                        100,
                    ),
                ]))
            },
        ),
        row(
            "POST /tickets/{id}/comments",
            Function::Tickets,
            Trigger::Api,
            COMMENT_WHY,
            |e, _| async move {
                let w = &e.main;
                let path = format!("/tickets/{}/comments", e.ticket);
                let body = json!({"body": COMMENT});
                let (_, s) = w
                    .measure(w.api(Method::POST, &path, Some(&w.cust), Some(body), 201))
                    .await?;
                let mut needs = vec![
                    caller(&w.cust)?,
                    get("the ticket", ticket_key(&e.ticket)?, Read::Eventual),
                    write_new(
                        "the comment",
                        ticket_pk(&e.ticket),
                        keys::COMMENT_PREFIX,
                        Mode::Transaction,
                    ),
                ];
                needs.extend(event_records());
                Ok(s.needs(needs))
            },
        ),
        row(
            "GET /tickets/{id}/comments",
            Function::Tickets,
            Trigger::Api,
            PAGE_STRONG,
            |e, _| async move {
                let w = &e.main;
                let path = format!("/tickets/{}/comments", e.ticket);
                let (_, s) = w
                    .measure(w.api(Method::GET, &path, Some(&w.cust), None, 200))
                    .await?;
                Ok(s.needs([
                    caller(&w.cust)?,
                    get(
                        "the ticket (who may see it)",
                        ticket_key(&e.ticket)?,
                        Read::Eventual,
                    ),
                    query(
                        "the comments (first page)",
                        Index::Table,
                        ticket_pk(&e.ticket),
                        Range::Prefix(keys::COMMENT_PREFIX.into()),
                        100,
                    ),
                ]))
            },
        ),
        row(
            "notifier: ticket.created",
            Function::Notifier,
            Trigger::Queue,
            DELIVERY,
            |e, _| async move {
                let w = &e.main;
                let (id, _) = w.new_ticket(&w.cust).await?;
                let ev = w.event(|ev| {
                    ev.event_type == EventType::TicketCreated
                        && ev.data.ticket.as_ref().is_some_and(|t| t.id == id)
                })?;
                let (_, s) = w.measure(deliver(w, &ev)).await?;
                Ok(s.needs(delivery(&ev)?))
            },
        ),
        row(
            "notifier: ticket.updated",
            Function::Notifier,
            Trigger::Queue,
            DELIVERY_AGAIN,
            |e, _| async move {
                let w = &e.main;
                let (id, _) = w.new_ticket(&w.cust).await?;
                w.prep(
                    Method::PUT,
                    &format!("/tickets/{id}"),
                    Some(&w.cust),
                    Some(json!({"ticketPriority": 2})),
                    200,
                )
                .await?;
                let ev = w.event(|ev| {
                    ev.event_type == EventType::TicketUpdated
                        && ev.data.ticket.as_ref().is_some_and(|t| t.id == id)
                })?;
                let (_, s) = w.measure(deliver(w, &ev)).await?;
                Ok(s.needs(delivery(&ev)?))
            },
        ),
        row(
            "notifier: comment.created",
            Function::Notifier,
            Trigger::Queue,
            DELIVERY_AGAIN,
            |e, _| async move {
                let w = &e.main;
                let (id, _) = w.new_ticket(&w.cust).await?;
                w.prep(
                    Method::POST,
                    &format!("/tickets/{id}/comments"),
                    Some(&w.cust),
                    Some(json!({"body": COMMENT})),
                    201,
                )
                .await?;
                let ev = w.event(|ev| {
                    ev.event_type == EventType::CommentCreated
                        && ev.data.ticket.as_ref().is_some_and(|t| t.id == id)
                })?;
                let (_, s) = w.measure(deliver(w, &ev)).await?;
                Ok(s.needs(delivery(&ev)?))
            },
        ),
        row(
            "notifier: scheduled sweep, nothing stale",
            Function::Notifier,
            Trigger::Schedule,
            "",
            |e, _| async move {
                let w = &e.main;
                let (_, s) = w
                    .measure(async {
                        w.notifier
                            .handle(crm_notifier::Invocation::sweep())
                            .await
                            .map_err(|e| anyhow::anyhow!("sweep: {e}"))
                    })
                    .await?;
                let before = Timestamp::now()
                    .plus_seconds(-w.notifier.sweep_age_seconds)
                    .sort_key();
                Ok(s.needs([
                    query(
                        "stale outbox events",
                        Index::Gsi1,
                        keys::OUTBOX,
                        Range::Before(SortKey::S(before.clone())),
                        100,
                    ),
                    query(
                        "interrupted jobs",
                        Index::Gsi1,
                        keys::JOBS,
                        Range::Before(SortKey::S(before)),
                        100,
                    ),
                ]))
            },
        ),
        row(
            "dispatcher: a webhook delivery (receiver answers 204)",
            Function::Dispatcher,
            Trigger::Queue,
            DISPATCH,
            |e, i| async move {
                let w = &e.main;
                let store = &w.ctx.store;
                let addr = receiver().await?;
                let now = Timestamp::now().rfc3339();
                let sub = crm_shared::store::SubscriptionRecord {
                    subscription_id: crm_shared::model::new_ulid().to_string(),
                    url: format!("http://{addr}/hook{i}"),
                    events: vec!["ticket.created".into()],
                    description: None,
                    enabled: true,
                    secret: crm_shared::store::SecretText(
                        crm_shared::webhooks::signature::Secret::generate().reveal(),
                    ),
                    previous_secret: None,
                    rotated_at_ms: None,
                    created_at: now.clone(),
                    updated_at: now,
                    disabled_reason: None,
                    failing_since_ms: None,
                    version: 1,
                };
                store
                    .create_subscription(&sub)
                    .await
                    .map_err(|e| anyhow::anyhow!("subscription: {e:?}"))?;
                let (id, _) = w.new_ticket(&w.cust).await?;
                let ev = w.event(|ev| {
                    ev.event_type == EventType::TicketCreated
                        && ev.data.ticket.as_ref().is_some_and(|t| t.id == id)
                })?;
                crm_notifier::integrations::Integrations::default()
                    .handle(store, &ev)
                    .await
                    .map_err(|e| anyhow::anyhow!("fan-out: {e}"))?;
                // Out of the others' way once measured: the next rows' fan-outs see none.
                let dispatcher = crm_dispatcher::Dispatcher {
                    store: store.clone(),
                    client: crm_dispatcher::WebhookClient::new()?,
                    resolver: std::sync::Arc::new(crm_dispatcher::SystemResolver),
                    policy: crm_dispatcher::Policy {
                        addresses: crm_shared::webhooks::address::AddressPolicy {
                            allow_http: true,
                            allow_private: true,
                        },
                        timeout: std::time::Duration::from_secs(15),
                    },
                    queue: Default::default(),
                    retry_scale: 1.0,
                };
                let message = crm_shared::webhooks::queue::DeliveryRef {
                    subscription_id: sub.subscription_id.clone(),
                    delivery_id: ev.key_id().to_owned(),
                    attempts: 0,
                };
                let (handled, s) = w
                    .measure(async {
                        dispatcher
                            .handle(&message)
                            .await
                            .map_err(|e| anyhow::anyhow!("dispatch: {e}"))
                    })
                    .await?;
                anyhow::ensure!(
                    matches!(
                        handled,
                        crm_dispatcher::Handled::Attempted {
                            outcome: crm_dispatcher::Outcome::Succeeded,
                            ..
                        }
                    ),
                    "the delivery did not succeed: {handled:?}"
                );
                store.delete_subscription(&sub.subscription_id).await?;
                let record = crm_shared::store::webhooks_keys::delivery_key(
                    &sub.subscription_id,
                    ev.key_id(),
                );
                Ok(s.needs([
                    get(
                        "the subscription",
                        crm_shared::store::webhooks_keys::subscription_key(&sub.subscription_id),
                        Read::Eventual,
                    ),
                    get("the delivery record", record.clone(), Read::Eventual),
                    write("the delivery record (the attempt)", record, Mode::Standard),
                ]))
            },
        ),
        row(
            "workload: backlog job, one ticket",
            Function::Notifier,
            Trigger::Queue,
            BACKLOG,
            |e, i| async move {
                let w = &e.work;
                let eng = w.signup(&format!("bk{i}"), UserType::Engineer).await?;
                let (id, assignee) = w.new_ticket(&w.cust).await?;
                anyhow::ensure!(assignee.is_none(), "the backlog ticket was assigned");
                w.set_status(&eng.id, "APPROVED").await?;
                let job = w.job(|j| j.kind == JobKind::Backlog)?;
                let (report, s) = w
                    .measure(async {
                        w.notifier
                            .run_job(&job)
                            .await
                            .map_err(|e| anyhow::anyhow!("backlog job: {e}"))
                    })
                    .await?;
                anyhow::ensure!(report.assigned == 1, "the job assigned {}", report.assigned);
                let (read_job, remove_job) = job_item(&job.job_id);
                let mut needs = vec![
                    read_job,
                    query(
                        "the unassigned tickets (first page)",
                        Index::Gsi2,
                        keys::by_assignee(None),
                        Range::All,
                        25,
                    ),
                    least_loaded(),
                ];
                needs.extend(ticket_change(&id, &[eng.id.as_str()])?);
                needs.push(remove_job);
                Ok(s.needs(needs))
            },
        ),
        row(
            "workload: departure job, one ticket",
            Function::Notifier,
            Trigger::Queue,
            DEPARTURE,
            |e, i| async move {
                let w = &e.work;
                let gone = w.signup(&format!("dp{i}"), UserType::Engineer).await?;
                w.set_status(&gone.id, "APPROVED").await?;
                let (id, assignee) = w.new_ticket(&w.cust).await?;
                anyhow::ensure!(
                    assignee.as_deref() == Some(gone.id.as_str()),
                    "the departing engineer's ticket went to {assignee:?}"
                );
                let next = w.signup(&format!("nx{i}"), UserType::Engineer).await?;
                w.set_status(&next.id, "APPROVED").await?;
                w.set_status(&gone.id, "REJECTED").await?;
                let job = w.job(
                    |j| matches!(&j.kind, JobKind::Departure { engineer } if *engineer == gone.id),
                )?;
                let (report, s) = w
                    .measure(async {
                        w.notifier
                            .run_job(&job)
                            .await
                            .map_err(|e| anyhow::anyhow!("departure job: {e}"))
                    })
                    .await?;
                anyhow::ensure!(report.assigned == 1, "the job assigned {}", report.assigned);
                let (read_job, remove_job) = job_item(&job.job_id);
                let mut needs = vec![
                    read_job,
                    get(
                        "the departed engineer (not back)",
                        gone.key()?,
                        Read::Eventual,
                    ),
                    query(
                        "the departed engineer's tickets (first page)",
                        Index::Gsi2,
                        keys::by_assignee(Some(&crm_shared::model::UserId::parse(&gone.id)?)),
                        Range::All,
                        25,
                    ),
                    least_loaded(),
                ];
                needs.extend(ticket_change(&id, &[gone.id.as_str(), next.id.as_str()])?);
                needs.push(remove_job);
                Ok(s.needs(needs))
            },
        ),
        // Last: its preparation adds tickets to the main world.
        row(
            "GET /events (admin, a page of 100)",
            Function::Users,
            Trigger::Api,
            FEED_PAGE,
            |e, i| async move {
                let w = &e.main;
                if i == 0 {
                    // A full page of events after `feed_since` whatever the rows before did,
                    // then every one of them past the horizon (not measured).
                    for _ in 0..FEED_PAGE_EVENTS {
                        w.new_ticket(&w.cust).await?;
                    }
                    let wait = w.ctx.store.feed_clock().horizon() + Duration::from_millis(200);
                    tokio::time::sleep(wait).await;
                }
                let since = e.feed_since;
                let path = format!("/events?since={}&limit={FEED_PAGE_EVENTS}", since.rfc3339());
                let (page, s) = w
                    .measure(w.api(Method::GET, &path, Some(&w.admin), None, 200))
                    .await?;
                let events: Vec<Event> = serde_json::from_value(page["data"].clone())?;
                anyhow::ensure!(
                    events.len() == FEED_PAGE_EVENTS,
                    "a page of {} events",
                    events.len()
                );
                let mut per_shard = [0usize; SHARDS];
                for ev in &events {
                    per_shard[shard_of(ev.key_id())] += 1;
                }
                let mut needs = vec![caller(&w.admin)?];
                for (n, &k) in per_shard.iter().enumerate().filter(|(_, k)| **k > 0) {
                    needs.push(query_strong(
                        format!("the page's events in shard {n}"),
                        keys::feed_shard(n),
                        Range::After(SortKey::S(Position::at(since).as_str().to_owned())),
                        k,
                    ));
                }
                Ok(s.needs(needs))
            },
        ),
    ]
}

/// The change feed row's page size (SPEC §8's default).
const FEED_PAGE_EVENTS: usize = 100;
/// A receiver on a loopback port that answers every request `204` (the dispatcher row's).
async fn receiver() -> anyhow::Result<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // The head, then the body by its Content-Length.
                loop {
                    let Ok(n) = s.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn deliver(w: &World, ev: &crm_shared::model::Event) -> anyhow::Result<()> {
    w.notifier
        .deliver(ev)
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("deliver: {e:?}"))
}
