//! Satisfaction (SPEC §12): the reporter's rating of a CLOSED ticket, `good` or `bad`, with an
//! optional comment of at most 1000 characters.

use super::Invalid;
use super::text::{Lines, parse_text};
use super::user::string_enum;
use serde::{Deserialize, Serialize};
use std::fmt;

string_enum!(
    /// What the reporter thought of how the ticket went.
    Rating, "rating" { Good = "good", Bad = "bad" }
);

/// How long after a ticket was closed its rating may be given or replaced (SPEC §12).
pub const RATING_WINDOW_DAYS: i64 = 28;

/// A rating's comment: 0–1000 characters, line breaks allowed (empty: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RatingComment(String);

impl RatingComment {
    pub const MAX: usize = 1000;

    /// An empty (or blank) comment is no comment; else the text rules of a description.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        parse_text("comment", raw, Self::MAX, Lines::Many).map(|s| Some(Self(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket's `satisfaction` as stored and shown: `{"rating", "comment", "ratedAt"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Satisfaction {
    pub rating: Rating,
    pub comment: Option<RatingComment>,
    pub rated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_good_or_bad() {
        assert_eq!(Rating::parse("good").unwrap(), Rating::Good);
        assert_eq!(Rating::parse("bad").unwrap(), Rating::Bad);
        for bad in ["GOOD", "ok", "", "5"] {
            assert_eq!(Rating::parse(bad).unwrap_err().field, "rating", "{bad}");
        }
    }

    #[test]
    fn a_comment_is_at_most_1000_characters() {
        assert_eq!(RatingComment::parse("").unwrap(), None);
        assert_eq!(RatingComment::parse("  ").unwrap(), None);
        assert!(RatingComment::parse(&"é".repeat(1000)).unwrap().is_some());
        assert_eq!(
            RatingComment::parse(&"x".repeat(1001)).unwrap_err().field,
            "comment"
        );
        assert!(RatingComment::parse("fine\nthanks").unwrap().is_some());
    }
}
