//! Comments on a ticket (SPEC §3 "Comments"): the body's text rule and the comment object
//! clients (and the COMMENT_ADDED event) see.

use super::Invalid;
use super::text::{Lines, parse_text};
use serde::{Deserialize, Serialize};

/// 1–10000 characters, trimmed; line breaks and tabs allowed (SPEC §1 text rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentBody(String);

impl CommentBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("body", raw, Self::MAX_CHARS, Lines::Many).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A comment as clients see it: `{"_id", "ticketId", "author", "body", "internal",
/// "createdAt"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentSnapshot {
    #[serde(rename = "_id")]
    pub id: String,
    pub ticket_id: String,
    pub author: String,
    pub body: String,
    pub internal: bool,
    pub created_at: String,
    /// The files linked to the comment (SPEC §13); left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// An attachment as a comment shows it (SPEC §13): `{"attachmentId", "fileName",
/// "contentType", "size"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRef {
    pub attachment_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_bodies_follow_the_multi_line_text_rule() {
        let ok = CommentBody::parse("  line one\n\tline two  ").unwrap();
        assert_eq!(ok.as_str(), "line one\n\tline two");
        assert!(CommentBody::parse(&"x".repeat(10_000)).is_ok());
        for bad in [
            "".to_owned(),
            "   \n\t ".to_owned(),
            "x".repeat(10_001),
            "bell\u{7}".to_owned(),
            "escape\u{1b}[31m".to_owned(),
            "nonchar\u{FFFF}".to_owned(),
            "bidi\u{202E}".to_owned(),
        ] {
            let e = CommentBody::parse(&bad).unwrap_err();
            assert_eq!(e.field, "body", "{bad:?}");
        }
    }
}
