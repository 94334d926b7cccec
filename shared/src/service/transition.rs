//! The ticket transition: the one way a ticket changes. A use case reads, decides the ticket
//! after (and the comment or idempotency record that rides with it), and hands both here;
//! from them this module derives the field diff, the history entry, the event with the
//! ticket's new version, the count deltas, the assignee check and the backlog job, and
//! `commit` writes them in one transaction. `Tries` owns the retry.
//!
//! Service levels (SPEC §10) are derived here too, for every kind of change alike
//! (`service::sla::derive`): a change brings the ticket's clocks and due times up to date
//! and records, in its own transaction, the breaches late at its instant. SLA bookkeeping is
//! not a field clients set: it is not in the history or `changes`, and by itself bumps no
//! `version` (the change that moves it — a status or priority change — does; a first
//! response rides on its comment, which leaves the version as every comment does). A breach
//! mark (`Transition::mark`, the sweep's) is a change of its own kind: no version, no
//! history, no `ticket.updated`, one `sla.breached` per target.

use crate::counters::{count_deltas, frees_capacity};
use crate::model::{
    Change, Changes, Event, EventData, EventType, IdempotencyKey, Job, JobKind, TicketStatus,
    Timestamp, UserId, UserType,
};
use crate::queue::{JobQueue, Publisher};
use crate::sla::Metric;
use crate::store::{
    CommentRecord, HistoryEntry, IdempotencyRecord, Store, StoreError, TicketChange, TicketRecord,
    TicketWriteError, Write,
};
use serde_json::{Value, json};

/// The fields a ticket's history and events show, in the order they are listed: a new
/// ticket field that clients see is one more line here.
fn fields(t: &TicketRecord) -> [(&'static str, Value); 10] {
    [
        ("title", json!(t.title.as_str())),
        ("description", json!(t.description.as_str())),
        ("ticketPriority", json!(t.ticket_priority.get())),
        ("status", json!(t.status.as_str())),
        ("reporter", json!(t.reporter.as_str())),
        ("assignee", json!(t.assignee.as_ref().map(UserId::as_str))),
        // SPEC §11: sets, shown whole (`[]` when empty).
        ("tags", json!(t.tags.names())),
        ("followers", json!(t.followers)),
        // SPEC §12.
        ("satisfaction", json!(t.satisfaction)),
        ("mergedInto", json!(t.merged_into)),
    ]
}

/// What changed from `before` (None: nothing, a creation: every set field from null; an
/// empty set is not set) to `after`.
pub fn diff(before: Option<&TicketRecord>, after: &TicketRecord) -> Vec<Change> {
    let old = before.map(fields);
    let unset = |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty);
    fields(after)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (field, to))| {
            let from = old.as_ref().map_or(Value::Null, |o| o[i].1.clone());
            let set = old.is_some() || !unset(&to);
            (set && from != to).then(|| Change {
                field: field.to_owned(),
                from,
                to,
            })
        })
        .collect()
}

/// What kind of change: it decides the event's type and what rides with the ticket.
#[derive(Debug, Clone)]
pub enum Kind {
    Created,
    Updated,
    /// A comment (or internal note); the ticket changes only when the comment reopens it.
    Commented(CommentRecord),
    /// The breach sweep records the targets late now (SPEC §10): nothing else changes.
    Marked,
    /// The reporter rates the closed ticket (SPEC §12): a `satisfaction.rated` event.
    Rated,
}

/// One ticket change, as decided by a use case.
#[derive(Debug, Clone)]
pub struct Transition {
    actor: UserId,
    kind: Kind,
    before: Option<TicketRecord>,
    after: TicketRecord,
    /// The bound a system-chosen assignee was chosen under (shared/src/assignment.rs).
    bound: Option<i64>,
    remember: Option<(IdempotencyKey, String, i64)>,
    /// Conditions on other items that must hold when the change commits (a new follower is
    /// still APPROVED); one that fails loses the try like a taken idempotency key.
    checks: Vec<Write>,
    /// When the change happens: its history entry's and event's time, and `updatedAt`.
    at: Timestamp,
    /// A comment's author's user type (whether it is the ticket's first response).
    author_type: Option<UserType>,
    /// Another ticket's change committed in the same transaction (a merge's target).
    also: Option<Box<Transition>>,
}

impl Transition {
    /// A new ticket (version 1, its timestamps as given).
    pub fn create(actor: UserId, mut ticket: TicketRecord) -> Self {
        ticket.version = 1;
        Self::new(actor, Kind::Created, None, ticket)
    }

