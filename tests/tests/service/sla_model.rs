//! A model-based property test of SPEC §10's clocks and breaches on the embedded backend:
//! random sequences of ticket creations (priorities with and without targets... here 1 and
//! 4, both under a target), staff replies, reporter replies (reopening a CLOSED ticket),
//! internal notes, status and priority changes, the clock moving on and breach sweeps, run
//! through the service layer and checked after every step against a plain model in calendar
//! time. After every step: every ticket shows the model's due times; no breach is recorded
//! that the model never saw late (no ticket is marked before its due time: each
//! `sla.breached` event's `dueAt` is before its own instant); after a change, what was late
//! at its instant in the state before or after it is recorded; after a sweep, nothing late at
//! the sweep's instant is left unrecorded (with the notifier's sweep every minute, nothing
//! stays unmarked longer than the bound); and each ticket and target has one `sla.breached`
//! event exactly when it is in `breaches`.

use chrono::DateTime;
use crm_shared::model::{EventType, TicketStatus, Timestamp};
use crm_shared::service::{self, NewComment, TicketPatch, breaches};
use crm_shared::sla::Metric;
use crm_tests::desk::{Desk, new_ticket, priority, tid};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const MINUTE: i64 = 60_000;

/// (first response, resolution) minutes of priorities 1 and 4.
fn targets(p: u8) -> (i64, i64) {
    if p == 1 { (5, 30) } else { (20, 60) }
}

#[derive(Debug, Clone)]
enum Op {
    Create { urgent: bool },
    StaffReply(usize),
    ReporterReply(usize),
    Note(usize),
    Status(usize, TicketStatus),
    Priority(usize, bool),
    Advance { minutes: i64, ms: i64 },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop_oneof![
        Just(TicketStatus::Open),
        Just(TicketStatus::Blocked),
        Just(TicketStatus::Closed)
    ];
    prop_oneof![
        2 => any::<bool>().prop_map(|urgent| Op::Create { urgent }),
        2 => any::<usize>().prop_map(Op::StaffReply),
        1 => any::<usize>().prop_map(Op::ReporterReply),
        1 => any::<usize>().prop_map(Op::Note),
        3 => (any::<usize>(), status).prop_map(|(i, s)| Op::Status(i, s)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, u)| Op::Priority(i, u)),
        3 => (0i64..=12, 0i64..MINUTE).prop_map(|(minutes, ms)| Op::Advance { minutes, ms }),
        3 => Just(Op::Sweep),
    ]
}

/// One ticket as the model has it (milliseconds, calendar time).
#[derive(Debug, Clone)]
struct Model {
    id: String,
    created: i64,
    priority: u8,
    status: TicketStatus,
    paused_ms: i64,
    paused_since: Option<i64>,
    responded: Option<i64>,
    /// Targets the model has seen late at some step's instant.
    ever_late: BTreeSet<Metric>,
}

impl Model {
    fn due(&self) -> (i64, i64) {
        let (fr, res) = targets(self.priority);
        (
            self.created + fr * MINUTE,
            self.created + res * MINUTE + self.paused_ms,
        )
    }

    fn late(&self, now: i64) -> BTreeSet<Metric> {
        let (fr, res) = self.due();
        let mut out = BTreeSet::new();
        let fr_late = match self.responded {
            Some(r) => r > fr,
            None => self.status != TicketStatus::Closed && now > fr,
        };
        if fr_late {
            out.insert(Metric::FirstResponse);
        }
        if self.paused_since.unwrap_or(now) > res {
            out.insert(Metric::Resolution);
        }
        out
    }

    fn on_status(&mut self, to: TicketStatus, at: i64) {
        if to == self.status {
            return;
        }
        if let Some(since) = self.paused_since {
            self.paused_ms += at - since;
        }
        self.paused_since =
            matches!(to, TicketStatus::Blocked | TicketStatus::Closed).then_some(at);
        self.status = to;
    }
}

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("an RFC 3339 instant")
        .timestamp_millis()
}

