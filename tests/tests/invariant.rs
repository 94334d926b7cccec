//! A model-based property test of SPEC §2–§3 on the embedded backend: random sequences of
//! sign-ups, approvals, rejections, set-pending, type changes, ticket creations, status
//! changes, reassignments, edits, comments and internal notes (a reporter's public reply
//! reopening a CLOSED ticket), reads and listings, by random callers of random roles,
//! run through the service layer and checked step by step against a plain in-memory model
//! (which requests succeed, which fail with which status, who gets assigned — fewest OPEN
//! tickets, ties to the earliest approved — and every ticket's fields). After every step:
//! each user's stored ticketsWorkingOnCount equals a recount of the OPEN tickets assigned to
//! them, and the engineers-by-load index holds exactly the approved engineers in load order.

#[allow(dead_code)]
#[path = "tickets/world.rs"]
mod world;

use crm_shared::ApiError;
use crm_shared::model::{TicketId, TicketStatus, UserStatus, UserType};
use crm_shared::service::{self, Authed, NewTicket, TicketFilter, TicketPatch, UserUpdate};
use crm_shared::store::keys::LOAD_STEP;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use world::{World, description, priority, title, uid};

/// Who makes a request: some approved admin, or any user (by index, modulo the population).
#[derive(Debug, Clone, Copy)]
enum Who {
    Admin,
    Any(usize),
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
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![2 => Just(Who::Admin), 3 => any::<usize>().prop_map(Who::Any)]
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
        6 => (who(), n(), ticket_status())
            .prop_map(|(caller, ticket, status)| Op::SetTicketStatus { caller, ticket, status }),
        5 => (who(), n(), target())
            .prop_map(|(caller, ticket, target)| Op::Reassign { caller, ticket, target }),
        2 => (who(), n(), proptest::option::of(0u8..3), proptest::option::of(1u8..=4)).prop_map(
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
}

struct Model {
    users: Vec<MUser>,
    tickets: Vec<MTicket>,
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
    fn caller(&self, w: Who) -> usize {
        match w {
            Who::Admin => self
                .users
                .iter()
                .position(MUser::admin)
                .expect("an approved admin always remains"),
            Who::Any(i) => i % self.users.len(),
        }
    }
    fn concerned(&self, caller: &MUser, t: &MTicket) -> bool {
        match caller.t {
            UserType::Admin => caller.active(),
            UserType::Engineer => {
                t.reporter == caller.id || t.assignee.as_deref() == Some(&caller.id)
            }
            UserType::Customer => t.reporter == caller.id,
        }
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

/// The admin, two customers and three engineers, the first `approved` of whom are approved.
async fn setup(approved: usize) -> (World, Model) {
    let w = World::new(crm_tests::emulator::sqlite_store()).await;
    let mut m = Model {
        users: vec![MUser {
            id: "admin".into(),
            t: UserType::Admin,
            s: UserStatus::Approved,
            since: 0,
            token: w.admin.clone(),
        }],
        tickets: Vec::new(),
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
    }
    (w, m)
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
    if u.assignable() && !was_assignable {
        u.since = seq;
        m.seq += 1;
    }
    200
}

async fn step(w: &World, m: &mut Model, op: &Op) -> Result<(), TestCaseError> {
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
            let (c, t) = (m.caller(caller), target % nu);
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
            let (c, t) = (m.caller(caller), target % nu);
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
                assignee: m.by_load().first().map(|(u, _)| u.clone()),
                version: 1,
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
            let patch = TicketPatch {
                status: Some(s),
                ..Default::default()
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
            let c = m.caller(caller);
            let t = m.tickets[ticket % m.tickets.len()].clone();
            let r = w.get(&m.users[c].token, &t.id).await;
            let want = if !m.users[c].active() || !m.concerned(&m.users[c], &t) {
                403
            } else {
                200
            };
            prop_assert_eq!(status(&r), want, "{:?}", r);
            note("get", want);
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
    w: &World,
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
    let closed: Vec<usize> = (0..m.tickets.len())
        .filter(|&i| m.tickets[i].status == TicketStatus::Closed)
        .collect();
    let i = if by_reporter && !closed.is_empty() {
        closed[ticket % closed.len()]
    } else {
        ticket % m.tickets.len()
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
    };
    let r = service::add_comment(&w.ctx, &m.users[c].token, &before.id, new).await;
    let u = &m.users[c];
    let staff_only = internal && u.t == UserType::Customer;
    let want = if !u.active() || !m.concerned(u, &before) || staff_only {
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
        let t = &mut m.tickets[i];
        t.status = TicketStatus::Open;
        t.version += 1;
    }
    note("comment", if reopens { "200 reopens" } else { "200" });
    m.comments.push((before.id.clone(), body, internal));
    Ok(())
}

/// A ticket's comments as a caller sees them: every one for staff, the public ones for a
/// customer, in the order written.
async fn list_comments(
    w: &World,
    m: &Model,
    caller: Who,
    ticket: usize,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let t = &m.tickets[ticket % m.tickets.len()];
    let u = &m.users[m.caller(caller)];
    let r = service::list_comments(&w.ctx, &u.token, &t.id, None, 100).await;
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

/// Runs a ticket update and checks it against the model (applying it when it succeeds).
async fn update(
    w: &World,
    m: &mut Model,
    caller: Who,
    ticket: usize,
    patch: TicketPatch,
) -> Result<(), TestCaseError> {
    if m.tickets.is_empty() {
        return Ok(());
    }
    let c = m.caller(caller);
    let i = ticket % m.tickets.len();
    let before = m.tickets[i].clone();
    let r = w.update(&m.users[c].token, &before.id, patch.clone()).await;
    let caller_user = &m.users[c];
    let want = if patch.status.is_some() && patch.assignee.is_some() {
        400
    } else if !caller_user.active()
        || !m.concerned(caller_user, &before)
        || (patch.assignee.is_some() && !caller_user.admin())
    {
        // Not active, not concerned, or (concerned but) not an admin reassigning.
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
        && m.concerned(caller_user, &before)
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
    if after != before {
        after.version += 1;
    }
    snapshot_matches(&got, &after)?;
    let moved = before.status == TicketStatus::Open || after.status == TicketStatus::Open;
    note(
        kind,
        match (after == before, moved && after.assignee.is_some()) {
            (true, _) => "200 no change",
            (false, true) => "200 counts",
            (false, false) => "200",
        },
    );
    m.tickets[i] = after;
    Ok(())
}

/// Everything the store holds agrees with the model, and the counter invariant holds.
async fn check(w: &World, m: &Model, touched: Option<&str>) -> Result<(), TestCaseError> {
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
    if let Some(id) = touched {
        let admin = &m.users[m.caller(Who::Admin)].token;
        let h = w.history(admin, id).await;
        let t = m.tickets.iter().find(|t| t.id == id).expect("touched");
        prop_assert_eq!(h.len() as i64, t.version, "history of {}", id);
    }
    Ok(())
}

async fn run(approved: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (w, mut m) = setup(approved).await;
    check(&w, &m, None).await?;
    for (n, op) in ops.iter().enumerate() {
        step(&w, &mut m, op)
            .await
            .map_err(|e| TestCaseError::fail(format!("step {n} {op:?}: {e}")))?;
        let touched = match op {
            Op::SetTicketStatus { ticket, .. }
            | Op::Reassign { ticket, .. }
            | Op::Edit { ticket, .. }
                if !m.tickets.is_empty() =>
            {
                Some(m.tickets[ticket % m.tickets.len()].id.clone())
            }
            // The ticket the comment went to (its history, when it reopened).
            Op::Comment { .. } => m.comments.last().map(|(id, _, _)| id.clone()),
            _ => None,
        };
        check(&w, &m, touched.as_deref())
            .await
            .map_err(|e| TestCaseError::fail(format!("after step {n} {op:?}: {e}")))?;
    }
    Ok(())
}

#[test]
fn the_service_keeps_to_the_model_and_the_counter_invariant() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        cases: 24,
        rng_seed: RngSeed::Fixed(0x00c0_ffee_5eed_2024),
        failure_persistence: None,
        max_shrink_iters: 300,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let cases = (0usize..=3, proptest::collection::vec(op(), 10..=40));
    let result = runner.run(&cases, |(approved, ops)| rt.block_on(run(approved, ops)));
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
        "comment 200",
        "comment 403",
        "comment-internal 403",
        "list-comments 200",
        "list-comments 403",
    ] {
        assert!(
            tally.contains_key(outcome),
            "no step ended as {outcome:?}: {tally:#?}"
        );
    }
}