    /// `before` becomes `after` (the version and `updatedAt` are set at commit).
    pub fn update(actor: UserId, before: TicketRecord, after: TicketRecord) -> Self {
        Self::new(actor, Kind::Updated, Some(before), after)
    }

    /// A comment on `before`, which becomes `after` (equal to it unless the comment reopens
    /// the ticket).
    pub fn comment(
        actor: UserId,
        comment: CommentRecord,
        before: TicketRecord,
        after: TicketRecord,
    ) -> Self {
        Self::new(actor, Kind::Commented(comment), Some(before), after)
    }

    /// The reporter's rating of `before` (CLOSED), which becomes `after` with its
    /// `satisfaction` (SPEC §12).
    pub fn rate(actor: UserId, before: TicketRecord, after: TicketRecord) -> Self {
        Self::new(actor, Kind::Rated, Some(before), after)
    }

    /// The breach sweep's mark of `before` at `at`: the targets late then, recorded once.
    pub fn mark(before: TicketRecord, at: Timestamp) -> Self {
        let after = before.clone();
        Self::new(UserId::system(), Kind::Marked, Some(before), after).at(at)
    }

    fn new(actor: UserId, kind: Kind, before: Option<TicketRecord>, after: TicketRecord) -> Self {
        Self {
            actor,
            kind,
            before,
            after,
            bound: None,
            remember: None,
            checks: Vec::new(),
            at: Timestamp::now(),
            author_type: None,
            also: None,
        }
    }

    /// Commits `other` (another ticket's change) in this change's transaction: both or
    /// neither (SPEC §12's merge).
    pub fn with(mut self, other: Transition) -> Self {
        self.also = Some(Box::new(other));
        self
    }

    /// A comment's author is of this user type (a public one by staff other than the
    /// reporter is the ticket's first response).
    pub fn by(mut self, author_type: UserType) -> Self {
        self.author_type = Some(author_type);
        self
    }

