//! Attachment items (SPEC §13): an upload grant records a pending item (who may link it, to
//! which ticket, the declared name, type and size), expiring with the upload after 24 hours
//! unless a comment links it; the link is one update in the comment's transaction, under the
//! condition that the item is still the caller's, of this ticket, and not linked.

use super::backend::{Cond, Key, StoreError, Write};
use super::keys;
use super::schema::TABLE;
use super::{Store, from_item, to_item};
use crate::model::{AttachmentRef, TicketId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an upload waits for its comment (SPEC §13: 24 hours); the bucket's lifecycle rule
/// deletes the object after as long.
pub const ATTACHMENT_PENDING_SECONDS: i64 = 24 * 3600;

/// An attachment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRecord {
    pub attachment_id: String,
    pub ticket_id: TicketId,
    /// Who was granted the upload: only they may link it.
    pub uploader: UserId,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub created_at: String,
    /// Unix seconds after which a pending item is gone (its TTL while pending).
    pub expires_at: i64,
    pub linked: bool,
    /// The comment it is linked to, and whether that is an internal note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
    #[serde(default)]
    pub internal: bool,
}

impl AttachmentRecord {
    fn key(&self) -> Key {
        keys::attachment(&self.attachment_id)
    }

    /// Whether the item is a pending upload past its time (the TTL may not have removed it yet).
    pub fn expired(&self, now: Timestamp) -> bool {
        !self.linked && self.expires_at <= now.seconds()
    }

    /// As a comment shows it.
    pub fn reference(&self) -> AttachmentRef {
        AttachmentRef {
            attachment_id: self.attachment_id.clone(),
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
        }
    }

    /// The pending item's put (a new id: its key is free), with its TTL.
    pub fn pending_write(&self) -> Result<Write, StoreError> {
        let k = self.key();
        Ok(Write::Put {
            item: to_item(
                self,
                &[
                    (TABLE.pk, Value::String(k.pk)),
                    (TABLE.sk, Value::String(k.sk)),
                    (TABLE.ttl_attribute, Value::from(self.expires_at)),
                ],
            )?,
            cond: Cond::NotExists,
        })
    }

    /// Links the pending item to `comment_id` (no TTL from then on), only while it is still
    /// the uploader's, of its ticket, unlinked and not expired at `now`.
    pub fn link_write(&self, comment_id: &str, internal: bool, now: Timestamp) -> Write {
        Write::Update {
            key: self.key(),
            set: vec![
                ("linked", Value::Bool(true)),
                ("commentId", Value::String(comment_id.to_owned())),
                ("internal", Value::Bool(internal)),
            ],
            add: Vec::new(),
            remove: vec![TABLE.ttl_attribute],
            cond: Cond::All(vec![
                Cond::Eq("linked", Value::Bool(false)),
                Cond::Eq("uploader", Value::String(self.uploader.as_str().to_owned())),
                Cond::Eq(
                    "ticketId",
                    Value::String(self.ticket_id.as_str().to_owned()),
                ),
                Cond::Ge("expiresAt", now.seconds() + 1),
            ]),
        }
    }
}

impl Store {
    /// The attachment of this id, if any (a pending one past its time counts as none).
    pub async fn get_attachment(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        Ok(self
            .get(&keys::attachment(id))
            .await?
            .map(from_item::<AttachmentRecord>)
            .transpose()?
            .filter(|a| !a.expired(now)))
    }

    /// Records a pending upload.
    pub async fn put_pending_attachment(&self, a: &AttachmentRecord) -> Result<(), StoreError> {
        self.transact(vec![a.pending_write()?]).await
    }
}
