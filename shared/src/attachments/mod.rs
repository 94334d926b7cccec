//! Attachments (SPEC §13): files go straight to S3 through a presigned POST and come back
//! through short-lived presigned GETs, so no file passes through a Lambda; `crm serve` keeps
//! them under its data dir behind URLs it signs itself. Here are the parts that do not depend
//! on the ticket write path: what may be attached, where it is stored, and the signatures.

pub mod content;
pub mod download;
pub mod file_name;
pub mod files;
pub mod local;
pub mod location;
pub mod post_policy;
mod sigv4;

use crate::model::{Invalid, TicketId, new_ulid};
use std::time::Duration;

pub use content::{AttachmentSize, ContentType, DEFAULT_MAX_BYTES, MaxBytes};
pub use file_name::{FileName, content_disposition};

/// How long an upload grant holds (SPEC §13: 15 minutes).
pub const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download URL holds (SPEC §13: 5 minutes).
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(5 * 60);

/// An attachment id: a ULID in its canonical 26-character form, made by us. Storage keys and
/// local file paths are derived from these ids only, never from a user's file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachmentId(String);

impl AttachmentId {
    pub fn new() -> Self {
        Self(new_ulid().to_string())
    }

    /// A well-formed id (else 400 naming `attachmentId`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("attachmentId", "attachmentId is not a valid attachment id.");
        let id = ulid::Ulid::from_string(raw).map_err(|_| bad())?;
        let canonical = id.to_string();
        if canonical != raw {
            return Err(bad());
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AttachmentId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The object key of an attachment, in S3 and (as a relative path) under the local data dir:
/// `attachments/<ticketId>/<attachmentId>`, two ULIDs, so it needs no escaping anywhere.
pub fn object_key(ticket: &TicketId, attachment: &AttachmentId) -> String {
    format!("attachments/{}/{}", ticket.as_str(), attachment.as_str())
}

/// The ids an object key of ours names (`object_key` read back); `None` for any other string.
pub fn parse_object_key(key: &str) -> Option<(TicketId, AttachmentId)> {
    let (ticket, attachment) = key.strip_prefix("attachments/")?.split_once('/')?;
    Some((
        TicketId::parse(ticket).ok()?,
        AttachmentId::parse(attachment).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_ulids() {
        let id = AttachmentId::new();
        assert_eq!(AttachmentId::parse(id.as_str()), Ok(id.clone()));
        for bad in [
            "",
            "x",
            "../../etc/passwd",
            &id.as_str().to_lowercase(),
            &format!("{id}/"),
            "01J00000000000000000000000Z",
        ] {
            assert_eq!(
                AttachmentId::parse(bad).map_err(|e| e.field),
                Err("attachmentId"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn object_keys_come_from_ids_only() {
        let t = TicketId::parse("01J0000000000000000000000Z").unwrap();
        let a = AttachmentId::parse("01J0000000000000000000001Z").unwrap();
        let key = object_key(&t, &a);
        assert_eq!(
            key,
            "attachments/01J0000000000000000000000Z/01J0000000000000000000001Z"
        );
        assert_eq!(parse_object_key(&key), Some((t, a)));
        for bad in [
            "",
            "attachments/",
            "attachments/01J0000000000000000000000Z",
            "attachments/01J0000000000000000000000Z/../../x",
            "attachments/01J0000000000000000000000Z/01J0000000000000000000001Z/x",
            "other/01J0000000000000000000000Z/01J0000000000000000000001Z",
            "/attachments/01J0000000000000000000000Z/01J0000000000000000000001Z",
        ] {
            assert_eq!(parse_object_key(bad), None, "{bad:?}");
        }
    }
}