    /// The change happens at `at` (as a creation's `createdAt` or a comment's), not at commit.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.at = at;
        self
    }

    /// The assignee was chosen by the system under this bound (None: any approved engineer
    /// may be given the ticket, as by an admin's reassignment).
    pub fn chosen_under(mut self, bound: Option<i64>) -> Self {
        self.bound = bound;
        self
    }

    /// Records the answer under the caller's `Idempotency-Key` in the same transaction
    /// (SPEC §3), for `ttl_seconds`, with the request's fingerprint.
    pub fn remembered(mut self, key: Option<&IdempotencyKey>, fingerprint: &str, ttl: i64) -> Self {
        self.remember = key.map(|k| (k.clone(), fingerprint.to_owned(), ttl));
        self
    }

    /// Commits only while `check` (a condition on another item) holds.
    pub fn checked(mut self, check: Write) -> Self {
        self.checks.push(check);
        self
    }

    /// The ticket as decided (its version and `updatedAt` are set at commit).
    pub fn ticket(&self) -> &TicketRecord {
        &self.after
    }

    /// Whether committing would change nothing (an update that sets what is already there).
    pub fn changes_nothing(&self) -> bool {
        matches!(self.kind, Kind::Created | Kind::Updated | Kind::Rated)
            && self.before.as_ref() == Some(&self.after)
    }

    /// Writes the change in one transaction: the ticket (versioned), its counts, its
    /// history entry, the event, and what rides with it (comment, idempotency record,
    /// backlog job), and the change of the ticket paired with it (`with`), if any.
    /// Conflicts come back for `Tries` to retry.
    pub async fn commit(mut self, w: &Writer<'_>) -> Result<Committed, TicketWriteError> {
        let also = self.also.take();
        let mut main = self.prepare(w)?;
        let mut other = also.map(|t| t.prepare(w)).transpose()?;
        if main.nothing && other.as_ref().is_none_or(|o| o.nothing) {
            return Ok(main.into_committed(other));
        }
        let main_extra = std::mem::take(&mut main.extra);
        let mut changes = vec![main.change(main_extra)];
        if let Some(o) = other.as_mut() {
            let extra = std::mem::take(&mut o.extra);
            changes.push(o.change(extra));
        }
        w.store.commit_tickets(changes).await?;
        Ok(main.into_committed(other))
    }

    /// The writes of this change (one ticket's), ready to commit.
    fn prepare(self, w: &Writer<'_>) -> Result<Prepared, StoreError> {
        let now = self.at;
        let mut after = self.after;
        let responded = match (&self.kind, self.author_type) {
            (Kind::Commented(c), Some(t)) => {
                crate::policy::first_response(&c.author, t, &after.reporter, c.internal)
            }
            _ => false,
        };
        let breaches = super::sla::derive(self.before.as_ref(), &mut after, responded, now);
        // The rating window's start (SPEC §12): when the ticket last became CLOSED.
        let was_closed = self
            .before
            .as_ref()
            .is_some_and(|b| b.status == TicketStatus::Closed);
        if after.status != TicketStatus::Closed {
            after.closed_at = None;
        } else if !was_closed {
            after.closed_at = Some(now.rfc3339());
        }
        let changes = diff(self.before.as_ref(), &after);
        if let Some(b) = &self.before {
            if !changes.is_empty() {
                after.version = b.version + 1;
                after.updated_at = now.rfc3339();
            }
            if b != &after
                && let (Some(was), Some(s)) = (&b.sla, &mut after.sla)
            {
                s.rev = was.rev + 1;
            }
        }
        // A mark with nothing late that was not recorded: nothing to write.
        let nothing = matches!(self.kind, Kind::Marked) && breaches.is_empty();
        let history = (!changes.is_empty()).then(|| HistoryEntry {
            version: after.version,
            actor: self.actor.clone(),
            at: now.rfc3339(),
            changes: changes.clone(),
        });
        let before_counted = self
            .before
            .as_ref()
            .map(|b| (b.status, b.assignee.as_ref()));
        let deltas = count_deltas(before_counted, (after.status, after.assignee.as_ref()));
        // A new assignee must still be an approved engineer when the write commits (and,
        // when the system chose them, below the bound they were chosen under).
        let check = after
            .assignee
            .clone()
            .filter(|a| {
                self.before
                    .as_ref()
                    .is_none_or(|b| b.assignee.as_ref() != Some(a))
            })
            .map(|a| (a, self.bound));
        // Room freed under the capacity: the backlog may move (the system's own changes are
        // already such moves).
        let job = (!self.actor.is_reserved() && frees_capacity(w.capacity, &deltas))
            .then(|| Job::new(JobKind::Backlog, now));
        let comment = match self.kind {
            Kind::Commented(ref c) => Some(c.clone()),
            _ => None,
        };
        let mut events = events(&self.kind, &self.actor, &after, changes, now);
        events.extend(breaches.iter().map(|b| breached(&after, *b, now)));
        let mut extra = Vec::new();
        if let Some(c) = &comment {
            extra.push(c.write()?);
        }
        if let Some(remember) = &self.remember {
            extra.push(remembered_write(
                w,
                &self.actor,
                remember,
                comment.as_ref(),
                &after,
                now,
            )?);
        }
        if let Some(j) = &job {
            extra.push(w.store.job_write(j, now)?);
        }
        extra.extend(self.checks);
        Ok(Prepared {
            before: self.before,
            after,
            deltas,
            check,
            history,
            events: if nothing { Vec::new() } else { events },
            extra,
            job,
            comment,
            nothing,
        })
    }
}

/// One ticket's change as it will be written.
struct Prepared {
    before: Option<TicketRecord>,
    after: TicketRecord,
    deltas: Vec<(UserId, i64)>,
    check: Option<(UserId, Option<i64>)>,
    history: Option<HistoryEntry>,
    events: Vec<Event>,
    extra: Vec<Write>,
    job: Option<Job>,
    comment: Option<CommentRecord>,
    /// Nothing to write (a breach mark with nothing late).
    nothing: bool,
}

impl Prepared {
    fn change(&self, extra: Vec<Write>) -> TicketChange<'_> {
        TicketChange {
            before: self.before.as_ref(),
            after: &self.after,
            deltas: &self.deltas,
            assignee_check: self.check.as_ref().map(|(a, b)| (a, *b)),
            history: self.history.as_ref(),
            events: &self.events,
            extra,
        }
    }

    fn into_committed(self, other: Option<Prepared>) -> Committed {
        Committed {
            ticket: self.after,
            comment: self.comment,
            events: self.events,
            job: self.job,
            also: other.map(|o| Box::new(o.into_committed(None))),
        }
    }
}

/// The idempotency record of the answer (the comment, or the ticket as committed), when the
/// caller sent a key.
fn remembered_write(
    w: &Writer<'_>,
    actor: &UserId,
    (key, fingerprint, ttl): &(IdempotencyKey, String, i64),
    comment: Option<&CommentRecord>,
    after: &TicketRecord,
    now: Timestamp,
) -> Result<Write, StoreError> {
    let (location, data) = match comment {
        Some(c) => (
            format!("tickets/{}/comments", c.ticket_id),
            json!(c.snapshot()),
        ),
        None => (
            format!("tickets/{}", after.ticket_id),
            json!(after.snapshot()),
        ),
    };
    let record = IdempotencyRecord {
        fingerprint: fingerprint.clone(),
        location,
        data,
        expires_at: IdempotencyRecord::expiry(now, *ttl),
    };
    w.store.idempotency_write(actor, key, &record, now)
}

