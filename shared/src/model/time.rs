//! Timestamps: RFC 3339 UTC with milliseconds on the wire (`2022-08-05T12:35:23.673Z`),
//! epoch milliseconds inside sort keys.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_seconds(self, s: i64) -> Self {
        Self(self.0.saturating_add(s.saturating_mul(1000)))
    }

    /// `2022-08-05T12:35:23.673Z`.
    pub fn rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => String::from("1970-01-01T00:00:00.000Z"),
        }
    }

    /// An RFC 3339 time with its offset (`2026-12-06T12:00:00Z`, `…+01:00`, any fraction,
    /// kept to the millisecond), if `s` is one.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Self(t.timestamp_millis()))
    }

    /// Zero-padded milliseconds, so that string order is time order (valid until year 2286).
    pub fn sort_key(self) -> String {
        format!("{:013}", self.0.max(0))
    }
}

/// Where the use cases read "now": the system clock, which tests can move forward (never
/// back) to reach a due time without waiting for it. Clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let ahead = self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst);
        Timestamp(Timestamp::now().0.saturating_add(ahead))
    }

    /// Moves this clock (and its clones) `ms` further ahead of the system's (tests).
    pub fn advance(&self, ms: i64) {
        self.ahead_ms
            .fetch_add(ms.max(0), std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_millis_in_utc() {
        assert_eq!(
            Timestamp::from_millis(1_659_702_923_673).rfc3339(),
            "2022-08-05T12:35:23.673Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_659_702_923_000).rfc3339(),
            "2022-08-05T12:35:23.000Z"
        );
    }

    #[test]
    fn parses_rfc3339_with_any_offset_to_the_millisecond() {
        let t = Timestamp::from_millis(1_659_702_923_673);
        assert_eq!(
            Timestamp::parse_rfc3339("2022-08-05T12:35:23.673Z"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2022-08-05T14:35:23.673+02:00"),
            Some(t)
        );
        for bad in ["", "2022-08-05", "2022-08-05T12:35:23", "yesterday"] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn sort_keys_order_like_time() {
        let a = Timestamp::from_millis(999).sort_key();
        let b = Timestamp::from_millis(1_000).sort_key();
        assert!(a < b);
        assert_eq!(b.len(), 13);
    }
}
