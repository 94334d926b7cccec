//! A model-based property test of SPEC §2–§3 on the embedded backend: random sequences of
//! sign-ups, approvals, rejections, set-pending, type changes, ticket creations, status
//! changes, reassignments, edits, comments and internal notes (a reporter's public reply
//! reopening a CLOSED ticket), reads and listings, by random callers of random roles, and
//! runs of the pending workload jobs interleaved with them, followers added and removed
//! (SPEC §11: by the reporter or concerned staff, anyone themself; a follower sees the
//! ticket and comments, a customer follower changes nothing; following moves no count),
//! merges and ratings interleaved with all of it (SPEC §12: who may merge, every refusal,
//! the source closed and marked with its counts, the followers carried over, a reply to a
//! merged ticket added to the target and never reopening the merged one, a merged ticket not
//! changed again; only the reporter rates, only a CLOSED ticket, moving no count),
//! under a random engineer capacity
//! (none, or 1–3), run through the service layer and checked step by step against a plain
//! in-memory model: which requests succeed, which fail with which status, which jobs they
//! record (an engineer arriving or leaving, room freed under the capacity), who gets
//! assigned — fewest OPEN tickets below the capacity, ties to the earliest approved — at
//! creation, from the backlog (oldest first), on a hand-on (a departed engineer's OPEN
//! tickets, BLOCKED and CLOSED kept) and on a reopening while the assignee cannot work on
//! it, and every ticket's fields. After every step: each user's stored ticketsWorkingOnCount
//! equals a recount of the OPEN tickets assigned to them, the engineers-by-load index holds
//! exactly the approved engineers in load order, no engineer is above the capacity but by an
//! admin's reassignment or a reopening that keeps its assignee, and with no job pending no
//! OPEN ticket is assigned to anyone but an approved engineer and none waits unassigned
//! while an engineer has room.

use crm_shared::ApiError;
use crm_shared::model::{JobKind, TicketId, TicketStatus, Timestamp, UserStatus, UserType};
use crm_shared::service::workload::{JobReport, Workload, run_job};
use crm_shared::service::{self, Authed, NewTicket, TicketFilter, TicketPatch, UserUpdate};
use crm_shared::store::keys::LOAD_STEP;
use crm_tests::desk::{Desk, description, priority, tid, title, uid};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Who makes a request: some approved admin, or any user (by index, modulo the population),
/// or (for a ticket change) the ticket's reporter.
#[derive(Debug, Clone, Copy)]
enum Who {
    Admin,
    Any(usize),
    Reporter,
}

/// Whom a reassignment names: an approved engineer (by index among them), or any user.
#[derive(Debug, Clone, Copy)]
enum Target {
    Engineer(usize),
    Any(usize),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => any::<usize>().prop_map(Target::Engineer),
        1 => any::<usize>().prop_map(Target::Any),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    SignUp {
        engineer: bool,
    },
    SignUpTaken {
        target: usize,
    },
    SetStatus {
        caller: Who,
        target: usize,
        status: UserStatus,
    },
    SetType {
        caller: Who,
        target: usize,
        user_type: UserType,
        status: Option<UserStatus>,
    },
    Create {
        caller: Who,
        priority: Option<u8>,
    },
    SetTicketStatus {
        caller: Who,
        ticket: usize,
        status: TicketStatus,
    },
    Reassign {
        caller: Who,
        ticket: usize,
        target: Target,
    },
    Edit {
        caller: Who,
        ticket: usize,
        title: Option<u8>,
        priority: Option<u8>,
    },
    StatusAndAssignee {
        caller: Who,
        ticket: usize,
        target: usize,
    },
    Get {
        caller: Who,
        ticket: usize,
    },
    GetUnknown {
        caller: Who,
    },
    List {
        caller: Who,
    },
    /// A comment on a ticket, by its reporter (`by_reporter`) or by `caller`.
    Comment {
        caller: Who,
        by_reporter: bool,
        ticket: usize,
        internal: bool,
    },
    ListComments {
        caller: Who,
        ticket: usize,
    },
    /// Adds user `target` (by index) as a follower of a ticket.
    Follow {
        caller: Who,
        ticket: usize,
        target: usize,
    },
    /// Removes a follower: the caller themself (`own`), else user `target` (mostly one who
    /// follows).
    Unfollow {
        caller: Who,
        ticket: usize,
        target: usize,
        own: bool,
    },
    /// Runs every pending workload job, as the queue's consumer would.
    RunJobs,
    /// SPEC §12: merges ticket `source` into ticket `target` (by index).
    Merge {
        caller: Who,
        source: usize,
        target: usize,
    },
    /// SPEC §12: rates a ticket (mostly a CLOSED one).
    Rate {
        caller: Who,
        ticket: usize,
        good: bool,
    },
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![2 => Just(Who::Admin), 3 => any::<usize>().prop_map(Who::Any)]
}

/// A ticket change's caller: also its reporter.
fn ticket_who() -> impl Strategy<Value = Who> {
    prop_oneof![2 => Just(Who::Admin), 2 => Just(Who::Reporter), 3 => any::<usize>().prop_map(Who::Any)]
}

fn user_status() -> impl Strategy<Value = UserStatus> {
    prop_oneof![
        2 => Just(UserStatus::Approved),
        1 => Just(UserStatus::Pending),
        1 => Just(UserStatus::Rejected),
    ]
}

fn user_type() -> impl Strategy<Value = UserType> {
    prop_oneof![
        Just(UserType::Customer),
        Just(UserType::Engineer),
        Just(UserType::Admin)
    ]
}