/// The events a change records: a ticket's creation or change, or a comment (with the
/// change it made, a reopening, as a `ticket.updated` of its own).
fn events(
    kind: &Kind,
    actor: &UserId,
    ticket: &TicketRecord,
    changes: Vec<Change>,
    at: Timestamp,
) -> Vec<Event> {
    let data = |changes: Option<Vec<Change>>, comment: Option<&CommentRecord>| EventData {
        actor: Some(actor.as_str().to_owned()),
        ticket: Some(ticket.snapshot()),
        changes: changes.map(Changes),
        comment: comment.map(CommentRecord::snapshot),
        ..EventData::default()
    };
    let event = |t, d| Event::new(t, at.rfc3339(), d);
    match kind {
        Kind::Created => vec![event(EventType::TicketCreated, data(None, None))],
        Kind::Marked => Vec::new(),
        Kind::Rated => vec![event(
            EventType::SatisfactionRated,
            EventData {
                satisfaction: Some(json!(ticket.satisfaction)),
                ..data(None, None)
            },
        )],
        Kind::Updated => vec![event(EventType::TicketUpdated, data(Some(changes), None))],
        Kind::Commented(c) if changes.is_empty() => {
            vec![event(EventType::CommentCreated, data(None, Some(c)))]
        }
        // The comment tells what it changed too, so its mail can say so.
        Kind::Commented(c) => vec![
            event(
                EventType::CommentCreated,
                data(Some(changes.clone()), Some(c)),
            ),
            event(EventType::TicketUpdated, data(Some(changes), Some(c))),
        ],
    }
}

/// The `sla.breached` event of a target recorded late (SPEC §6: `ticket`, `target`, `dueAt`).
fn breached(ticket: &TicketRecord, (target, due): (Metric, Timestamp), at: Timestamp) -> Event {
    Event::new(
        EventType::SlaBreached,
        at.rfc3339(),
        EventData {
            ticket: Some(ticket.snapshot()),
            target: Some(target.as_str().to_owned()),
            due_at: Some(due.rfc3339()),
            ..EventData::default()
        },
    )
}

/// Where a transition is written and its event and job pushed.
pub struct Writer<'a> {
    pub store: &'a Store,
    /// `CRM_ENGINEER_CAPACITY`: with it, a change that lowers a count records a backlog job.
    pub capacity: Option<i64>,
    pub events: &'a Publisher,
    pub jobs: &'a JobQueue,
}

/// A committed change: the ticket as stored, and what is pushed after the commit.
#[must_use = "a committed change's event is pushed with `publish`"]
#[derive(Debug)]
pub struct Committed {
    pub ticket: TicketRecord,
    pub comment: Option<CommentRecord>,
    pub events: Vec<Event>,
    pub job: Option<Job>,
    /// The paired ticket's committed change (`Transition::with`).
    pub also: Option<Box<Committed>>,
}

impl Committed {
    /// Pushes the events (and job): never fails, the outbox and the sweep back them up.
    pub async fn publish(&self, w: &Writer<'_>) {
        for e in &self.events {
            w.events.publish(e).await;
        }
        if let Some(j) = &self.job {
            w.jobs.publish(j).await;
        }
        if let Some(o) = &self.also {
            Box::pin(o.publish(w)).await;
        }
    }
}

/// Why the last try's write was refused: what the next try should read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The ticket changed (or, on DynamoDB, a transaction touching it was cancelled).
    Ticket,
    /// The new assignee stopped being an approved engineer below the bound.
    Assignee,
    /// A write riding with the change was refused (its key is taken: an idempotency key).
    Extra,
}

/// The tries of one change: at most `retry::ATTEMPTS`, pausing between them, each told why
/// the one before it lost (so it re-reads what it needs), used as
/// `while let Some(lost) = tries.next().await { read; decide; tries.commit(t, w) }`.
#[derive(Debug, Default)]
pub struct Tries {
    made: u32,
    lost: Option<Lost>,
}

impl Tries {
    /// The next try, after a pause when it is not the first: why the try before it lost
    /// (None for the first), or None when every try has been used.
    pub async fn next(&mut self) -> Option<Option<Lost>> {
        if self.made >= crate::retry::ATTEMPTS {
            return None;
        }
        if self.made > 0 {
            crate::retry::pause(self.made - 1).await;
        }
        self.made += 1;
        Some(self.lost.take())
    }

