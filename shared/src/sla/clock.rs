//! A ticket's SLA clocks (SPEC §10) as pure functions: its due times, the pause state it stores,
//! and which targets are late. The ticket transition and the breach sweep are built on these.
//!
//! What a ticket keeps: every ticket created while a policy is in force keeps a clock, whether or
//! not its priority has a target (a priority change may give it one):
//! - a reference to the policy in force at its creation (policies are kept as immutable
//!   versions): a priority change takes the new priority's target from it;
//! - `firstRespondedAt`, `resolvedAt` and `breaches` (SPEC §10);
//! - `pausedMs`: business milliseconds (on that policy's calendar) the resolution clock has
//!   been stopped, up to `pausedSince`;
//! - `pausedSince`: when the current stop began, or was last folded into `pausedMs`; `null`
//!   while the ticket is OPEN;
//! - `firstResponseDueAt` and `resolutionDueAt`: [`due_at`] of the above, kept for the answer,
//!   the listing's sort and filter;
//! - the sweep's key, [`SlaClock::next_check`]: absent when nothing can become late.
//!
//! The state machine (OPEN, BLOCKED, CLOSED):
//! - The first-response clock runs from creation to the first response (the first public
//!   comment by staff other than the reporter, the caller decides); nothing pauses it. While
//!   the ticket is CLOSED it cannot breach (nobody waits for an answer); reopened past its due
//!   time with no response yet, it is late at once.
//! - The resolution clock runs while OPEN and stops while BLOCKED or CLOSED. At every status
//!   change the stop since `pausedSince` is added to `pausedMs`, and `pausedSince` becomes the
//!   change's instant if the new status stops the clock, `null` if it is OPEN. So
//!   `resolutionDueAt` = creation + target + `pausedMs` in business time: while stopped it shows
//!   the due time as of the last change, and when the ticket reopens it moves later by the
//!   business time it was stopped. Closing sets `resolvedAt`; leaving CLOSED clears it.
//! - A priority change recomputes both due times from the creation time with the new priority's
//!   target in the ticket's policy and the same `pausedMs`; a priority without a target has no
//!   `sla` (the clock is kept).
//! - Late ([`SlaClock::late`]): the first response came after its due time, or has not come, the
//!   ticket is not CLOSED and the due time has passed; the resolution clock stopped after its due
//!   time, or runs and the due time has passed ("passed": strictly later, so a response at the
//!   due millisecond is on time). A change at instant `at` records what is late at `at` in the
//!   state before it and in the state after it (the before state catches a breach that the sweep
//!   had not yet recorded; the after state a late response, resolution or a priority's shorter
//!   target); the sweep records what is late now. A breach is never unrecorded, though a later
//!   stop or priority change can move the due time past it.

use super::calendar::{Calendar, MINUTE_MS};
use super::policy::SlaPolicy;
use crate::model::{Priority, TicketStatus, Timestamp};

/// One of a ticket's two targets, named as in `breaches` and `sla.breached` events.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    FirstResponse,
    Resolution,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::FirstResponse, Metric::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponse => "firstResponse",
            Metric::Resolution => "resolution",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

/// A ticket's due times; None where its priority's target leaves that one out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueTimes {
    pub first_response: Option<Timestamp>,
    pub resolution: Option<Timestamp>,
}

impl DueTimes {
    pub fn get(&self, metric: Metric) -> Option<Timestamp> {
        match metric {
            Metric::FirstResponse => self.first_response,
            Metric::Resolution => self.resolution,
        }
    }
}

/// The due times of a ticket of `priority` created at `created` under `policy` (the one in
/// force at its creation), its resolution clock having been stopped `paused_ms` business
/// milliseconds. None: that priority has no target, so the ticket has no `sla`.
pub fn due_at(
    policy: &SlaPolicy,
    priority: Priority,
    created: Timestamp,
    paused_ms: i64,
) -> Option<DueTimes> {
    let target = policy.target(priority)?;
    let calendar = policy.calendar();
    let after = |minutes: i64, extra: i64| {
        calendar.add(
            created,
            minutes.saturating_mul(MINUTE_MS).saturating_add(extra),
        )
    };
    Some(DueTimes {
        first_response: target
            .first_response()
            .map(|m| after(i64::from(m.get()), 0)),
        resolution: target
            .resolution()
            .map(|m| after(i64::from(m.get()), paused_ms.max(0))),
    })
}

