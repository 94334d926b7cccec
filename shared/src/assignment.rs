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
//!
//! Even so, concurrent creations that all read the same loads all aim at the same least
//! loaded engineer, and beyond the skew they collide. So a process that has just seen such a
//! collision (`Contention`) spreads its picks for a while: any candidate under the bound, at
//! random, each as likely as the room it has under the bound, instead of the least loaded.
//! Without contention (every sequential creation) the pick stays the SPEC's: least loaded,
//! ties to the earliest approved.

use crate::model::UserId;
use crate::store::UserRecord;
use std::sync::atomic::{AtomicI64, Ordering};

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

/// How a pick is made among the candidates under the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The least loaded (ties: the earliest approved, by load key).
    Least,
    /// Any of them, each as likely as the room it has under the bound (two places for one
    /// at the least load, one for one a ticket above): `r`, a random number, picks the place.
    Spread(u64),
}

/// The candidate `mode` picks among those whose count is below the bound, or None when every
/// candidate is at capacity (the ticket waits unassigned). Candidates that are no longer
/// approved engineers are skipped.
pub fn choose(candidates: &[UserRecord], capacity: Option<i64>, mode: Mode) -> Option<Pick<'_>> {
    choose_avoiding(candidates, capacity, mode, &[])
}

/// As `choose`, passing over the engineers in `avoid` (those this request's earlier tries lost
/// on) while another candidate is under the bound. The bound is still taken over every
/// candidate, so the spread guarantee holds.
pub fn choose_avoiding<'a>(
    candidates: &'a [UserRecord],
    capacity: Option<i64>,
    mode: Mode,
    avoid: &[UserId],
) -> Option<Pick<'a>> {
    let assignable = || candidates.iter().filter(|e| e.is_assignable());
    let least = assignable().map(|e| e.tickets_working_on_count).min()?;
    let below = (least + 1 + SKEW).min(capacity.unwrap_or(i64::MAX));
    let mut under: Vec<&UserRecord> = assignable()
        .filter(|e| e.tickets_working_on_count < below)
        .collect();
    if under.iter().any(|e| !avoid.contains(&e.user_id)) {
        under.retain(|e| !avoid.contains(&e.user_id));
    }
    under.sort_by_key(|e| e.load_key);
    let engineer = match mode {
        Mode::Least => under.first().copied(),
        Mode::Spread(r) => {
            let room =
                |e: &UserRecord| u64::try_from(below - e.tickets_working_on_count).unwrap_or(0);
            let total: u64 = under.iter().map(|e| room(e)).sum();
            let mut place = r % total.max(1);
            under.iter().copied().find(|e| {
                let here = place < room(e);
                place = place.saturating_sub(room(e));
                here
            })
        }
    };
    engineer.map(|engineer| Pick { engineer, below })
}

/// When this process last saw concurrent picks collide (ms since the epoch; 0: never).
/// Picks spread for `Contention::WINDOW_MS` after a collision.
#[derive(Debug, Default)]
pub struct Contention(AtomicI64);

impl Contention {
    pub const WINDOW_MS: i64 = 5_000;

    /// A pick lost to a concurrent one at `now_ms`.
    pub fn noticed(&self, now_ms: i64) {
        self.0.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// How to pick at `now_ms`; `random` is used only while contention is recent.
    pub fn mode(&self, now_ms: i64, random: u64) -> Mode {
        let last = self.0.load(Ordering::Relaxed);
        if last > 0 && now_ms - last < Self::WINDOW_MS {
            Mode::Spread(random)
        } else {
            Mode::Least
        }
    }
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
        choose(c, cap, Mode::Least).map(|p| (p.engineer.user_id.as_str(), p.below))
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
        for mode in [
            Mode::Least,
            Mode::Spread(0),
            Mode::Spread(1),
            Mode::Spread(7),
        ] {
            let p = choose(&c, None, mode).unwrap();
            assert!(p.engineer.tickets_working_on_count < p.below, "{mode:?}");
            assert_eq!(p.below, 5 + 1 + SKEW);
        }
    }

    #[test]
    fn a_spread_pick_goes_to_any_candidate_under_the_bound_and_never_over_it() {
        let c = vec![
            eng("a", 5, 1),
            eng("b", 5, 2),
            eng("c", 6, 3),
            eng("d", 7, 4),
        ];
        // Room under the bound (7): a 2, b 2, c 1; d none.
        let picked: Vec<&str> = (0..10)
            .map(|r| {
                choose(&c, None, Mode::Spread(r))
                    .unwrap()
                    .engineer
                    .user_id
                    .as_str()
            })
            .collect();
        assert_eq!(
            picked,
            ["a", "a", "b", "b", "c", "a", "a", "b", "b", "c"],
            "each as often as its room; d is at the bound"
        );
        assert_eq!(
            choose(&c, Some(6), Mode::Spread(2)).map(|p| p.engineer.user_id.as_str()),
            Some("a"),
            "the capacity narrows the choice to a and b"
        );
        assert_eq!(choose(&c, Some(5), Mode::Spread(3)), None);
    }

    #[test]
    fn an_engineer_lost_on_is_passed_over_while_another_is_under_the_bound() {
        let c = vec![eng("a", 0, 1), eng("b", 1, 2), eng("c", 2, 3)];
        let a = UserId::parse("a").unwrap();
        let b = UserId::parse("b").unwrap();
        let id = |p: Option<Pick>| p.map(|p| (p.engineer.user_id.as_str().to_owned(), p.below));
        assert_eq!(
            id(choose_avoiding(
                &c,
                None,
                Mode::Least,
                std::slice::from_ref(&a)
            )),
            Some(("b".into(), 2)),
            "the bound stays the least seen + 2"
        );
        assert_eq!(
            id(choose_avoiding(&c, None, Mode::Least, &[a.clone(), b])),
            Some(("a".into(), 2)),
            "c is at the bound: a again rather than over it"
        );
    }

    #[test]
    fn picks_spread_only_for_a_while_after_a_collision() {
        let c = Contention::default();
        assert_eq!(c.mode(10_000, 3), Mode::Least, "never contended");
        c.noticed(10_000);
        assert_eq!(c.mode(10_001, 3), Mode::Spread(3));
        assert_eq!(
            c.mode(10_000 + Contention::WINDOW_MS, 3),
            Mode::Least,
            "the window is over"
        );
        c.noticed(9_000);
        assert_eq!(
            c.mode(10_001, 4),
            Mode::Spread(4),
            "an older report changes nothing"
        );
    }
}