fn pick(tickets: &[Model], i: usize) -> Option<usize> {
    (!tickets.is_empty()).then(|| i % tickets.len())
}

type Checked = Result<(), String>;

/// What must hold after a step that happened at `at` to ticket `i` (`must`: late then in
/// the state before or after the change, so recorded by it).
async fn check(w: &Desk, m: &[Model], touched: Option<(usize, BTreeSet<Metric>)>) -> Checked {
    let outbox = w.outbox().await;
    let mut events: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in outbox.iter().map(|e| &e.event) {
        if e.event_type != EventType::SlaBreached {
            continue;
        }
        let t = e
            .data
            .ticket
            .as_ref()
            .ok_or("a breach without its ticket")?;
        let due = e.data.due_at.as_deref().ok_or("a breach without dueAt")?;
        if ms(due) >= ms(&e.timestamp) {
            return Err(format!(
                "{} marked at {} before its due time {due}",
                t.id, e.timestamp
            ));
        }
        let target = e.data.target.clone().ok_or("a breach without target")?;
        *events.entry((t.id.clone(), target)).or_default() += 1;
    }
    for (i, t) in m.iter().enumerate() {
        let rec = w.ticket(&t.id).await;
        let s = rec.sla.ok_or(format!("{} has no sla", t.id))?;
        let (fr, res) = t.due();
        if (s.first_response_due_at, s.resolution_due_at) != (Some(fr), Some(res)) {
            return Err(format!(
                "{}: due {:?}/{:?}, the model {fr}/{res} ({t:?})",
                t.id, s.first_response_due_at, s.resolution_due_at
            ));
        }
        if s.first_responded_at != t.responded {
            return Err(format!(
                "{}: responded {:?}, model {:?}",
                t.id, s.first_responded_at, t.responded
            ));
        }
        let recorded: BTreeSet<Metric> = s.breaches.iter().copied().collect();
        if !recorded.is_subset(&t.ever_late) {
            return Err(format!(
                "{}: recorded {recorded:?}, never late in the model beyond {:?}",
                t.id, t.ever_late
            ));
        }
        if let Some((j, must)) = &touched
            && *j == i
            && !must.is_subset(&recorded)
        {
            return Err(format!(
                "{}: late at the change {must:?}, recorded {recorded:?}",
                t.id
            ));
        }
        for metric in Metric::ALL {
            let n = events
                .get(&(t.id.clone(), metric.as_str().to_owned()))
                .copied()
                .unwrap_or(0);
            let want = usize::from(recorded.contains(&metric));
            if n != want {
                return Err(format!(
                    "{}: {n} sla.breached for {metric:?}, breaches {recorded:?}",
                    t.id
                ));
            }
        }
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let w = Desk::new(crm_tests::emulator::sqlite_store()).await;
    let cust = w.customer("cust").await;
    service::put_sla(
        &w.ctx,
        &w.admin,
        &json!({"targets": {"1": {"firstResponseMinutes": 5, "resolutionMinutes": 30},
                            "4": {"firstResponseMinutes": 20, "resolutionMinutes": 60}}}),
    )
    .await
    .map_err(|e| TestCaseError::fail(format!("PUT /sla: {e:?}")))?;
    let mut m: Vec<Model> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let fail = |e: String| TestCaseError::fail(format!("step {n} {op:?}: {e}"));
        // The ticket changed, its state before, and the change's instant.
        let mut touched: Option<(usize, Model, i64)> = None;
        match op {
            Op::Create { urgent } => {
                let p = if *urgent { 1 } else { 4 };
                let t = service::create_ticket(
                    &w.ctx,
                    &cust,
                    service::NewTicket {
                        priority: Some(priority(i64::from(p))),
                        ..new_ticket("t")
                    },
                )
                .await
                .map_err(|e| fail(format!("{e:?}")))?;
                let created = ms(&t.created_at);
                m.push(Model {
                    id: t.id,
                    created,
                    priority: p,
                    status: TicketStatus::Open,
                    paused_ms: 0,
                    paused_since: None,
                    responded: None,
                    ever_late: BTreeSet::new(),
                });
            }
            Op::StaffReply(i) | Op::ReporterReply(i) | Op::Note(i) => {
                let Some(i) = pick(&m, *i) else { continue };
                let (who, internal) = match op {
                    Op::StaffReply(_) => (&w.admin, false),
                    Op::Note(_) => (&w.admin, true),
                    _ => (&cust, false),
                };
                let before = m[i].clone();
                let c = service::add_comment(
                    &w.ctx,
                    who,
                    &tid(&m[i].id),
                    NewComment {
                        body: crm_shared::model::CommentBody::parse("x").expect("body"),
                        internal,
                        attachments: Vec::new(),
                    },
                )
                .await
                .map_err(|e| fail(format!("{e:?}")))?;
                let at = ms(&c.created_at);
                match op {
                    Op::StaffReply(_) => m[i].responded = m[i].responded.or(Some(at)),
                    Op::ReporterReply(_) if m[i].status == TicketStatus::Closed => {
                        m[i].on_status(TicketStatus::Open, at)
                    }
                    _ => {}
                }
                touched = Some((i, before, at));
            }
            Op::Status(i, s) => {
                let Some(i) = pick(&m, *i) else { continue };
                let before = m[i].clone();
                let t = w
                    .update(
                        &w.admin,
                        &m[i].id,
                        TicketPatch {
                            status: Some(*s),
                            ..TicketPatch::default()
                        },
                    )
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                if *s != before.status {
                    let at = ms(&t.updated_at);
                    m[i].on_status(*s, at);
                    touched = Some((i, before, at));
                }
            }
            Op::Priority(i, urgent) => {
                let Some(i) = pick(&m, *i) else { continue };
                let p = if *urgent { 1 } else { 4 };
                let before = m[i].clone();
                let t = w
                    .update(
                        &w.admin,
                        &m[i].id,
                        TicketPatch {
                            priority: Some(priority(i64::from(p))),
                            ..TicketPatch::default()
                        },
                    )
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                if p != before.priority {
                    m[i].priority = p;
                    touched = Some((i, before, ms(&t.updated_at)));
                }
            }
            Op::Advance { minutes, ms } => w.ctx.clock.advance(minutes * MINUTE + ms),
            Op::Sweep => {
                let now = w.ctx.clock.now();
                breaches::sweep(&w.ctx.writer(), now)
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                for t in &mut m {
                    let late = t.late(now.millis());
                    t.ever_late.extend(late);
                }
                // Nothing late at the sweep's instant is left unrecorded.
                for t in &m {
                    let recorded: BTreeSet<Metric> = w
                        .ticket(&t.id)
                        .await
                        .sla
                        .map(|s| s.breaches.into_iter().collect())
                        .unwrap_or_default();
                    let late = t.late(now.millis());
                    if !late.is_subset(&recorded) {
                        return Err(fail(format!(
                            "{}: late {late:?} at the sweep ({}), recorded {recorded:?}",
                            t.id,
                            Timestamp::from_millis(now.millis()).rfc3339()
                        )));
                    }
                }
            }
        }
        let must = touched.map(|(i, before, at)| {
            let late: BTreeSet<Metric> = before.late(at).union(&m[i].late(at)).copied().collect();
            m[i].ever_late.extend(late.iter().copied());
            (i, late)
        });
        check(&w, &m, must).await.map_err(fail)?;
    }
    Ok(())
}

#[test]
fn breaches_are_never_early_never_missed_by_a_sweep_and_recorded_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x51a0_b4ea_c4ed),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 10..=50), |ops| {
        rt.block_on(run(ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
