//! Comment items: each comment (or internal note) lives in its ticket's partition, keyed by
//! its ULID, so a ticket's thread is one key-range read in creation order. A comment that
//! changes nothing else is written in one transaction with its outbox event under a check
//! that the ticket is still as read; one that reopens the ticket rides in the ticket's
//! own transaction (`commit_ticket`'s `extra`).

use super::backend::{Cond, Item, Refused, StoreError, Tx, Write};
use super::keys;
use super::outbox::outbox_write;
use super::paging::{Listing, Source, Spec};
use super::schema::{Index, TABLE};
use super::tickets::TicketRecord;
use super::{Store, to_item};
use crate::model::{CommentBody, CommentSnapshot, TicketEvent, TicketId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A comment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentRecord {
    pub comment_id: String,
    pub ticket_id: TicketId,
    pub author: UserId,
    pub body: CommentBody,
    pub internal: bool,
    pub created_at: String,
}

impl CommentRecord {
    pub fn snapshot(&self) -> CommentSnapshot {
        CommentSnapshot {
            id: self.comment_id.clone(),
            ticket_id: self.ticket_id.as_str().to_owned(),
            author: self.author.as_str().to_owned(),
            body: self.body.as_str().to_owned(),
            internal: self.internal,
            created_at: self.created_at.clone(),
        }
    }

    /// The comment's put, refused if its key is taken (a ULID never repeats).
    pub fn write(&self) -> Result<Write, StoreError> {
        let k = keys::comment(&self.ticket_id, &self.comment_id);
        Ok(Write::Put {
            item: to_item(
                self,
                &[
                    (TABLE.pk, Value::String(k.pk)),
                    (TABLE.sk, Value::String(k.sk)),
                ],
            )?,
            cond: Cond::NotExists,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentWriteError {
    /// The ticket changed (or went) since it was read: re-read and decide again.
    #[error("ticket changed concurrently")]
    TicketChanged,
    /// An extra write (an idempotency record) was refused: its key is taken.
    #[error("extra write refused")]
    ExtraRefused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a comment that changes nothing else, with its outbox event, in one
    /// transaction, only while the ticket is at the version it was read at (so who may
    /// comment, and whether the comment reopens it, were decided on the current ticket).
    pub async fn add_comment(
        &self,
        ticket: &TicketRecord,
        comment: &CommentRecord,
        event: &TicketEvent,
        extra: Vec<Write>,
    ) -> Result<(), CommentWriteError> {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Part {
            Ticket,
            Comment,
            Outbox,
            Extra,
        }
        let mut tx = Tx::new();
        tx.push(
            Part::Ticket,
            Write::Check {
                key: keys::ticket(&ticket.ticket_id),
                cond: Cond::Eq("version", Value::from(ticket.version)),
            },
        );
        tx.push(Part::Comment, comment.write()?);
        tx.push(Part::Outbox, outbox_write(event)?);
        for w in extra {
            tx.push(Part::Extra, w);
        }
        match self.commit(tx).await {
            Ok(()) => Ok(()),
            Err(Refused::Conditions(f)) if f.contains(&Part::Extra) => {
                Err(CommentWriteError::ExtraRefused)
            }
            Err(Refused::Conditions(f)) if f.contains(&Part::Ticket) => {
                Err(CommentWriteError::TicketChanged)
            }
            Err(Refused::Conditions(f)) => {
                Err(StoreError::Internal(format!("comment refused: {f:?}")).into())
            }
            Err(Refused::Store(StoreError::Contention)) => Err(CommentWriteError::TicketChanged),
            Err(Refused::Store(e)) => Err(e.into()),
        }
    }

    /// A page of a ticket's comments, oldest first; without `internal`, internal notes are
    /// skipped (read past within the same one round of queries, so a page may come back
    /// short with a cursor).
    pub async fn ticket_comments(
        &self,
        id: &TicketId,
        internal: bool,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<CommentRecord>, StoreError> {
        let public = |item: &Item| item.get("internal") != Some(&Value::Bool(true));
        let page = self
            .list(Spec {
                sources: vec![Source {
                    index: Index::Table,
                    pk: keys::ticket(id).pk,
                    prefix: Some(keys::COMMENT_PREFIX.into()),
                }],
                after,
                limit,
                keep: (!internal).then_some(&public as &(dyn Fn(&Item) -> bool + Sync)),
                max_rounds: 1,
            })
            .await?;
        page.decode()
    }
}
