//! The engineer counter invariant (SPEC §3): every user's `ticketsWorkingOnCount` equals the
//! number of OPEN tickets assigned to them. One pure rule gives the count changes of any
//! ticket write: (what the ticket counts for after) − (what it counted for before).

use crate::model::{TicketStatus, UserId};

/// The part of a ticket that counts: its status and assignee.
pub type Counted<'a> = (TicketStatus, Option<&'a UserId>);

/// The count change per user when a ticket goes from `before` (None: it did not exist) to
/// `after`. Users whose count does not change are left out.
pub fn count_deltas(before: Option<Counted<'_>>, after: Counted<'_>) -> Vec<(UserId, i64)> {
    let counts = |c: Option<Counted<'_>>| match c {
        Some((TicketStatus::Open, Some(a))) => Some(a.clone()),
        _ => None,
    };
    match (counts(before), counts(Some(after))) {
        (Some(b), Some(a)) if a == b => vec![],
        (b, a) => b
            .map(|u| (u, -1))
            .into_iter()
            .chain(a.map(|u| (u, 1)))
            .collect(),
    }
}

/// Whether a ticket change may have freed room under the capacity: with a capacity set, an
/// engineer's open count went down, so the backlog may move (SPEC §3 "Backlog").
pub fn frees_capacity(capacity: Option<i64>, deltas: &[(UserId, i64)]) -> bool {
    capacity.is_some() && deltas.iter().any(|(_, d)| *d < 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn the_counter_rules_table() {
        let (e1, e2) = (u("e1"), u("e2"));
        #[allow(clippy::type_complexity)]
        let table: Vec<(&str, Option<Counted>, Counted, Vec<(UserId, i64)>)> = vec![
            (
                "create assigned",
                None,
                (Open, Some(&e1)),
                vec![(e1.clone(), 1)],
            ),
            ("create unassigned", None, (Open, None), vec![]),
            (
                "close",
                Some((Open, Some(&e1))),
                (Closed, Some(&e1)),
                vec![(e1.clone(), -1)],
            ),
            (
                "block",
                Some((Open, Some(&e1))),
                (Blocked, Some(&e1)),
                vec![(e1.clone(), -1)],
            ),
            (
                "reopen closed",
                Some((Closed, Some(&e1))),
                (Open, Some(&e1)),
                vec![(e1.clone(), 1)],
            ),
            (
                "unblock",
                Some((Blocked, Some(&e1))),
                (Open, Some(&e1)),
                vec![(e1.clone(), 1)],
            ),
            (
                "blocked to closed",
                Some((Blocked, Some(&e1))),
                (Closed, Some(&e1)),
                vec![],
            ),
            (
                "closed to blocked",
                Some((Closed, Some(&e1))),
                (Blocked, Some(&e1)),
                vec![],
            ),
            (
                "reassign open",
                Some((Open, Some(&e1))),
                (Open, Some(&e2)),
                vec![(e1.clone(), -1), (e2.clone(), 1)],
            ),
            (
                "reassign blocked",
                Some((Blocked, Some(&e1))),
                (Blocked, Some(&e2)),
                vec![],
            ),
            (
                "reassign closed",
                Some((Closed, Some(&e1))),
                (Closed, Some(&e2)),
                vec![],
            ),
            (
                "assign unassigned open (the seed's bug)",
                Some((Open, None)),
                (Open, Some(&e2)),
                vec![(e2.clone(), 1)],
            ),
            (
                "assign unassigned closed",
                Some((Closed, None)),
                (Closed, Some(&e2)),
                vec![],
            ),
            (
                "same assignee again",
                Some((Open, Some(&e1))),
                (Open, Some(&e1)),
                vec![],
            ),
            (
                "nothing counted",
                Some((Closed, None)),
                (Open, None),
                vec![],
            ),
        ];
        for (name, before, after, want) in table {
            assert_eq!(count_deltas(before, after), want, "{name}");
        }
    }

    #[test]
    fn deltas_sum_to_the_change_in_open_assigned_tickets() {
        let e = [u("a"), u("b")];
        let states: Vec<Counted> = [Open, Blocked, Closed]
            .into_iter()
            .flat_map(|s| {
                [None, Some(&e[0]), Some(&e[1])]
                    .into_iter()
                    .map(move |a| (s, a))
            })
            .collect();
        let open_assigned = |c: &Counted| i64::from(c.0 == Open && c.1.is_some());
        for b in &states {
            for a in &states {
                let total: i64 = count_deltas(Some(*b), *a).iter().map(|(_, d)| d).sum();
                assert_eq!(total, open_assigned(a) - open_assigned(b), "{b:?} -> {a:?}");
            }
        }
    }

    #[test]
    fn only_a_drop_under_a_capacity_frees_room() {
        assert!(!frees_capacity(None, &[(u("e"), -1)]));
        assert!(frees_capacity(Some(3), &[(u("e"), -1)]));
        assert!(frees_capacity(Some(3), &[(u("a"), -1), (u("b"), 1)]));
        assert!(!frees_capacity(Some(3), &[(u("e"), 1)]));
        assert!(!frees_capacity(Some(3), &[]));
    }
}