fn ticket_status() -> impl Strategy<Value = TicketStatus> {
    prop_oneof![
        Just(TicketStatus::Open),
        Just(TicketStatus::Blocked),
        Just(TicketStatus::Closed)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let n = any::<usize>;
    prop_oneof![
        3 => any::<bool>().prop_map(|engineer| Op::SignUp { engineer }),
        1 => n().prop_map(|target| Op::SignUpTaken { target }),
        5 => (who(), n(), user_status())
            .prop_map(|(caller, target, status)| Op::SetStatus { caller, target, status }),
        2 => (who(), n(), user_type(), proptest::option::of(user_status())).prop_map(
            |(caller, target, user_type, status)| Op::SetType { caller, target, user_type, status }
        ),
        7 => (who(), proptest::option::of(1u8..=4))
            .prop_map(|(caller, priority)| Op::Create { caller, priority }),
        6 => (ticket_who(), n(), ticket_status())
            .prop_map(|(caller, ticket, status)| Op::SetTicketStatus { caller, ticket, status }),
        5 => (who(), n(), target())
            .prop_map(|(caller, ticket, target)| Op::Reassign { caller, ticket, target }),
        2 => (ticket_who(), n(), proptest::option::of(0u8..3), proptest::option::of(1u8..=4)).prop_map(
            |(caller, ticket, title, priority)| Op::Edit { caller, ticket, title, priority }
        ),
        1 => (who(), n(), n()).prop_map(|(caller, ticket, target)| Op::StatusAndAssignee {
            caller,
            ticket,
            target
        }),
        2 => (who(), n()).prop_map(|(caller, ticket)| Op::Get { caller, ticket }),
        1 => who().prop_map(|caller| Op::GetUnknown { caller }),
        2 => who().prop_map(|caller| Op::List { caller }),
        8 => (who(), proptest::bool::weighted(0.75), n(), proptest::bool::weighted(0.25)).prop_map(
            |(caller, by_reporter, ticket, internal)| Op::Comment { caller, by_reporter, ticket, internal }
        ),
        2 => (who(), n()).prop_map(|(caller, ticket)| Op::ListComments { caller, ticket }),
        5 => (ticket_who(), n(), n())
            .prop_map(|(caller, ticket, target)| Op::Follow { caller, ticket, target }),
        3 => (ticket_who(), n(), n(), any::<bool>()).prop_map(
            |(caller, ticket, target, own)| Op::Unfollow { caller, ticket, target, own }
        ),
        5 => Just(Op::RunJobs),
        3 => (who(), n(), n()).prop_map(|(caller, source, target)| Op::Merge { caller, source, target }),
        2 => (ticket_who(), n(), any::<bool>()).prop_map(|(caller, ticket, good)| Op::Rate { caller, ticket, good }),
    ]
}

struct MUser {
    id: String,
    t: UserType,
    s: UserStatus,
    /// When the user last became an approved engineer (the tie-break).
    since: u64,
    /// A token issued at sign-up (its user-type hint may be stale: a planning hint only).
    token: Authed,
}

impl MUser {
    fn active(&self) -> bool {
        self.s == UserStatus::Approved
    }
    fn admin(&self) -> bool {
        self.t == UserType::Admin && self.active()
    }
    fn assignable(&self) -> bool {
        self.t == UserType::Engineer && self.active()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct MTicket {
    id: String,
    title: String,
    description: String,
    priority: u8,
    status: TicketStatus,
    reporter: String,
    assignee: Option<String>,
    version: i64,
    followers: Vec<String>,
    /// SPEC §12: the ticket it was merged into.
    merged_into: Option<String>,
    /// SPEC §12: the reporter's rating (`good` or `bad`).
    rating: Option<String>,
}

/// A workload job the model expects in the table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum MJob {
    Backlog,
    Departure(String),
}

impl MJob {
    fn of(k: &JobKind) -> MJob {
        match k {
            JobKind::Backlog => MJob::Backlog,
            JobKind::Departure { engineer } => MJob::Departure(engineer.clone()),
        }
    }
}

struct Model {
    users: Vec<MUser>,
    tickets: Vec<MTicket>,
    /// `CRM_ENGINEER_CAPACITY` of the case.
    cap: Option<i64>,
    /// The jobs recorded and not yet run.
    jobs: Vec<MJob>,
    /// The highest count each user reached by an admin's reassignment or a reopening that
    /// kept its assignee (the only ways above the capacity).
    ceiling: std::collections::BTreeMap<String, i64>,
    /// The ticket the step updated or commented on (its history is checked after it).
    touched: Option<String>,
    /// Every comment written: (ticket id, body, internal), oldest first.
    comments: Vec<(String, String, bool)>,
    seq: u64,
    signups: usize,
}

impl Model {
    fn user(&self, id: &str) -> &MUser {
        self.users.iter().find(|u| u.id == id).expect("model user")
    }
    fn open_count(&self, id: &str) -> i64 {
        self.tickets
            .iter()
            .filter(|t| t.status == TicketStatus::Open && t.assignee.as_deref() == Some(id))
            .count() as i64
    }
    /// The approved engineers by (open tickets, approval order).
    fn by_load(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(i64, u64, String)> = self
            .users
            .iter()
            .filter(|u| u.assignable())
            .map(|u| (self.open_count(&u.id), u.since, u.id.clone()))
            .collect();
        v.sort();
        v.into_iter().map(|(c, _, id)| (id, c)).collect()
    }
    /// Who the assignment rule gives a ticket to now: the least loaded approved engineer
    /// (ties: the earliest approved) if below the capacity, else nobody.
    fn pick(&self) -> Option<String> {
        self.by_load()
            .into_iter()
            .next()
            .filter(|(_, n)| self.cap.is_none_or(|c| *n < c))
            .map(|(u, _)| u)
    }
    /// A ticket change made OPEN tickets of `id` go up by something other than the
    /// assignment rule: its ceiling follows.
    fn raised(&mut self, id: &str) {
        let n = self.open_count(id);
        let c = self.ceiling.entry(id.to_owned()).or_default();
        *c = (*c).max(n);
    }
    fn caller(&self, w: Who) -> usize {
        match w {
            Who::Admin => self
                .users
                .iter()
                .position(MUser::admin)
                .expect("an approved admin always remains"),
            Who::Any(i) => i % self.users.len(),
            Who::Reporter => self.caller(Who::Any(0)),
        }
    }
    fn concerned(&self, caller: &MUser, t: &MTicket) -> bool {
        let follows = t.followers.contains(&caller.id);
        match caller.t {
            UserType::Admin => caller.active(),
            UserType::Engineer => {
                t.reporter == caller.id || t.assignee.as_deref() == Some(&caller.id) || follows
            }
            UserType::Customer => t.reporter == caller.id || follows,
        }
    }
    /// SPEC §11: who changes a ticket (and its followers) among those who see it: its
    /// reporter and staff; a customer who only follows it reads and comments.
    fn may_change(&self, caller: &MUser, t: &MTicket) -> bool {
        self.concerned(caller, t) && (t.reporter == caller.id || caller.t != UserType::Customer)
    }
    fn approved_admins(&self) -> usize {
        self.users.iter().filter(|u| u.admin()).count()
    }
}

/// The status of a result: 200 for Ok.
fn status<T>(r: &Result<T, ApiError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

fn snapshot_matches(
    got: &crm_shared::model::TicketSnapshot,
    want: &MTicket,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&got.id, &want.id);
    prop_assert_eq!(&got.title, &want.title);
    prop_assert_eq!(&got.description, &want.description);
    prop_assert_eq!(got.ticket_priority, want.priority);
    prop_assert_eq!(&got.status, want.status.as_str());
    prop_assert_eq!(&got.reporter, &want.reporter);
    prop_assert_eq!(&got.assignee, &want.assignee);
    prop_assert_eq!(&got.followers, &want.followers);
    prop_assert_eq!(&got.merged_into, &want.merged_into);
    prop_assert_eq!(
        got.satisfaction
            .as_ref()
            .map(|s| s.rating.as_str().to_owned()),
        want.rating.clone()
    );
    Ok(())
}

thread_local! {
    /// How often each kind of step ended each way, over all cases (coverage of the run).
    static TALLY: std::cell::RefCell<std::collections::BTreeMap<String, usize>> =
        Default::default();
}

fn note(kind: &str, outcome: impl std::fmt::Display) {
    TALLY.with(|t| {
        *t.borrow_mut()
            .entry(format!("{kind} {outcome}"))
            .or_default() += 1
    });
}

const TITLES: [&str; 3] = ["Printer jam", "Mobile phone", "Laptop screen"];

/// The admin, two customers and three engineers, the first `approved` of whom are approved
/// (each approval a backlog job, left pending), under the capacity `cap`, on a store in `dir`.
async fn setup(dir: &std::path::Path, approved: usize, cap: Option<i64>) -> (Desk, Model) {
    let store = crm_embedded::SqliteBackend::open(&dir.join("crm.sqlite3")).expect("store");
    let mut w = Desk::new(crm_shared::store::Store::plugged(store)).await;
    w.ctx.engineer_capacity = cap;
    let mut m = Model {
        users: vec![MUser {
            id: "admin".into(),
            t: UserType::Admin,
            s: UserStatus::Approved,
            since: 0,
            token: w.admin.clone(),
        }],
        tickets: Vec::new(),
        cap,
        jobs: Vec::new(),
        ceiling: Default::default(),
        touched: None,
        comments: Vec::new(),
        seq: 1,
        signups: 0,
    };
    for (id, t) in [
        ("cust1", UserType::Customer),
        ("cust2", UserType::Customer),
        ("eng1", UserType::Engineer),
        ("eng2", UserType::Engineer),
        ("eng3", UserType::Engineer),
    ] {
        let token = w.signup(id, t).await.expect("signup");
        m.users.push(MUser {
            id: id.into(),
            t,
            s: t.initial_status(),
            since: 0,
            token,
        });
    }
    for id in ["eng1", "eng2", "eng3"].into_iter().take(approved) {
        w.set_status(id, UserStatus::Approved).await;
        let seq = m.seq;
        let e = m.users.iter_mut().find(|u| u.id == id).expect("engineer");
        e.s = UserStatus::Approved;
        e.since = seq;
        m.seq += 1;
        m.jobs.push(MJob::Backlog);
    }
    (w, m)
}

/// Whom a user update targets: two times in three an ENGINEER-typed user (approved or not:
/// arrivals and departures), else anyone.
fn user_target(m: &Model, target: usize) -> usize {
    let engineers: Vec<usize> = (0..m.users.len())
        .filter(|&i| m.users[i].t == UserType::Engineer)
        .collect();
    if !target.is_multiple_of(3) && !engineers.is_empty() {
        engineers[(target / 3) % engineers.len()]
    } else {
        target % m.users.len()
    }
}

/// Applies a user update to the model when SPEC says it succeeds; returns the expected status.
fn expect_user_update(
    m: &mut Model,
    caller: usize,
    target: usize,
    t: Option<UserType>,
    s: Option<UserStatus>,
) -> u16 {
    let c = &m.users[caller];
    if !c.active() {
        return 403;
    }
    if !c.admin() && caller != target {
        return 403;
    }
    if s.is_some() && !c.admin() {
        return 403;
    }
    let before = &m.users[target];
    let (mut nt, mut ns) = (before.t, before.s);
    if let Some(t) = t
        && t != nt
    {
        nt = t;
        ns = if t == UserType::Customer {
            UserStatus::Approved
        } else {
            UserStatus::Pending
        };
    }
    if let Some(s) = s {
        ns = s;
    }
    if (nt, ns) == (before.t, before.s) {
        return 200;
    }
    let was_admin = before.admin();
    let was_assignable = before.assignable();
    let is_admin = nt == UserType::Admin && ns == UserStatus::Approved;
    if was_admin && !is_admin && m.approved_admins() == 1 {
        return 409;
    }
    let seq = m.seq;
    let u = &mut m.users[target];
    u.t = nt;
    u.s = ns;
    // An engineer arriving drains the backlog, one leaving hands their tickets on: a job
    // recorded with the change, run later.
    let job = match (was_assignable, u.assignable()) {
        (false, true) => Some(MJob::Backlog),
        (true, false) => Some(MJob::Departure(u.id.clone())),
        _ => None,
    };
    if u.assignable() && !was_assignable {
        u.since = seq;
        m.seq += 1;
    }
    m.jobs.extend(job);
    200
}

async fn step(w: &Desk, m: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let nu = m.users.len();
    match op.clone() {
        Op::SignUp { engineer } => {
            m.signups += 1;
            let id = format!("u{}", m.signups);
            let t = if engineer {
                UserType::Engineer
            } else {
                UserType::Customer
            };
            let token = w.signup(&id, t).await;
            prop_assert!(token.is_ok(), "signup {id}: {token:?}");
            note("signup", 201);
            m.users.push(MUser {
                id,
                t,
                s: t.initial_status(),
                since: 0,
                token: token.expect("checked"),
            });
        }
        Op::SignUpTaken { target } => {
            let id = m.users[target % nu].id.clone();
            let r = w.signup(&id, UserType::Customer).await;
            prop_assert_eq!(
                r.err().map(|e| e.code),
                Some(crm_shared::ErrorCode::UserIdTaken)
            );
            note("signup-taken", 409);
        }
        Op::SetStatus {
            caller,
            target,
            status: s,
        } => {
            let (c, t) = (m.caller(caller), user_target(m, target));
            let token = m.users[c].token.clone();
            let target_id = m.users[t].id.clone();
            let want = expect_user_update(m, c, t, None, Some(s));
            let r = w
                .update_user(
                    &token,
                    &target_id,
                    UserUpdate {
                        user_status: Some(s),
                        ..Default::default()
                    },
                )
                .await;
            prop_assert_eq!(status(&r), want, "{:?}", r);
            note(&format!("set-{s}"), want);
        }
        Op::SetType {
            caller,
            target,
            user_type,
            status: s,
        } => {
            let (c, t) = (m.caller(caller), user_target(m, target));
            let token = m.users[c].token.clone();
            let target_id = m.users[t].id.clone();
            let want = expect_user_update(m, c, t, Some(user_type), s);
            let r = w
                .update_user(
                    &token,
                    &target_id,
                    UserUpdate {
                        user_type: Some(user_type),
                        user_status: s,
                        ..Default::default()
                    },
                )
                .await;
            prop_assert_eq!(status(&r), want, "{:?}", r);
            note(&format!("set-type-{user_type}"), want);
        }
        Op::Create {
            caller,
            priority: p,
        } => {
            let c = m.caller(caller);
            let title_text = TITLES[m.tickets.len() % TITLES.len()];
            let new = NewTicket {
                title: title(title_text),
                description: description(&format!("Ticket {}", m.tickets.len())),
                priority: p.map(|p| priority(p.into())),
                tags: None,
            };
            let r = service::create_ticket(&w.ctx, &m.users[c].token, new.clone()).await;
            if !m.users[c].active() {
                prop_assert_eq!(status(&r), 403, "{:?}", r);
                note("create", 403);
                return Ok(());
            }
            let got = r.map_err(|e| TestCaseError::fail(format!("create: {e:?}")))?;
            let want = MTicket {
                id: got.id.clone(),
                title: title_text.into(),
                description: new.description.as_str().into(),
                priority: p.unwrap_or(4),
                status: TicketStatus::Open,
                reporter: m.users[c].id.clone(),
                assignee: m.pick(),
                version: 1,
                followers: Vec::new(),
                merged_into: None,
                rating: None,
            };
            snapshot_matches(&got, &want)?;
            if let Some(last) = m.tickets.last() {
                prop_assert!(last.id < want.id, "ids grow with creation");
            }
            note(
                "create",
                if want.assignee.is_some() {
                    "201 assigned"
                } else {
                    "201 unassigned"
                },
            );
            m.tickets.push(want);
        }
        Op::SetTicketStatus {
            caller,
            ticket,
            status: s,
        } => {
            // Setting OPEN mostly reopens a ticket (BLOCKED or CLOSED), when there is one.
            let ticket = if s == TicketStatus::Open {
                reopening(m, ticket, |t| {
                    t.status != TicketStatus::Open && t.merged_into.is_none()
                })
                .unwrap_or(ticket)
            } else {
                ticket
            };
            let patch = TicketPatch {
                status: Some(s),
                ..Default::default()
            };
            // A reopening is mostly asked for by the reporter (merges leave fewer tickets to
            // reopen: this keeps the reopening paths reached).
            let caller = match caller {
                Who::Any(i) if s == TicketStatus::Open && i.is_multiple_of(2) => Who::Reporter,
                other => other,
            };
            update(w, m, caller, ticket, patch).await?;
        }
        Op::Reassign {
            caller,
            ticket,
            target,
        } => {
            // Mostly an approved engineer other than the current assignee.
            let current = m
                .tickets
                .get(ticket % m.tickets.len().max(1))
                .and_then(|t| t.assignee.clone());
            let engineers: Vec<&MUser> = m
                .users
                .iter()
                .filter(|u| u.assignable() && Some(&u.id) != current.as_ref())
                .collect();
            let to = match target {
                Target::Engineer(i) if !engineers.is_empty() => {
                    engineers[i % engineers.len()].id.clone()
                }
                Target::Engineer(i) | Target::Any(i) => m.users[i % nu].id.clone(),
            };
            let patch = TicketPatch {
                assignee: Some(uid(&to)),
                ..Default::default()
            };
            update(w, m, caller, ticket, patch).await?;
        }
        Op::Edit {
            caller,
            ticket,
            title: t,
            priority: p,
        } => {
            let patch = TicketPatch {
                title: t.map(|i| title(TITLES[i as usize])),
                priority: p.map(|p| priority(p.into())),
                ..Default::default()
            };
            update(w, m, caller, ticket, patch).await?;
        }
        Op::StatusAndAssignee {
            caller,
            ticket,
            target,
        } => {
            let patch = TicketPatch {
                status: Some(TicketStatus::Closed),
                assignee: Some(uid(&m.users[target % nu].id)),
                ..Default::default()
            };
            update(w, m, caller, ticket, patch).await?;
        }
        Op::Get { caller, ticket } => {
            if m.tickets.is_empty() {
                return Ok(());
            }
            let mut c = m.caller(caller);
            let mut t = m.tickets[ticket % m.tickets.len()].clone();
            // One time in three a follower reads a ticket they follow, when one is followed
            // (merges make followers too).
            let followed: Vec<&MTicket> = m
                .tickets
                .iter()
                .filter(|t| !t.followers.is_empty())
                .collect();
            if ticket.is_multiple_of(3) && !followed.is_empty() {
                t = followed[(ticket / 3) % followed.len()].clone();
                let f = &t.followers[(ticket / 7) % t.followers.len()];
                c = m.users.iter().position(|u| &u.id == f).expect("a follower");
            }
            let r = w.get(&m.users[c].token, &t.id).await;
            let want = if !m.users[c].active() || !m.concerned(&m.users[c], &t) {
                403
            } else {
                200
            };
            prop_assert_eq!(status(&r), want, "{:?}", r);
            let only_following = t.followers.contains(&m.users[c].id)
                && m.users[c].t != UserType::Admin
                && t.reporter != m.users[c].id
                && t.assignee.as_ref() != Some(&m.users[c].id);
            if want == 200 && only_following {
                note("get", "200 as a follower");
            } else {
                note("get", want);
            }
            if let Ok(got) = r {
                snapshot_matches(&got, &t)?;
            }
        }
        Op::GetUnknown { caller } => {
            let c = m.caller(caller);
            let r = w.get(&m.users[c].token, TicketId::new().as_str()).await;
            let want = if m.users[c].active() { 404 } else { 403 };
            prop_assert_eq!(status(&r), want, "{:?}", r);
            note("get-unknown", want);
        }
        Op::Comment {
            caller,
            by_reporter,
            ticket,
            internal,
        } => comment(w, m, caller, by_reporter, ticket, internal).await?,
        Op::ListComments { caller, ticket } => list_comments(w, m, caller, ticket).await?,
        Op::Follow {
            caller,
            ticket,
            target,
        } => follow(w, m, caller, ticket, target).await?,
        Op::Unfollow {
            caller,
            ticket,
            target,
            own,
        } => unfollow(w, m, caller, ticket, target, own).await?,
        Op::RunJobs => run_jobs(w, m).await?,
        Op::Merge {
            caller,
            source,
            target,
        } => merge(w, m, caller, source, target).await?,
        Op::Rate {
            caller,
            ticket,
            good,
        } => rate(w, m, caller, ticket, good).await?,
        Op::List { caller } => {
            let c = m.caller(caller);
            let r = w
                .list(&m.users[c].token, TicketFilter::default(), None, 100)
                .await;
            if !m.users[c].active() {
                prop_assert_eq!(status(&r), 403, "{:?}", r);
                note("list", 403);
                return Ok(());
            }
            let got = r.map_err(|e| TestCaseError::fail(format!("list: {e:?}")))?;
            note("list", 200);
            let want: Vec<&MTicket> = m
                .tickets
                .iter()
                .filter(|t| m.concerned(&m.users[c], t))
                .collect();
            prop_assert_eq!(got.items.len(), want.len(), "listing of {}", m.users[c].id);
            for (g, t) in got.items.iter().zip(want) {
                snapshot_matches(g, t)?;
            }
        }
    }
    Ok(())
}

/// A comment through the service, checked against the model: who may write it (concerned
/// and active; an internal note staff only), and the reporter's public reply that reopens a
/// CLOSED ticket (its count then follows, checked by `check` after the step).
async fn comment(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    by_reporter: bool,
    ticket: usize,
    internal: bool,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    // A reporter mostly replies to a closed ticket (the reopening path), when there is one.
    let closed = reopening(m, ticket, |t| t.status == TicketStatus::Closed);
    let i = match closed {
        Some(i) if by_reporter => i,
        _ => ticket % m.tickets.len(),
    };
    let before = m.tickets[i].clone();
    let c = if by_reporter {
        m.users
            .iter()
            .position(|u| u.id == before.reporter)
            .expect("the reporter")
    } else {
        m.caller(caller)
    };
    m.seq += 1;
    let body = format!("comment {}", m.seq);
    let new = service::NewComment {
        body: crm_shared::model::CommentBody::parse(&body).expect("body"),
        internal,
        attachments: Vec::new(),
    };
    let r = service::add_comment(&w.ctx, &m.users[c].token, &tid(&before.id), new).await;
    let u = &m.users[c];
    let staff_only = internal && u.t == UserType::Customer;
    // SPEC §12: a comment to a merged ticket goes to the ticket it was merged into, for a
    // caller concerned with that one too; it never reopens the merged ticket.
    let sent_to = before.id.clone();
    let mut i = i;
    let mut hops_allowed = true;
    while let Some(into) = m.tickets[i].merged_into.clone() {
        if m.concerned(u, &m.tickets[i]) {
            i = m.tickets.iter().position(|t| t.id == into).expect("target");
            hops_allowed &= m.concerned(u, &m.tickets[i]);
        } else {
            break;
        }
    }
    let redirected = m.tickets[i].id != sent_to;
    let before = if u.active() && m.concerned(u, &before) && hops_allowed {
        m.tickets[i].clone()
    } else {
        before
    };
    let want = if !u.active() || !m.concerned(u, &before) || !hops_allowed || staff_only {
        403
    } else {
        200
    };
    prop_assert_eq!(
        status(&r),
        want,
        "comment by {} on {}: {:?}",
        u.id,
        before.id,
        r
    );
    if r.is_err() {
        let refused_for_being_a_customer = u.active() && m.concerned(u, &before) && staff_only;
        note(
            if refused_for_being_a_customer {
                "comment-internal"
            } else {
                "comment"
            },
            want,
        );
        return Ok(());
    }
    let reopens = !internal && u.id == before.reporter && before.status == TicketStatus::Closed;
    if reopens {
        let mut after = before.clone();
        after.status = TicketStatus::Open;
        after.version += 1;
        let auto = reopen(m, &before, &mut after);
        m.tickets[i] = after.clone();
        counted_by_hand(m, &before, &after, auto);
        note(
            "comment",
            if auto {
                "200 reopens auto-assigned"
            } else {
                "200 reopens"
            },
        );
    } else if redirected {
        note("comment", "200 to the merge target");
    } else {
        note("comment", "200");
    }
    if let Ok(got) = &r {
        prop_assert_eq!(&got.ticket_id, &before.id, "the comment's ticket");
    }
    m.comments.push((before.id.clone(), body, internal));
    m.touched = Some(before.id.clone());
    Ok(())
}

/// POST /tickets/{id}/merge through the service, checked against the model (SPEC §12): an
/// approved ADMIN or an ENGINEER assigned to both, who sees both; not into itself, not from
/// or into a merged ticket; at most 20 followers after; then the source CLOSED and marked,
/// both system comments, the source's reporter and approved followers carried over, the
/// counts (checked by `check` after the step) and a backlog job when room was freed.
async fn merge(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    source: usize,
    target: usize,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    // One time in five into itself; else another ticket.
    let n = m.tickets.len();
    let si = source % n;
    let ti = if target.is_multiple_of(5) || n == 1 {
        si
    } else {
        (si + 1 + target % (n - 1)) % n
    };
    let (s, t) = (m.tickets[si].clone(), m.tickets[ti].clone());
    let c = m.caller(caller);
    let r = w.merge(&m.users[c].token, &s.id, &t.id).await;
    let u = &m.users[c];
    let assigned_both = u.t == UserType::Engineer
        && s.assignee.as_ref() == Some(&u.id)
        && t.assignee.as_ref() == Some(&u.id);
    let mut carried = t.followers.clone();
    for f in std::iter::once(&s.reporter).chain(&s.followers) {
        let concerned = f == &t.reporter || t.assignee.as_ref() == Some(f) || carried.contains(f);
        if !concerned && m.user(f).active() {
            carried.push(f.clone());
        }
    }
    let (want, why) = if !u.active()
        || !m.concerned(u, &s)
        || !m.concerned(u, &t)
        || !(u.admin() || assigned_both)
    {
        (403, "403")
    } else if si == ti {
        (409, "409 into itself")
    } else if s.merged_into.is_some() || t.merged_into.is_some() {
        (409, "409 merged")
    } else if carried.len() > 20 {
        (409, "409 followers")
    } else if assigned_both {
        (200, "200 by the engineer")
    } else {
        (200, "200")
    };
    prop_assert_eq!(
        status(&r),
        want,
        "merge {} into {} by {}: {:?}",
        s.id,
        t.id,
        u.id,
        r
    );
    note("merge", why);
    let Ok(got) = r else {
        return Ok(());
    };
    let mut s_after = s.clone();
    s_after.status = TicketStatus::Closed;
    s_after.merged_into = Some(t.id.clone());
    s_after.version += 1;
    let mut t_after = t.clone();
    if carried != t.followers {
        t_after.followers = carried;
        t_after.version += 1;
    }
    snapshot_matches(&got.source, &s_after)?;
    snapshot_matches(&got.target, &t_after)?;
    if s.status == TicketStatus::Open && s.assignee.is_some() && m.cap.is_some() {
        m.jobs.push(MJob::Backlog);
    }
    m.comments
        .push((s.id.clone(), format!("Merged into {}", t.id), false));
    m.comments.push((
        t.id.clone(),
        format!("Merged from {}: {}\n\n{}", s.id, s.title, s.description),
        false,
    ));
    m.tickets[si] = s_after;
    m.tickets[ti] = t_after;
    m.touched = Some(s.id.clone());
    Ok(())
}

/// PUT /tickets/{id}/satisfaction through the service, checked against the model (SPEC
/// §12): its reporter only (403 for anyone else who sees it), a CLOSED ticket only (409);
/// a ticket change (version, history) that moves no count.
async fn rate(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    ticket: usize,
    good: bool,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let i = reopening(m, ticket, |t| t.status == TicketStatus::Closed)
        .filter(|_| !ticket.is_multiple_of(4))
        .unwrap_or(ticket % m.tickets.len());
    let before = m.tickets[i].clone();
    let c = ticket_caller(m, caller, &before);
    let r = if good {
        crm_shared::model::Rating::Good
    } else {
        crm_shared::model::Rating::Bad
    };
    let counted = counts(w, m).await;
    let got = w.rate(&m.users[c].token, &before.id, r).await;
    let u = &m.users[c];
    let want = if !u.active() || !m.concerned(u, &before) || u.id != before.reporter {
        403
    } else if before.status != TicketStatus::Closed {
        409
    } else {
        200
    };
    prop_assert_eq!(
        status(&got),
        want,
        "rate {} by {}: {:?}",
        before.id,
        u.id,
        got
    );
    let outcome = match want {
        200 if before.rating.is_some() => "200 replaced",
        200 if before.merged_into.is_some() => "200 merged",
        200 => "200",
        409 => "409",
        _ => "403",
    };
    note("rate", outcome);
    if let Ok(got) = got {
        let mut after = before.clone();
        after.rating = Some(r.as_str().to_owned());
        after.version += 1;
        snapshot_matches(&got, &after)?;
        m.tickets[i] = after;
        m.touched = Some(before.id.clone());
    }
    prop_assert_eq!(counts(w, m).await, counted, "a rating moved a count");
    Ok(())
}

/// The stored counts of every user, to hold a step that must move none against.
async fn counts(w: &Desk, m: &Model) -> Vec<i64> {
    let mut out = Vec::new();
    for u in &m.users {
        out.push(w.user(&u.id).await.tickets_working_on_count);
    }
    out
}

/// The caller of a follower change: the ticket's reporter, or as `m.caller`.
fn ticket_caller(m: &Model, caller: Who, t: &MTicket) -> usize {
    match caller {
        Who::Reporter => m
            .users
            .iter()
            .position(|u| u.id == t.reporter)
            .expect("the reporter"),
        _ => m.caller(caller),
    }
}

/// POST /tickets/{id}/followers through the service, checked against the model (SPEC
/// §11): rights before the user added; an approved user not yet concerned; at most 20; a
/// ticket change (version, history) that moves no count and no assignment.
async fn follow(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    ticket: usize,
    target: usize,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let i = ticket % m.tickets.len();
    let before = m.tickets[i].clone();
    let c = ticket_caller(m, caller, &before);
    let target = m.users[target % m.users.len()].id.clone();
    let counted = counts(w, m).await;
    let r = w.add_follower(&m.users[c].token, &before.id, &target).await;
    let u = &m.users[c];
    let t = m.user(&target);
    // (status, whether the follower is added)
    let (want, adds) = if !u.active() || !m.may_change(u, &before) {
        (403, false)
    } else if !t.active() || target == before.reporter || before.assignee.as_ref() == Some(&target)
    {
        (400, false)
    } else if before.followers.contains(&target) {
        (200, false)
    } else if before.followers.len() >= 20 {
        (409, false)
    } else {
        (200, true)
    };
    prop_assert_eq!(
        status(&r),
        want,
        "follow {} by {} on {}: {:?}",
        target,
        u.id,
        before.id,
        r
    );
    if adds {
        let mut after = before.clone();
        after.followers.push(target);
        after.version += 1;
        snapshot_matches(
            &r.map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
            &after,
        )?;
        m.tickets[i] = after;
        m.touched = Some(before.id.clone());
        note("follow", 200);
    } else if want == 200 {
        note("follow", "200 no change");
    } else {
        note("follow", want);
    }
    prop_assert_eq!(counts(w, m).await, counted, "following moved a count");
    Ok(())
}

/// DELETE /tickets/{id}/followers/{userId} through the service, checked against the model
/// (SPEC §11): anyone concerned removes themself; another follower the reporter or
/// concerned staff; rights before whether they follow (404); no count moves.
async fn unfollow(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    ticket: usize,
    target: usize,
    own: bool,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    // Mostly a ticket with followers, and one of them.
    let followed: Vec<usize> = (0..m.tickets.len())
        .filter(|&i| !m.tickets[i].followers.is_empty())
        .collect();
    let i = if followed.is_empty() {
        ticket % m.tickets.len()
    } else {
        followed[ticket % followed.len()]
    };
    let before = m.tickets[i].clone();
    let (c, target) = if own && !before.followers.is_empty() {
        let f = &before.followers[target % before.followers.len()];
        let c = m.users.iter().position(|u| &u.id == f).expect("a follower");
        (c, f.clone())
    } else {
        let c = ticket_caller(m, caller, &before);
        let target = match before.followers.len() {
            0 => m.users[target % m.users.len()].id.clone(),
            n if !target.is_multiple_of(4) => before.followers[target % n].clone(),
            _ => m.users[target % m.users.len()].id.clone(),
        };
        (c, target)
    };
    let counted = counts(w, m).await;
    let r = w
        .remove_follower(&m.users[c].token, &before.id, &target)
        .await;
    let u = &m.users[c];
    let want =
        if !u.active() || !m.concerned(u, &before) || (target != u.id && !m.may_change(u, &before))
        {
            403
        } else if !before.followers.contains(&target) {
            404
        } else {
            200
        };
    prop_assert_eq!(
        status(&r),
        want,
        "unfollow {} by {} on {}: {:?}",
        target,
        u.id,
        before.id,
        r
    );
    if want == 200 {
        let mut after = before.clone();
        after.followers.retain(|f| f != &target);
        after.version += 1;
        snapshot_matches(
            &r.map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
            &after,
        )?;
        let themself = target == u.id;
        let token = u.token.clone();
        m.tickets[i] = after.clone();
        m.touched = Some(before.id.clone());
        note("unfollow", if themself { "200 themself" } else { "200" });
        // Access ends at once for one who only saw it as a follower.
        let gone = m.user(&target);
        if themself && gone.active() && !m.concerned(gone, &after) {
            prop_assert_eq!(status(&w.get(&token, &before.id).await), 403);
        }
    } else {
        note("unfollow", want);
    }
    prop_assert_eq!(counts(w, m).await, counted, "unfollowing moved a count");
    Ok(())
}

/// A ticket's comments as a caller sees them: every one for staff, the public ones for a
/// customer, in the order written.
async fn list_comments(
    w: &Desk,
    m: &Model,
    caller: Who,
    ticket: usize,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let t = &m.tickets[ticket % m.tickets.len()];
    let u = &m.users[m.caller(caller)];
    let r = service::list_comments(&w.ctx, &u.token, &tid(&t.id), None, 100).await;
    if !u.active() || !m.concerned(u, t) {
        prop_assert_eq!(status(&r), 403, "{:?}", r);
        note("list-comments", 403);
        return Ok(());
    }
    let got = r.map_err(|e| TestCaseError::fail(format!("comments: {e:?}")))?;
    let got: Vec<String> = got.items.into_iter().map(|c| c.body).collect();
    let want: Vec<String> = m
        .comments
        .iter()
        .filter(|(id, _, internal)| id == &t.id && (!internal || u.t != UserType::Customer))
        .map(|(_, b, _)| b.clone())
        .collect();
    prop_assert_eq!(got, want, "comments of {} as {}", t.id, u.id);
    note("list-comments", 200);
    Ok(())
}

/// The jobs the table holds, oldest first (the order the sweep resumes them in).
async fn stored_jobs(w: &Desk) -> Vec<crm_shared::store::JobEntry> {
    w.store()
        .stale_jobs(Timestamp::now().plus_seconds(3600), 1000)
        .await
        .expect("reading the jobs")
}

/// A job's effect on the model: the tickets it changes, as (index, from, to), in the order
/// it changes them.
fn model_job(m: &mut Model, job: &MJob) -> Vec<(usize, Option<String>, Option<String>)> {
    let mut changed = Vec::new();
    // The tickets are held oldest first (ids grow with creation): the order the job walks.
    let (from, nobody_stops) = match job {
        // The unassigned OPEN tickets, each to the rule's pick, until nobody has room.
        MJob::Backlog => (None, true),
        // The leaver's OPEN tickets, each to the rule's pick or to nobody; nothing when
        // they are an approved engineer again.
        MJob::Departure(e) if m.user(e).assignable() => return changed,
        MJob::Departure(e) => (Some(e.clone()), false),
    };
    for i in 0..m.tickets.len() {
        let t = &m.tickets[i];
        if t.status != TicketStatus::Open || t.assignee != from {
            continue;
        }
        let pick = m.pick();
        if pick.is_none() && nobody_stops {
            break;
        }
        let t = &mut m.tickets[i];
        t.assignee = pick.clone();
        t.version += 1;
        changed.push((i, from.clone(), pick));
    }
    changed
}

/// Runs every job the table holds, in its order, each checked against the model: the
/// report, and each ticket it changed (the store's copy, and its last history entry: the
/// assignee change, by `system`). A job run a second time finds it already done.
async fn run_jobs(w: &Desk, m: &mut Model) -> Result<(), TestCaseError> {
    let entries = stored_jobs(w).await;
    let publisher = crm_shared::queue::Publisher::Outbox;
    let work = Workload {
        store: w.store(),
        capacity: m.cap,
        publisher: &publisher,
    };
    let admin = m.users[m.caller(Who::Admin)].token.clone();
    for e in &entries {
        let job = MJob::of(&e.job.kind);
        let changed = model_job(m, &job);
        let got = run_job(&work, &e.job)
            .await
            .map_err(|x| TestCaseError::fail(format!("{job:?}: {x:?}")))?;
        let unassigned = changed.iter().filter(|(_, _, to)| to.is_none()).count();
        let want = JobReport {
            assigned: changed.len() - unassigned,
            unassigned,
            skipped: 0,
            already_done: false,
        };
        prop_assert_eq!(got, want, "report of {:?}", job);
        for (i, from, to) in &changed {
            let t = &m.tickets[*i];
            snapshot_matches(&w.ticket(&t.id).await.snapshot(), t)?;
            let h = w.history(&admin, &t.id).await;
            let last = h.last().expect("a history");
            prop_assert_eq!(&last.actor, "system");
            prop_assert_eq!(last.version, t.version);
            prop_assert_eq!(last.changes.len(), 1);
            prop_assert_eq!(&last.changes[0].field, "assignee");
            prop_assert_eq!(&last.changes[0].from, &serde_json::json!(from));
            prop_assert_eq!(&last.changes[0].to, &serde_json::json!(to));
        }
        let kind = match job {
            MJob::Backlog => "backlog",
            MJob::Departure(_) => "departure",
        };
        note(
            &format!("run-jobs {kind}"),
            match (want.assigned, unassigned) {
                (0, 0) => "nothing to do",
                (_, 0) => "assigned",
                (0, _) => "left unassigned",
                _ => "assigned and left unassigned",
            },
        );
    }
    m.jobs.clear();
    if let Some(e) = entries.first() {
        let again = run_job(&work, &e.job)
            .await
            .map_err(|x| TestCaseError::fail(format!("again: {x:?}")))?;
        prop_assert!(again.already_done, "a job run twice: {:?}", again);
    }
    Ok(())
}

/// A ticket to reopen among those `eligible`: every other time one whose assignee cannot
/// work on it (gone or none: the auto-assignment on reopening), when there is one.
fn reopening(m: &Model, n: usize, eligible: impl Fn(&MTicket) -> bool) -> Option<usize> {
    let all: Vec<usize> = (0..m.tickets.len())
        .filter(|&i| eligible(&m.tickets[i]))
        .collect();
    let orphaned: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| {
            !m.tickets[i]
                .assignee
                .as_deref()
                .is_some_and(|a| m.user(a).assignable())
        })
        .collect();
    let pool = if n.is_multiple_of(2) && !orphaned.is_empty() {
        orphaned
    } else {
        all
    };
    (!pool.is_empty()).then(|| pool[(n / 2) % pool.len()])
}

/// Runs a ticket update and checks it against the model (applying it when it succeeds).
async fn update(
    w: &Desk,
    m: &mut Model,
    caller: Who,
    ticket: usize,
    patch: TicketPatch,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let i = ticket % m.tickets.len();
    let before = m.tickets[i].clone();
    let c = match caller {
        Who::Reporter => m
            .users
            .iter()
            .position(|u| u.id == before.reporter)
            .expect("the reporter"),
        _ => m.caller(caller),
    };
    m.touched = Some(before.id.clone());
    let r = w.update(&m.users[c].token, &before.id, patch.clone()).await;
    let caller_user = &m.users[c];
    let want = if patch.status.is_some() && patch.assignee.is_some() {
        400
    } else if !caller_user.active() || !m.may_change(caller_user, &before) {
        // Not active, not concerned (or a customer who only follows).
        403
    } else if before.merged_into.is_some() {
        // SPEC §12: a merged ticket is not changed again.
        409
    } else if patch.assignee.is_some() && !caller_user.admin() {
        // Not an admin reassigning.
        403
    } else if patch
        .assignee
        .as_ref()
        .is_some_and(|a| !m.user(a.as_str()).assignable())
    {
        400
    } else {
        200
    };
    prop_assert_eq!(
        status(&r),
        want,
        "{:?} by {}: {:?}",
        patch,
        caller_user.id,
        r
    );
    if let Err(e) = &r
        && e.status() == 403
        && patch.assignee.is_some()
        && caller_user.active()
        && m.may_change(caller_user, &before)
    {
        prop_assert_eq!(
            &e.message,
            "Access Forbidden. Admin is only allowed to reassign a ticket."
        );
    }
    let kind = match (&patch.status, &patch.assignee) {
        (Some(_), Some(_)) => "status+assignee",
        (Some(_), None) => "status",
        (None, Some(_)) => "reassign",
        (None, None) => "edit",
    };
    let Ok(got) = r else {
        note(kind, want);
        return Ok(());
    };
    let mut after = before.clone();
    if let Some(t) = &patch.title {
        after.title = t.as_str().into();
    }
    if let Some(p) = patch.priority {
        after.priority = p.get();
    }
    if let Some(s) = patch.status {
        after.status = s;
    }
    if let Some(a) = &patch.assignee {
        after.assignee = Some(a.as_str().into());
    }
    let auto = reopen(m, &before, &mut after);
    if after != before {
        after.version += 1;
    }
    snapshot_matches(&got, &after)?;
    let moved = before.status == TicketStatus::Open || after.status == TicketStatus::Open;
    // Room freed under the capacity (an OPEN ticket's assignee lost it): the backlog may move.
    let freed = before.status == TicketStatus::Open
        && before.assignee.is_some()
        && (after.status != TicketStatus::Open || after.assignee != before.assignee);
    if freed && m.cap.is_some() {
        m.jobs.push(MJob::Backlog);
    }
    note(
        kind,
        match (after == before, moved && after.assignee.is_some()) {
            _ if auto => "200 reopen auto-assigned",
            (true, _) => "200 no change",
            (false, true) if freed && m.cap.is_some() => "200 counts, room freed",
            (false, true) => "200 counts",
            (false, false) => "200",
        },
    );
    m.tickets[i] = after.clone();
    counted_by_hand(m, &before, &after, auto);
    if let (Some(cap), Some(a)) = (m.cap, &after.assignee)
        && after.status == TicketStatus::Open
        && after.assignee != before.assignee
        && m.open_count(a) > cap
    {
        note(kind, "200 above the capacity");
    }
    Ok(())
}

/// SPEC §3 "Leaving": a ticket becoming OPEN while its assignee is not an approved engineer
/// (or while it has none) is assigned in the same write like a new ticket (possibly to
/// nobody). Applies it to `after`; whether it did.
fn reopen(m: &Model, before: &MTicket, after: &mut MTicket) -> bool {
    if before.status == TicketStatus::Open || after.status != TicketStatus::Open {
        return false;
    }
    if before
        .assignee
        .as_deref()
        .is_some_and(|a| m.user(a).assignable())
    {
        return false;
    }
    let pick = m.pick();
    if pick == before.assignee {
        return false;
    }
    after.assignee = pick;
    true
}

/// A change that adds an OPEN ticket to its assignee other than by the assignment rule (an
/// admin's reassignment, a reopening that keeps its assignee) may go above the capacity:
/// the assignee's ceiling follows. Called once the model holds `after`; `auto`: the
/// assignee came from the rule.
fn counted_by_hand(m: &mut Model, before: &MTicket, after: &MTicket, auto: bool) {
    let counted = |t: &MTicket| {
        (t.status == TicketStatus::Open)
            .then_some(t.assignee.clone())
            .flatten()
    };
    if let Some(a) = counted(after)
        && counted(before) != Some(a.clone())
        && !auto
    {
        m.raised(&a);
    }
}

/// Everything the store holds agrees with the model, and the counter invariant holds.
async fn check(w: &Desk, m: &Model, touched: Option<&str>) -> Result<(), TestCaseError> {
    let mut open: std::collections::BTreeMap<String, i64> = Default::default();
    for t in &m.tickets {
        let stored = w.ticket(&t.id).await;
        snapshot_matches(&stored.snapshot(), t)?;
        prop_assert_eq!(stored.version, t.version, "version of {}", t.id);
        if stored.status == TicketStatus::Open
            && let Some(a) = &stored.assignee
        {
            *open.entry(a.as_str().to_owned()).or_default() += 1;
        }
    }
    for u in &m.users {
        let stored = w.user(&u.id).await;
        prop_assert_eq!(
            (stored.user_type, stored.user_status),
            (u.t, u.s),
            "{}",
            u.id
        );
        prop_assert_eq!(
            stored.tickets_working_on_count,
            open.get(&u.id).copied().unwrap_or(0),
            "ticketsWorkingOnCount of {}",
            u.id
        );
    }
    let index = w.engineers_by_load().await;
    let index: Vec<(String, i64)> = index.into_iter().map(|(u, k)| (u, k / LOAD_STEP)).collect();
    prop_assert_eq!(index, m.by_load(), "engineers by load");
    // The jobs recorded are the ones SPEC calls for, no more, no fewer.
    let mut jobs: Vec<MJob> = stored_jobs(w)
        .await
        .iter()
        .map(|e| MJob::of(&e.job.kind))
        .collect();
    jobs.sort();
    let mut want = m.jobs.clone();
    want.sort();
    prop_assert_eq!(jobs, want, "pending jobs");
    // Above the capacity only by hand.
    if let Some(cap) = m.cap {
        for (u, n) in &open {
            let ceiling = m.ceiling.get(u).copied().unwrap_or(0).max(cap);
            prop_assert!(
                *n <= ceiling,
                "{} has {} OPEN tickets, capacity {}",
                u,
                n,
                cap
            );
        }
    }
    // With every job run: OPEN tickets only with approved engineers, and none waits while an
    // engineer has room.
    if m.jobs.is_empty() {
        for (u, n) in &open {
            prop_assert!(m.user(u).assignable(), "{} keeps {} OPEN tickets", u, n);
        }
        let waiting = m
            .tickets
            .iter()
            .filter(|t| t.status == TicketStatus::Open && t.assignee.is_none())
            .count();
        prop_assert!(
            waiting == 0 || m.pick().is_none(),
            "{} tickets wait while {:?} has room",
            waiting,
            m.pick()
        );
    }
    if let Some(id) = touched {
        let admin = &m.users[m.caller(Who::Admin)].token;
        let h = w.history(admin, id).await;
        let t = m.tickets.iter().find(|t| t.id == id).expect("touched");
        prop_assert_eq!(h.len() as i64, t.version, "history of {}", id);
    }
    Ok(())
}

/// One case, on a store of its own that goes with it.
async fn run(approved: usize, cap: Option<i64>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = crm_tests::server::temp_dir("crm-invariant");
    let r = run_in(&dir, approved, cap, ops).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn run_in(
    dir: &std::path::Path,
    approved: usize,
    cap: Option<i64>,
    mut ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let (w, mut m) = setup(dir, approved, cap).await;
    check(&w, &m, None).await?;
    // Every case ends with its jobs run.
    ops.push(Op::RunJobs);
    for (n, op) in ops.iter().enumerate() {
        step(&w, &mut m, op)
            .await
            .map_err(|e| TestCaseError::fail(format!("step {n} {op:?}: {e}")))?;
        let touched = m.touched.take();
        check(&w, &m, touched.as_deref())
            .await
            .map_err(|e| TestCaseError::fail(format!("after step {n} {op:?}: {e}")))?;
    }
    Ok(())
}

#[test]
fn the_service_keeps_to_the_model_and_the_counter_invariant() {
    // A big stack, as crm_tests::backends::run_case gives every other case: a debug build's
    // futures of a whole ticket change (tags, SLA clocks, the feed) outgrow the harness
    // thread's 2 MiB.
    let case = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(keeps_to_the_model)
        .expect("a test thread");
    if let Err(panic) = case.join() {
        std::panic::resume_unwind(panic);
    }
}

fn keeps_to_the_model() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        cases: 96,
        // `CRM_INVARIANT_SEED` runs another sequence (to explore; the fixed one is CI's,
        // chosen when merges and ratings joined the steps as one that reaches every outcome
        // listed below; 0x00c0_ffee_5eed_2024, the one before, no longer reached the
        // reopening ones).
        rng_seed: RngSeed::Fixed(
            std::env::var("CRM_INVARIANT_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(3),
        ),
        failure_persistence: None,
        max_shrink_iters: 300,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let capacity = prop_oneof![1 => Just(None), 2 => (1i64..=3).prop_map(Some)];
    let cases = (
        0usize..=3,
        capacity,
        proptest::collection::vec(op(), 20..=60),
    );
    let result = runner.run(&cases, |(approved, cap, ops)| {
        rt.block_on(run(approved, cap, ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = TALLY.with(|t| t.borrow().clone());
    eprintln!("outcomes over all cases: {tally:#?}");
    // The fixed seed must keep reaching the interesting paths.
    for outcome in [
        "create 201 assigned",
        "create 201 unassigned",
        "create 403",
        "status 200 counts",
        "status 200 no change",
        "reassign 200 counts",
        "reassign 403",
        "reassign 400",
        "status+assignee 400",
        "set-APPROVED 200",
        "set-REJECTED 200",
        "set-PENDING 200",
        "list 200",
        "get 403",
        "comment 200 reopens",
        "comment 200 reopens auto-assigned",
        "status 200 reopen auto-assigned",
        "status 200 counts, room freed",
        "reassign 200 counts, room freed",
        "reassign 200 above the capacity",
        "run-jobs backlog assigned",
        "run-jobs backlog nothing to do",
        "run-jobs departure assigned",
        "run-jobs departure left unassigned",
        "run-jobs departure nothing to do",
        "comment 200",
        "comment 403",
        "comment-internal 403",
        "list-comments 200",
        "list-comments 403",
        "follow 200",
        "follow 200 no change",
        "follow 400",
        "follow 403",
        "unfollow 200",
        "unfollow 200 themself",
        "unfollow 403",
        "unfollow 404",
        "get 200 as a follower",
        // SPEC §12.
        "merge 200",
        "merge 200 by the engineer",
        "merge 403",
        "merge 409 into itself",
        "merge 409 merged",
        "comment 200 to the merge target",
        "rate 200",
        "rate 200 replaced",
        "rate 200 merged",
        "rate 403",
        "rate 409",
    ] {
        assert!(
            tally.contains_key(outcome),
            "no step ended as {outcome:?}: {tally:#?}"
        );
    }
}