/// Whether a status stops the resolution clock.
fn stops(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::Blocked | TicketStatus::Closed)
}

/// What a ticket stores of its clocks (its due times follow from it with [`due_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaClock {
    pub first_responded_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Business milliseconds the resolution clock was stopped, up to `paused_since`.
    pub paused_ms: i64,
    /// When the current stop began or was last folded in; None while OPEN.
    pub paused_since: Option<Timestamp>,
}

impl SlaClock {
    /// A new ticket's clock (tickets are created OPEN).
    pub fn new() -> Self {
        Self::default()
    }

    /// After the status went from `from` to `to` at `at`; `calendar` is the calendar of the
    /// ticket's policy.
    pub fn on_status(
        self,
        calendar: &Calendar,
        from: TicketStatus,
        to: TicketStatus,
        at: Timestamp,
    ) -> Self {
        let stopped = self
            .paused_since
            .map_or(0, |since| calendar.between(since, at));
        Self {
            paused_ms: self.paused_ms.saturating_add(stopped),
            paused_since: stops(to).then_some(at),
            resolved_at: match (from, to) {
                (_, TicketStatus::Closed) if from != TicketStatus::Closed => Some(at),
                (_, TicketStatus::Closed) => self.resolved_at,
                _ => None,
            },
            ..self
        }
    }

    /// After a response at `at` (only the first one counts).
    pub fn on_first_response(self, at: Timestamp) -> Self {
        Self {
            first_responded_at: self.first_responded_at.or(Some(at)),
            ..self
        }
    }

    /// [`due_at`] with this clock's stops.
    pub fn due(
        &self,
        policy: &SlaPolicy,
        priority: Priority,
        created: Timestamp,
    ) -> Option<DueTimes> {
        due_at(policy, priority, created, self.paused_ms)
    }

    /// Whether `metric` is late at `now` with these `due` times and the ticket in `status`.
    pub fn is_late(
        &self,
        metric: Metric,
        due: &DueTimes,
        status: TicketStatus,
        now: Timestamp,
    ) -> bool {
        let Some(due) = due.get(metric) else {
            return false;
        };
        match metric {
            Metric::FirstResponse => match self.first_responded_at {
                Some(r) => r > due,
                None => status != TicketStatus::Closed && now > due,
            },
            Metric::Resolution => self.paused_since.unwrap_or(now) > due,
        }
    }

