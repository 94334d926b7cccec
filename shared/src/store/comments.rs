//! Comment items: each comment (or internal note) lives in its ticket's partition, keyed by
//! its ULID, so a ticket's thread is one key-range read in creation order. A comment rides in
//! its ticket's transaction (`commit_ticket`'s `extra`): under a check that the ticket is
//! still as read when it changes nothing else, with the ticket's change when it reopens it.

use super::backend::{Cond, Item, StoreError, Write};
use super::keys;
use super::paging::{Listing, Source, Spec};
use super::schema::{Index, TABLE};
use super::{Store, to_item};
use crate::model::{AttachmentRef, CommentBody, CommentSnapshot, TicketId, UserId};
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
    /// Linked files (SPEC §13), in the order the comment named them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
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
            attachments: self.attachments.clone(),
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

impl Store {
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
