//! Tags (SPEC §11): a ticket's tags are a set of at most 20, each 1–50 characters of
//! `a-z 0-9 _ -`, sent in any case and stored lower-cased. The set is kept sorted, so two
//! requests naming the same tags in another order or case set the same value.

use super::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One tag: 1–50 characters of `a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 50;

    /// A tag as sent (trimmed, any case); the error names `field` (`tags` in a body, `tag`
    /// in a query).
    pub fn parse_for(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                field,
                format!("{field}: each tag must be 1 to 50 characters."),
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Invalid::new(
                field,
                format!("{field}: a tag may hold only the letters a-z, digits, _ and -."),
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_for("tags", raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A ticket's tags: each at most once, sorted, at most [`Tags::MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tags(Vec<Tag>);

impl Tags {
    pub const MAX: usize = 20;

    /// The whole new set from the strings sent: at most 20 entries, each a valid tag; the
    /// same tag twice (in any case) counts once.
    pub fn parse<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Self, Invalid> {
        let mut tags = Vec::new();
        for (n, r) in raw.into_iter().enumerate() {
            if n >= Self::MAX {
                return Err(Invalid::new("tags", "tags may hold at most 20 tags."));
            }
            tags.push(Tag::parse(r)?);
        }
        tags.sort();
        tags.dedup();
        Ok(Self(tags))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, t: &Tag) -> bool {
        self.0.binary_search(t).is_ok()
    }

    /// The tags as strings, in order.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|t| t.0.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags_are_folded_to_lower_case_trimmed_sorted_and_each_once() {
        let t = Tags::parse([" Printer", "URGENT", "vip_2", "printer", "a-b"]).unwrap();
        assert_eq!(t.names(), ["a-b", "printer", "urgent", "vip_2"]);
        assert!(t.contains(&Tag::parse("PRINTER").unwrap()));
        assert!(Tags::parse([]).unwrap().is_empty());
    }

    #[test]
    fn a_tag_is_1_to_50_characters_of_the_charset() {
        assert!(Tag::parse(&"a".repeat(50)).is_ok());
        assert!(Tag::parse(&"A".repeat(50)).is_ok());
        for bad in [
            "",
            "  ",
            &"a".repeat(51),
            "two words",
            "dot.ted",
            "hash#",
            "ünïcode",
            "slash/",
            "ta\tb",
            "emoji🙂",
            "\u{212A}", // KELVIN SIGN, which a Unicode lower-casing would fold to k
        ] {
            let e = Tag::parse(bad).unwrap_err();
            assert_eq!(e.field, "tags", "{bad:?}");
        }
        assert_eq!(Tag::parse_for("tag", "x y").unwrap_err().field, "tag");
    }

    #[test]
    fn at_most_20_entries() {
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert_eq!(
            Tags::parse(twenty.iter().map(String::as_str))
                .unwrap()
                .len(),
            20
        );
        let more: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(
            Tags::parse(more.iter().map(String::as_str))
                .unwrap_err()
                .field,
            "tags"
        );
        // 21 entries are refused even when they name fewer tags: the array is the input.
        let repeated: Vec<&str> = std::iter::repeat_n("same", 21).collect();
        assert!(Tags::parse(repeated).is_err());
    }

    proptest! {
        #[test]
        fn any_accepted_tag_is_stored_in_the_charset(raw in "\\PC{0,60}") {
            if let Ok(t) = Tag::parse(&raw) {
                prop_assert!((1..=50).contains(&t.as_str().len()));
                prop_assert!(t.as_str().bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit() || b == b'_' || b == b'-'));
                prop_assert_eq!(Tag::parse(t.as_str()).unwrap(), t.clone());
            }
        }
    }
}
