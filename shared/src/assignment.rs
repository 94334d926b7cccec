//! Which engineer a new (or backlog) ticket goes to (SPEC §3 auto-assignment), as one pure
//! rule over a few candidates read from the load index.
//!
//! The candidates are the least-loaded approved engineers as the index shows them, which may
//! lag the table (DynamoDB's GSIs are eventually consistent) and which other instances are
//! changing at the same moment. So the choice is not conditioned on the exact load that was
//! read (one hot item: every concurrent creation would collide on it and retry), but on a
//! bound: the chosen engineer's count, when the write commits, must be below
//! `min + 1 + SKEW` of the loads seen (and below the capacity). Concurrent creations that
//! pick the same engineer then all commit while the spread stays within `SKEW + 1`; a write
//! whose bound no longer holds is retried with the candidates re-read consistently.

use crate::store::UserRecord;

/// How far above the least load seen an engineer may be chosen: 1 keeps every engineer
/// within two tickets of the least loaded, and lets two concurrent creations (on different
/// instances) pick the same engineer without either retrying.
pub const SKEW: i64 = 1;

/// Engineers read from the load index per choice.
pub const CANDIDATES: usize = 4;

/// The choice: the engineer, and the bound their count must stay below at commit time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick<'a> {
    pub engineer: &'a UserRecord,
    pub below: i64,
}

/// The least-loaded candidate (ties: the earliest approved, by load key) whose count is below
/// the bound, or None when every candidate is at capacity (the ticket waits unassigned).
/// Candidates that are no longer approved engineers are skipped.
pub fn choose(candidates: &[UserRecord], capacity: Option<i64>) -> Option<Pick<'_>> {
    let assignable = || candidates.iter().filter(|e| e.is_assignable());
    let least = assignable().map(|e| e.tickets_working_on_count).min()?;
    let below = (least + 1 + SKEW).min(capacity.unwrap_or(i64::MAX));
    assignable()
        .filter(|e| e.tickets_working_on_count < below)
        .min_by_key(|e| e.load_key)
        .map(|engineer| Pick { engineer, below })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Email, Name, Timestamp, UserId, UserStatus, UserType};
    use crate::store::keys::load_key;

    fn eng(id: &str, count: i64, approved_ms: i64) -> UserRecord {
        let mut u = UserRecord::new(
            UserId::parse(id).unwrap(),
            Name::parse(id).unwrap(),
            Email::parse(&format!("{id}@x.co")).unwrap(),
            UserType::Engineer,
            UserStatus::Approved,
            String::new(),
            Timestamp::from_millis(approved_ms),
        );
        u.tickets_working_on_count = count;
        u.load_key = load_key(count, approved_ms);
        u
    }

    fn pick(c: &[UserRecord], cap: Option<i64>) -> Option<(&str, i64)> {
        choose(c, cap).map(|p| (p.engineer.user_id.as_str(), p.below))
    }

    #[test]
    fn the_assignment_table() {
        let mut demoted = eng("gone", 0, 1);
        demoted.user_type = UserType::Customer;
        let mut pending = eng("wait", 0, 1);
        pending.user_status = UserStatus::Pending;
        type Case<'a> = (
            &'a str,
            Vec<UserRecord>,
            Option<i64>,
            Option<(&'a str, i64)>,
        );
        let cases: Vec<Case> = vec![
            ("nobody", vec![], None, None),
            ("one", vec![eng("a", 3, 1)], None, Some(("a", 5))),
            (
                "least loaded wins",
                vec![eng("a", 2, 1), eng("b", 1, 2)],
                None,
                Some(("b", 3)),
            ),
            (
                "tie: earliest approved",
                vec![eng("late", 1, 9), eng("early", 1, 2)],
                None,
                Some(("early", 3)),
            ),
            (
                "a stale read of the least loaded is still a fair pick",
                vec![eng("a", 0, 1), eng("b", 1, 2)],
                None,
                Some(("a", 2)),
            ),
            (
                "capacity caps the bound",
                vec![eng("a", 1, 1), eng("b", 1, 2)],
                Some(2),
                Some(("a", 2)),
            ),
            (
                "everyone full: unassigned",
                vec![eng("a", 2, 1), eng("b", 3, 2)],
                Some(2),
                None,
            ),
            (
                "no longer an approved engineer: skipped",
                vec![demoted, pending, eng("c", 4, 3)],
                None,
                Some(("c", 6)),
            ),
        ];
        for (name, c, cap, want) in &cases {
            assert_eq!(pick(c, *cap), *want, "{name}");
        }
    }

    #[test]
    fn the_pick_is_always_within_the_bound_and_the_bound_within_skew_of_the_least() {
        let c = vec![eng("a", 5, 1), eng("b", 7, 2), eng("c", 6, 3)];
        let p = choose(&c, None).unwrap();
        assert!(p.engineer.tickets_working_on_count < p.below);
        assert_eq!(p.below, 5 + 1 + SKEW);
    }
}