    /// Commits the try's transition: the committed change, or None when it lost a race (the
    /// next try learns why). The event is not pushed here: the caller publishes it.
    pub async fn commit(
        &mut self,
        t: Transition,
        w: &Writer<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        self.lost = Some(match t.commit(w).await {
            Ok(c) => return Ok(Some(c)),
            Err(TicketWriteError::TicketChanged) => Lost::Ticket,
            Err(TicketWriteError::AssigneeChanged) => Lost::Assignee,
            Err(TicketWriteError::ExtraRefused(_)) => Lost::Extra,
            Err(TicketWriteError::Store(e)) => return Err(e),
        });
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Description, Priority, TicketId, Title};

    fn ticket() -> TicketRecord {
        TicketRecord {
            ticket_id: TicketId::new(),
            title: Title::parse("Printer").unwrap(),
            description: Description::parse("Error 254").unwrap(),
            ticket_priority: Priority::LOW,
            status: TicketStatus::Open,
            reporter: UserId::parse("cust").unwrap(),
            assignee: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            version: 1,
            tags: Default::default(),
            followers: Vec::new(),
            sla: None,
            satisfaction: None,
            merged_into: None,
            closed_at: None,
        }
    }

    fn fields_of(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn a_creation_lists_every_set_field_from_null() {
        let t = ticket();
        let d = diff(None, &t);
        assert_eq!(
            fields_of(&d),
            [
                "title",
                "description",
                "ticketPriority",
                "status",
                "reporter"
            ]
        );
        assert!(d.iter().all(|c| c.from == Value::Null));
        let mut assigned = t.clone();
        assigned.assignee = Some(UserId::parse("eng").unwrap());
        assert_eq!(fields_of(&diff(None, &assigned)).last(), Some(&"assignee"));
    }

    #[test]
    fn an_update_lists_what_differs_with_from_and_to() {
        let before = ticket();
        assert!(diff(Some(&before), &before).is_empty());
        let mut after = before.clone();
        after.status = TicketStatus::Closed;
        after.assignee = Some(UserId::parse("eng").unwrap());
        after.updated_at = "later".into();
        after.version = 7;
        let d = diff(Some(&before), &after);
        assert_eq!(fields_of(&d), ["status", "assignee"]);
        assert_eq!((&d[0].from, &d[0].to), (&json!("OPEN"), &json!("CLOSED")));
        assert_eq!((&d[1].from, &d[1].to), (&Value::Null, &json!("eng")));
    }

    #[test]
    fn tags_and_followers_are_in_the_diff_as_whole_sets() {
        let before = ticket();
        let mut tagged = before.clone();
        tagged.tags = crate::model::Tags::parse(["VIP", "printer"]).unwrap();
        let d = diff(Some(&before), &tagged);
        assert_eq!(fields_of(&d), ["tags"]);
        assert_eq!(
            (&d[0].from, &d[0].to),
            (&json!([]), &json!(["printer", "vip"]))
        );
        // At creation an empty set is not listed, a set one is.
        assert!(!fields_of(&diff(None, &before)).contains(&"tags"));
        assert_eq!(fields_of(&diff(None, &tagged)).last(), Some(&"tags"));
        let mut followed = tagged.clone();
        followed.followers = vec![UserId::parse("cust2").unwrap()];
        let d = diff(Some(&tagged), &followed);
        assert_eq!(fields_of(&d), ["followers"]);
        assert_eq!((&d[0].from, &d[0].to), (&json!([]), &json!(["cust2"])));
        // The same tags in another order and case are no change.
        let mut again = tagged.clone();
        again.tags = crate::model::Tags::parse(["printer", "vip", "Vip"]).unwrap();
        assert!(diff(Some(&tagged), &again).is_empty());
    }

    #[test]
    fn only_a_comment_may_leave_the_ticket_as_it_was() {
        let t = ticket();
        let actor = UserId::parse("cust").unwrap();
        assert!(Transition::update(actor.clone(), t.clone(), t.clone()).changes_nothing());
        let c = CommentRecord {
            comment_id: "c".into(),
            ticket_id: t.ticket_id.clone(),
            author: actor.clone(),
            body: crate::model::CommentBody::parse("hi").unwrap(),
            internal: false,
            created_at: "t".into(),
            attachments: Vec::new(),
        };
        assert!(!Transition::comment(actor, c, t.clone(), t).changes_nothing());
    }
}
