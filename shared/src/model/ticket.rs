//! Ticket input types (SPEC §3): ids are ULIDs, so ids order by creation time.

use super::Invalid;
use super::text::{Lines, parse_text};
use super::user::string_enum;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;

/// A ticket id: a ULID in its canonical 26-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(String);

/// One generator per process: ids made here are strictly increasing, even within a
/// millisecond.
static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

/// A new ULID, monotonic within this process.
pub fn new_ulid() -> ulid::Ulid {
    let mut g = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(ulid::Generator::new)
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::generate())
}

impl TicketId {
    pub fn new() -> Self {
        Self(new_ulid().to_string())
    }

    /// A well-formed id (else 400); whether it exists is the store's business (404).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("ticketId", "ticketId is not a valid ticket id.");
        if raw.len() != 26 {
            return Err(bad());
        }
        let u = ulid::Ulid::from_string(raw).map_err(|_| bad())?;
        let canonical = u.to_string();
        if canonical != raw {
            return Err(bad());
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TicketId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–200 characters on one line (SPEC §1 text rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("title", raw, 200, Lines::One).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1–5000 characters; line breaks and tabs allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("description", raw, 5000, Lines::Many).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1 extreme, 2 high, 3 medium, 4 low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Priority(u8);

impl Priority {
    pub const LOW: Priority = Priority(4);

    pub fn from_int(n: i64) -> Result<Self, Invalid> {
        match n {
            1..=4 => Ok(Self(n as u8)),
            _ => Err(Invalid::new(
                "ticketPriority",
                "ticketPriority must be 1 (extreme), 2 (high), 3 (medium) or 4 (low).",
            )),
        }
    }

    /// From a query string: the same rule, written as digits.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        raw.trim()
            .parse::<i64>()
            .map_err(|_| Priority::from_int(0).unwrap_err())
            .and_then(Self::from_int)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

string_enum!(
    /// Where a ticket stands.
    TicketStatus, "status" { Open = "OPEN", Blocked = "BLOCKED", Closed = "CLOSED" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_canonical_ulids() {
        let id = TicketId::new();
        assert_eq!(TicketId::parse(id.as_str()).unwrap(), id);
        assert!(TicketId::parse(&id.as_str().to_lowercase()).is_err());
        for bad in [
            "",
            "62ed134ee134ad67c6c61e68",
            "x",
            &"Z".repeat(26),
            "01ARZ3NDEKTSV4RRFFQ69G5FA!",
        ] {
            assert!(TicketId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_made_in_one_process_increase() {
        let ids: Vec<TicketId> = (0..1000).map(|_| TicketId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn title_and_description_limits() {
        assert_eq!(Title::parse("  Printer ").unwrap().as_str(), "Printer");
        assert!(Title::parse(&"t".repeat(200)).is_ok());
        assert!(Title::parse(&"t".repeat(201)).is_err());
        assert!(Title::parse(" ").is_err());
        assert!(Description::parse(&"d".repeat(5000)).is_ok());
        assert!(Description::parse(&"d".repeat(5001)).is_err());
        assert!(Description::parse("").is_err());
    }

    #[test]
    fn priority_is_1_to_4() {
        for n in 1..=4 {
            assert_eq!(Priority::from_int(n).unwrap().get() as i64, n);
        }
        for n in [0, 5, -1, 400] {
            assert!(Priority::from_int(n).is_err());
        }
        assert_eq!(Priority::parse("2").unwrap().get(), 2);
        assert!(Priority::parse("two").is_err());
        assert!(Priority::parse("2.0").is_err());
    }

    #[test]
    fn status_names() {
        assert_eq!(
            TicketStatus::parse("BLOCKED").unwrap(),
            TicketStatus::Blocked
        );
        assert!(TicketStatus::parse("open").is_err());
    }
}
