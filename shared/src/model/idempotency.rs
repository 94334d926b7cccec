//! The `Idempotency-Key` header (SPEC §3): 1–255 visible ASCII characters, chosen by the
//! client, scoped to the caller.

use super::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "Idempotency-Key";
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok =
            (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                Self::HEADER,
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_of_1_to_255_only() {
        for ok in ["a", "retry-7f3c", "#/:?=&%~!", &"k".repeat(255)] {
            assert!(IdempotencyKey::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "tab\there",
            "é",
            "line\n",
            &"k".repeat(256),
            "\u{7f}",
        ] {
            let e = IdempotencyKey::parse(bad).expect_err(bad);
            assert_eq!(e.field, "Idempotency-Key");
        }
    }
}
