//! Ticket items: the ticket (indexed by reporter, assignee and status), its history, and the
//! one transaction that writes a ticket change together with every engineer count it
//! implies, the history entry and the event (its outbox and change feed items).

use super::backend::{Cond, Item, Refused, StoreError, Tx, Write};
use super::copies::{Copied, copy_writes};
use super::keys;
use super::outbox::event_writes;
use super::paging::{Listing, Source, Spec};
use super::schema::{GSI1, GSI2, GSI3, GSI4, Index, TABLE};
use super::{Store, from_item, to_item};
use crate::model::{
    Change, Description, Event, Priority, Satisfaction, Tags, TicketId, TicketSnapshot,
    TicketStatus, Title, UserId,
};
use crate::policy::Parties;
use crate::sla::TicketSla;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketRecord {
    pub ticket_id: TicketId,
    pub title: Title,
    pub description: Description,
    pub ticket_priority: Priority,
    pub status: TicketStatus,
    pub reporter: UserId,
    pub assignee: Option<UserId>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Its service levels, when created under a policy (SPEC §10; shared/src/sla/ticket.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<TicketSla>,
    /// SPEC §11 (absent on tickets stored before: none).
    #[serde(default)]
    pub tags: Tags,
    /// SPEC §11: in the order added (absent on tickets stored before: none).
    #[serde(default)]
    pub followers: Vec<UserId>,
    /// SPEC §12: the reporter's rating, once rated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// SPEC §12: the ticket this one was merged into, once merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<TicketId>,
    /// When the ticket last became CLOSED (the rating window's start; SPEC §12). Kept by the
    /// transition; not shown. Absent on tickets closed before it was kept: `updatedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

impl Copied for TicketRecord {
    fn ticket_id(&self) -> &TicketId {
        &self.ticket_id
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn followers(&self) -> &[UserId] {
        &self.followers
    }
}

impl super::ratings::Rated for TicketRecord {
    fn ticket_id(&self) -> &TicketId {
        &self.ticket_id
    }
    fn satisfaction(&self) -> Option<&Satisfaction> {
        self.satisfaction.as_ref()
    }
    fn assignee(&self) -> Option<&UserId> {
        self.assignee.as_ref()
    }
}

/// The top-level copy of `sla.rev` that ticket writes are conditioned on.
const SLA_REV: &str = "slaRev";

impl TicketRecord {
    /// The condition a write of this ticket (as read) commits under: still at its version,
    /// and, under an SLA, at its revision (a breach mark bumps no version).
    pub(crate) fn unchanged(&self) -> Cond {
        let version = Cond::Eq("version", Value::from(self.version));
        match &self.sla {
            None => version,
            Some(s) => Cond::All(vec![version, Cond::Eq(SLA_REV, Value::from(s.rev))]),
        }
    }

    /// The key of its SLA order entry (None: no resolution due time, no entry).
    pub fn sla_order(&self) -> Option<String> {
        let due = self.sla.as_ref()?.resolution_due_at?;
        Some(TicketSla::order_key(Some(due), &self.ticket_id))
    }

    pub fn snapshot(&self) -> TicketSnapshot {
        TicketSnapshot {
            id: self.ticket_id.as_str().to_owned(),
            title: self.title.as_str().to_owned(),
            ticket_priority: self.ticket_priority.get(),
            description: self.description.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            reporter: self.reporter.as_str().to_owned(),
            assignee: self.assignee.as_ref().map(|a| a.as_str().to_owned()),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            version: self.version,
            sla: self.sla.as_ref().and_then(TicketSla::view),
            tags: self.tags.names(),
            followers: self
                .followers
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            satisfaction: self.satisfaction.clone(),
            merged_into: self.merged_into.as_ref().map(|m| m.as_str().to_owned()),
        }
    }

    /// Who the ticket concerns besides the admins (`policy`).
    pub fn parties(&self) -> Parties<'_> {
        Parties {
            reporter: &self.reporter,
            assignee: self.assignee.as_ref(),
            followers: &self.followers,
        }
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        let k = keys::ticket(&self.ticket_id);
        let order = Value::String(self.ticket_id.as_str().to_owned());
        let mut sla = Vec::new();
        if let Some(s) = &self.sla {
            sla.push((SLA_REV, Value::from(s.rev)));
            // The sweep's index: only while a target can still become late.
            if let Some(next) = s.next_check(self.status) {
                let shard = keys::sla_shard(&self.ticket_id);
                sla.push((GSI4.pk, Value::String(keys::sla_due(shard))));
                sla.push((GSI4.sk, Value::from(next.millis())));
            }
        }
        to_item(
            self,
            &[
                (TABLE.pk, Value::String(k.pk)),
                (TABLE.sk, Value::String(k.sk)),
                (GSI1.pk, Value::String(keys::by_reporter(&self.reporter))),
                (GSI1.sk, order.clone()),
                (
                    GSI2.pk,
                    Value::String(keys::by_assignee(self.assignee.as_ref())),
                ),
                (GSI2.sk, order.clone()),
                (GSI3.pk, Value::String(keys::by_status(self.status))),
                (GSI3.sk, order),
            ]
            .into_iter()
            .chain(sla)
            .collect::<Vec<_>>(),
        )
    }

    /// The ticket's order entry (`sort=resolutionDueAt`): its key in the shard's partition.
    fn order_entry(&self, order: String) -> Item {
        let k = keys::sla_order_entry(&self.ticket_id);
        let shard = keys::sla_shard(&self.ticket_id);
        let mut item = Item::new();
        item.insert(TABLE.pk.into(), Value::String(k.pk));
        item.insert(TABLE.sk.into(), Value::String(k.sk));
        item.insert(GSI1.pk.into(), Value::String(keys::sla_order(shard)));
        item.insert(GSI1.sk.into(), Value::String(order));
        item.insert(
            "ticketId".into(),
            Value::String(self.ticket_id.as_str().to_owned()),
        );
        item
    }
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub version: i64,
    pub actor: UserId,
    pub at: String,
    pub changes: Vec<Change>,
}

/// A ticket write: the ticket before (None for a creation) and after, the count changes,
/// the user that must be an approved engineer at commit time (a new assignee), and what to
/// record beside it. When `after` equals `before` the ticket is only checked at its version
/// (a comment that changes nothing else), not written.
#[derive(Debug, Clone)]
pub struct TicketChange<'a> {
    pub before: Option<&'a TicketRecord>,
    pub after: &'a TicketRecord,
    pub deltas: &'a [(UserId, i64)],
    /// The new assignee, who must still be an approved engineer; for auto-assignment also
    /// the bound their open count must still be below (shared/src/assignment.rs).
    pub assignee_check: Option<(&'a UserId, Option<i64>)>,
    /// None when the ticket's fields did not change.
    pub history: Option<&'a HistoryEntry>,
    /// The events the change records (their outbox items).
    pub events: &'a [Event],
    /// More items the same transaction writes (a comment, an idempotency record, a job),
    /// each with its own condition; one that fails is reported as `ExtraRefused(i)`.
    pub extra: Vec<Write>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketWriteError {
    /// The ticket changed since it was read: re-read and re-apply.
    #[error("ticket changed concurrently")]
    TicketChanged,
    /// The assignee is no longer an approved engineer, or its load is no longer below the
    /// bound it was chosen under: re-read and decide again.
    #[error("assignee changed concurrently")]
    AssigneeChanged,
    /// The condition of `extra[i]` did not hold (e.g. an idempotency key already taken);
    /// nothing was written.
    #[error("extra write {0} refused")]
    ExtraRefused(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const COUNT: &str = "ticketsWorkingOnCount";

/// The writes of a ticket change, by what they guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Ticket,
    /// An engineer's count, or the check that the assignee may take the ticket.
    User,
    History,
    Outbox,
    /// The ticket's copies under its tags and followers (store/copies.rs).
    Copy,
    Extra(usize),
}

impl Store {
    pub async fn get_ticket(&self, id: &TicketId) -> Result<Option<TicketRecord>, StoreError> {
        self.get(&keys::ticket(id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Commits a ticket change in one transaction: the ticket (created, replaced under a
    /// version check, or only checked at its version when unchanged) with its copies under
    /// its tags and followers, each engineer count (ADD, never read-modify-write), the
    /// history entry, the outbox event and the extras.
    pub async fn commit_ticket(&self, c: TicketChange<'_>) -> Result<(), TicketWriteError> {
        self.commit_tickets(vec![c]).await
    }

    /// Commits the changes of several tickets (a merge's source and target, SPEC §12) in
    /// one transaction, each as `commit_ticket` would: all or none. Their extras are
    /// numbered in order across the changes.
    pub async fn commit_tickets(&self, cs: Vec<TicketChange<'_>>) -> Result<(), TicketWriteError> {
        let mut tx = Tx::new();
        let mut extras = 0;
        for c in cs {
            push_change(&mut tx, c, &mut extras)?;
        }
        match self.commit(tx).await {
            Ok(()) => Ok(()),
            Err(Refused::Conditions(failed)) => {
                let extra = failed.iter().find_map(|p| match p {
                    Part::Extra(i) => Some(*i),
                    _ => None,
                });
                Err(match extra {
                    Some(i) => TicketWriteError::ExtraRefused(i),
                    None if failed.contains(&Part::User) && !failed.contains(&Part::Ticket) => {
                        TicketWriteError::AssigneeChanged
                    }
                    None => TicketWriteError::TicketChanged,
                })
            }
            Err(Refused::Store(StoreError::Contention)) => Err(TicketWriteError::TicketChanged),
            Err(Refused::Store(e)) => Err(e.into()),
        }
    }

    /// A page of tickets from these index partitions, oldest first, keeping those `keep`
    /// accepts (None: every item of the partitions).
    pub(crate) async fn list_tickets_from(
        &self,
        sources: Vec<Source>,
        keep: Option<&(dyn Fn(&TicketRecord) -> bool + Sync)>,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<TicketRecord>, StoreError> {
        let keep_item = keep.map(|k| {
            move |item: &Item| {
                from_item::<TicketRecord>(item.clone())
                    .map(|t| k(&t))
                    .unwrap_or(false)
            }
        });
        let page = self
            .list(Spec {
                sources,
                after,
                limit,
                keep: keep_item
                    .as_ref()
                    .map(|k| k as &(dyn Fn(&Item) -> bool + Sync)),
                max_rounds: if keep.is_some() { 10 } else { 1 },
            })
            .await?;
        page.decode()
    }

    /// A page of a ticket's history, oldest first.
    pub async fn ticket_history(
        &self,
        id: &TicketId,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<HistoryEntry>, StoreError> {
        let page = self
            .list(Spec {
                sources: vec![Source {
                    index: Index::Table,
                    pk: keys::ticket(id).pk,
                    prefix: Some(keys::HISTORY_PREFIX.into()),
                }],
                after,
                limit,
                keep: None,
                max_rounds: 1,
            })
            .await?;
        page.decode()
    }
}

/// Pushes one ticket change's writes onto `tx` (`extras`: how many extras are before it).
fn push_change(
    tx: &mut Tx<Part>,
    c: TicketChange<'_>,
    extras: &mut usize,
) -> Result<(), StoreError> {
    let written = c.before != Some(c.after);
    tx.push(
        Part::Ticket,
        match c.before {
            None => Write::Put {
                item: c.after.to_item()?,
                cond: Cond::NotExists,
            },
            Some(b) if b == c.after => Write::Check {
                key: keys::ticket(&b.ticket_id),
                cond: b.unchanged(),
            },
            Some(b) => Write::Put {
                item: c.after.to_item()?,
                cond: b.unchanged(),
            },
        },
    );
    if written {
        for w in copy_writes(c.before, c.after)? {
            tx.push(Part::Copy, w);
        }
        // SPEC §12: the rating index follows the ticket's rating.
        for w in super::ratings::rating_writes(c.before, c.after)? {
            tx.push(Part::Copy, w);
        }
    }
    // The order entry follows the ticket's resolution due time.
    match (
        c.before.and_then(TicketRecord::sla_order),
        c.after.sla_order(),
    ) {
        (was, Some(now)) if was.as_ref() != Some(&now) => tx.push(
            Part::Ticket,
            Write::Put {
                item: c.after.order_entry(now),
                cond: Cond::Always,
            },
        ),
        (Some(_), None) => tx.push(
            Part::Ticket,
            Write::Delete {
                key: keys::sla_order_entry(&c.after.ticket_id),
                cond: Cond::Always,
            },
        ),
        _ => {}
    }
    let assignable = |below: Option<i64>| {
        let mut conds = vec![Cond::Exists, Cond::AttrExists(GSI4.pk)];
        if let Some(n) = below {
            conds.push(Cond::Lt(COUNT, n));
        }
        Cond::All(conds)
    };
    for (user, delta) in c.deltas {
        let cond = match c.assignee_check {
            Some((a, below)) if a == user => assignable(below),
            _ => Cond::Exists,
        };
        tx.push(
            Part::User,
            Write::Update {
                key: keys::user(user),
                set: vec![],
                add: vec![
                    (COUNT, *delta),
                    (GSI4.sk, keys::load_delta(*delta)),
                    ("version", 1),
                ],
                remove: vec![],
                cond,
            },
        );
    }
    if let Some((a, below)) = c.assignee_check
        && !c.deltas.iter().any(|(u, _)| u == a)
    {
        tx.push(
            Part::User,
            Write::Check {
                key: keys::user(a),
                cond: assignable(below),
            },
        );
    }
    if let Some(h) = c.history {
        let hist_key = keys::history(&c.after.ticket_id, h.version);
        tx.push(
            Part::History,
            Write::Put {
                item: to_item(
                    h,
                    &[
                        (TABLE.pk, Value::String(hist_key.pk)),
                        (TABLE.sk, Value::String(hist_key.sk)),
                    ],
                )?,
                cond: Cond::NotExists,
            },
        );
    }
    for e in c.events {
        for w in event_writes(e)? {
            tx.push(Part::Outbox, w);
        }
    }
    for w in c.extra {
        tx.push(Part::Extra(*extras), w);
        *extras += 1;
    }
    Ok(())
}

/// The index partitions a ticket listing can read.
pub fn reporter_source(u: &UserId) -> Source {
    Source::new(Index::Gsi1, keys::by_reporter(u))
}

pub fn assignee_source(u: Option<&UserId>) -> Source {
    Source::new(Index::Gsi2, keys::by_assignee(u))
}

pub fn status_source(s: TicketStatus) -> Source {
    Source::new(Index::Gsi3, keys::by_status(s))
}