    /// The metrics late at `now` (see [`SlaClock::is_late`]).
    pub fn late(&self, due: &DueTimes, status: TicketStatus, now: Timestamp) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| self.is_late(*m, due, status, now))
            .collect()
    }

    /// The instant after which a metric not in `recorded` becomes late if nothing changes: the
    /// breach sweep's key (None: the ticket needs no sweep).
    pub fn next_check(
        &self,
        due: &DueTimes,
        status: TicketStatus,
        recorded: &[Metric],
    ) -> Option<Timestamp> {
        let running = |m: Metric| match m {
            Metric::FirstResponse => {
                self.first_responded_at.is_none() && status != TicketStatus::Closed
            }
            Metric::Resolution => self.paused_since.is_none(),
        };
        Metric::ALL
            .into_iter()
            .filter(|m| !recorded.contains(m) && running(*m))
            .filter_map(|m| due.get(m))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::calendar::tests::{at, show};
    use TicketStatus::*;
    use proptest::prelude::*;
    use serde_json::json;

    const BERLIN: &str = "Europe/Berlin";

    fn policy(business_hours: bool) -> SlaPolicy {
        let mut body = json!({"targets": {
            "1": {"firstResponseMinutes": 30, "resolutionMinutes": 240},
            "2": {"firstResponseMinutes": 60, "resolutionMinutes": 480},
            "3": {"resolutionMinutes": 960}
        }});
        if business_hours {
            body["businessHours"] = json!({"timezone": BERLIN, "days": {
                "mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}});
        }
        SlaPolicy::parse(&body, at(BERLIN, "2026-06-01 12:00")).unwrap()
    }

    fn p(n: i64) -> Priority {
        Priority::from_int(n).unwrap()
    }

    /// Due times as "MM-DD HH:MM" in Berlin: (first response, resolution).
    type Shown = (Option<String>, Option<String>);

    fn shown(due: Option<DueTimes>) -> Shown {
        let due = due.unwrap_or_default();
        let s = |t: Option<Timestamp>| t.map(|t| show(BERLIN, t)[5..16].to_string());
        (s(due.first_response), s(due.resolution))
    }

    #[test]
    fn due_times_per_priority() {
        let created = at(BERLIN, "2026-06-12 16:30"); // a Friday
        let some = |a: &str, b: &str| (Some(a.to_string()), Some(b.to_string()));
        #[rustfmt::skip]
        let table: Vec<(bool, i64, i64, Shown)> = vec![
            (true, 1, 0, some("06-12 17:00", "06-15 12:30")),
            (true, 2, 0, some("06-15 09:30", "06-15 16:30")),
            (true, 3, 0, (None, Some("06-16 16:30".into()))),
            (true, 4, 0, (None, None)),
            // Paused time moves only the resolution.
            (true, 1, 60 * MINUTE_MS, some("06-12 17:00", "06-15 13:30")),
            (false, 1, 0, some("06-12 17:00", "06-12 20:30")),
            (false, 2, 30 * MINUTE_MS, some("06-12 17:30", "06-13 01:00")),
        ];
        for (hours, priority, paused, want) in table {
            let due = due_at(&policy(hours), p(priority), created, paused);
            assert_eq!(
                shown(due),
                want,
                "hours {hours} priority {priority} paused {paused}"
            );
        }
        assert_eq!(due_at(&policy(true), p(4), created, 0), None);
        assert_eq!(due_at(&SlaPolicy::none(), p(1), created, 0), None);
    }

    /// One event in a ticket's life.
    #[derive(Debug, Clone, Copy)]
    enum Event {
        Status(TicketStatus),
        Respond,
        Priority(i64),
    }

    /// A ticket under a policy, with the breaches it records, driven as the transition would.
    struct Ticket {
        policy: SlaPolicy,
        created: Timestamp,
        priority: Priority,
        status: TicketStatus,
        clock: SlaClock,
        recorded: Vec<Metric>,
        /// Every record: (metric, when, the due time it was late against).
        records: Vec<(Metric, Timestamp, Timestamp)>,
    }

    impl Ticket {
        fn new(policy: SlaPolicy, created: Timestamp, priority: i64) -> Self {
            Self {
                policy,
                created,
                priority: p(priority),
                status: Open,
                clock: SlaClock::new(),
                recorded: vec![],
                records: vec![],
            }
        }

        fn due(&self) -> DueTimes {
            self.clock
                .due(&self.policy, self.priority, self.created)
                .unwrap_or_default()
        }

        /// Records what is late at `now` (the sweep, or one side of a change).
        fn record(&mut self, now: Timestamp) {
            let due = self.due();
            for m in self.clock.late(&due, self.status, now) {
                if !self.recorded.contains(&m) {
                    self.recorded.push(m);
                    self.records.push((m, now, due.get(m).unwrap()));
                }
            }
        }

        fn apply(&mut self, event: Event, now: Timestamp) {
            self.record(now);
            match event {
                Event::Status(to) => {
                    self.clock = self
                        .clock
                        .on_status(self.policy.calendar(), self.status, to, now);
                    self.status = to;
                }
                Event::Respond => self.clock = self.clock.on_first_response(now),
                Event::Priority(n) => self.priority = p(n),
            }
            self.record(now);
        }
    }

    #[test]
    fn a_ticket_blocked_closed_reopened_and_reprioritised() {
        let mut t = Ticket::new(policy(true), at(BERLIN, "2026-06-15 10:00"), 1); // a Monday
        let some = |a: &str, b: &str| (Some(a.to_string()), Some(b.to_string()));
        assert_eq!(shown(Some(t.due())), some("06-15 10:30", "06-15 14:00"));
        // (local time, event, due times after it, resolvedAt, breaches so far)
        #[rustfmt::skip]
        #[allow(clippy::type_complexity)]
        let story: Vec<(&str, Event, Shown, Option<&str>, Vec<Metric>)> = vec![
            // Blocked after 1 h of its 4: the clock stops; the due time shows as of the stop.
            ("2026-06-15 11:00", Event::Status(Blocked), some("06-15 10:30", "06-15 14:00"), None, vec![Metric::FirstResponse]),
            // Unblocked the next morning: stopped 6 h + 1 h of business time, 3 h left.
            ("2026-06-16 10:00", Event::Status(Open), some("06-15 10:30", "06-16 13:00"), None, vec![Metric::FirstResponse]),
            ("2026-06-16 11:00", Event::Respond, some("06-15 10:30", "06-16 13:00"), None, vec![Metric::FirstResponse]),
            // Closed in time.
            ("2026-06-16 12:00", Event::Status(Closed), some("06-15 10:30", "06-16 13:00"), Some("06-16 12:00"), vec![Metric::FirstResponse]),
            // Reopened: 5.5 h more stopped; 1 h left, resolvedAt cleared.
            ("2026-06-17 09:30", Event::Status(Open), some("06-15 10:30", "06-17 10:30"), None, vec![Metric::FirstResponse]),
            // Priority 2 (60/480) from creation, with the 12.5 h stopped: Wednesday 14:30.
            ("2026-06-17 10:00", Event::Priority(2), some("06-15 11:00", "06-17 14:30"), None, vec![Metric::FirstResponse]),
            // Back to priority 1: the resolution is already late.
            ("2026-06-17 11:00", Event::Priority(1), some("06-15 10:30", "06-17 10:30"), None, vec![Metric::FirstResponse, Metric::Resolution]),
        ];
        for (when, event, due, resolved, breaches) in story {
            let now = at(BERLIN, when);
            t.apply(event, now);
            assert_eq!(shown(Some(t.due())), due, "{when} {event:?}");
            let r = t
                .clock
                .resolved_at
                .map(|r| show(BERLIN, r)[5..16].to_string());
            assert_eq!(r.as_deref(), resolved, "{when} {event:?}");
            assert_eq!(t.recorded, breaches, "{when} {event:?}");
        }
    }

    #[test]
    fn what_is_late_table() {
        let due = DueTimes {
            first_response: Some(Timestamp::from_millis(1_000)),
            resolution: Some(Timestamp::from_millis(5_000)),
        };
        let ts = Timestamp::from_millis;
        let clock = |responded: Option<i64>, paused_since: Option<i64>| SlaClock {
            first_responded_at: responded.map(ts),
            paused_since: paused_since.map(ts),
            ..SlaClock::new()
        };
        use Metric::*;
        #[rustfmt::skip]
        let table: Vec<(&str, SlaClock, TicketStatus, i64, Vec<Metric>)> = vec![
            ("before any due time", clock(None, None), Open, 1_000, vec![]),
            ("a millisecond after the first response's", clock(None, None), Open, 1_001, vec![FirstResponse]),
            ("responded on the due millisecond", clock(Some(1_000), None), Open, 9_000, vec![Resolution]),
            ("responded late", clock(Some(1_001), None), Open, 2_000, vec![FirstResponse]),
            ("blocked: waiting for a response still", clock(None, Some(500)), Blocked, 9_000, vec![FirstResponse]),
            ("closed: nobody waits for a response", clock(None, Some(500)), Closed, 9_000, vec![]),
            ("stopped before the resolution's due time", clock(Some(1), Some(5_000)), Blocked, 9_000, vec![]),
            ("stopped after it", clock(Some(1), Some(5_001)), Closed, 9_000, vec![Resolution]),
            ("running past it", clock(Some(1), None), Open, 5_001, vec![Resolution]),
        ];
        for (name, c, status, now, want) in table {
            assert_eq!(c.late(&due, status, ts(now)), want, "{name}");
        }
        let none = DueTimes::default();
        assert!(clock(None, None).late(&none, Open, ts(i64::MAX)).is_empty());
    }

    #[test]
    fn next_check_table() {
        let ts = Timestamp::from_millis;
        let due = DueTimes {
            first_response: Some(ts(1_000)),
            resolution: Some(ts(5_000)),
        };
        let responded = SlaClock::new().on_first_response(ts(10));
        let paused = SlaClock {
            paused_since: Some(ts(20)),
            ..SlaClock::new()
        };
        use Metric::*;
        #[rustfmt::skip]
        #[allow(clippy::type_complexity)]
        let table: Vec<(&str, SlaClock, TicketStatus, Vec<Metric>, Option<i64>)> = vec![
            ("both running", SlaClock::new(), Open, vec![], Some(1_000)),
            ("first response recorded", SlaClock::new(), Open, vec![FirstResponse], Some(5_000)),
            ("responded", responded, Open, vec![], Some(5_000)),
            ("blocked, no response", paused, Blocked, vec![], Some(1_000)),
            ("closed, no response", paused, Closed, vec![], None),
            ("everything recorded", SlaClock::new(), Open, vec![FirstResponse, Resolution], None),
        ];
        for (name, c, status, recorded, want) in table {
            assert_eq!(
                c.next_check(&due, status, &recorded),
                want.map(ts),
                "{name}"
            );
        }
        assert_eq!(
            SlaClock::new().next_check(&DueTimes::default(), Open, &[]),
            None
        );
    }

    #[test]
    fn metric_names() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
        assert_eq!(Metric::parse("resolved"), None);
    }

    fn an_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            3 => prop::sample::select(vec![Open, Blocked, Closed]).prop_map(Event::Status),
            1 => Just(Event::Respond),
            1 => (1i64..=4).prop_map(Event::Priority),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The ticket life model: never recorded before its due time; never late without being
        /// recorded by the next check; the stopped time is the business time spent BLOCKED or
        /// CLOSED, and moves the resolution due time by exactly that.
        #[test]
        fn ticket_lives(
            hours in any::<bool>(),
            priority in 1i64..=4,
            created in 1_780_000_000_000i64..1_790_000_000_000,
            events in prop::collection::vec((0i64..3_000 * MINUTE_MS, an_event(), 0.0f64..1.0), 0..12),
        ) {
            let created = Timestamp::from_millis(created);
            let mut t = Ticket::new(policy(hours), created, priority);
            let calendar = t.policy.calendar().clone();
            let mut now = created;
            let mut stopped = 0; // business ms spent BLOCKED or CLOSED, measured independently
            for (gap, event, probe) in events {
                let next = Timestamp::from_millis(now.millis() + gap);
                // Between two changes: late exactly after next_check, never before.
                let due = t.due();
                let check = t.clock.next_check(&due, t.status, &t.recorded);
                let probe_at = Timestamp::from_millis(now.millis() + (gap as f64 * probe) as i64);
                let new_late: Vec<Metric> = t.clock.late(&due, t.status, probe_at).into_iter()
                    .filter(|m| !t.recorded.contains(m)).collect();
                prop_assert_eq!(!new_late.is_empty(), check.is_some_and(|c| probe_at > c),
                    "probe {:?} check {:?} late {:?}", probe_at, check, new_late);
                if stops(t.status) {
                    stopped += calendar.between(now, next);
                }
                t.apply(event, next);
                now = next;
                let running_stop = t.clock.paused_since.map_or(0, |s| calendar.between(s, now));
                prop_assert_eq!(t.clock.paused_ms + running_stop, stopped);
                if let (Some(target), Some(res)) = (t.policy.target(t.priority).and_then(|x| x.resolution()), t.due().resolution) {
                    prop_assert_eq!(calendar.between(created, res), i64::from(target.get()) * MINUTE_MS + t.clock.paused_ms);
                }
                prop_assert_eq!(t.clock.resolved_at.is_some(), t.status == Closed);
            }
            for (metric, when, due) in &t.records {
                prop_assert!(when > due, "{:?} recorded at {:?}, due {:?}", metric, when, due);
            }
        }
    }
}
