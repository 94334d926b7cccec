//! Who may read or change what (SPEC §2, §3): pure functions over the caller, as read fresh
//! from the store on every request, and the target. No I/O here; table-driven tests below.

use crate::model::{TicketStatus, UserId, UserStatus, UserType};

/// The authenticated caller: the token's user as the store has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub user_type: UserType,
    pub status: UserStatus,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user_type == UserType::Admin && self.status == UserStatus::Approved
    }
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Only an approved ADMIN may do this.
    AdminOnly,
    /// Only an approved ADMIN or the user themself.
    AdminOrSelf,
    /// Only an approved ADMIN may change userStatus.
    StatusChangeAdminOnly,
    /// The ticket is not the caller's.
    NotConcerned,
    /// Only an approved ADMIN may change a ticket's assignee.
    ReassignAdminOnly,
    /// Only an ENGINEER or ADMIN may write an internal note.
    InternalNoteStaffOnly,
    /// A follower who is a customer may read and comment, not change the ticket.
    FollowerReadsOnly,
    /// Only an ENGINEER or ADMIN may set tags.
    TagsStaffOnly,
    /// Only the reporter or concerned staff may add or remove another follower.
    FollowersReporterOrStaff,
    /// Only an approved ENGINEER or ADMIN may do this.
    StaffOnly,
    /// SPEC §12: only the ticket's reporter rates it.
    ReporterRatesOnly,
    /// SPEC §12: only an approved ADMIN, or an ENGINEER assigned to both tickets, merges.
    MergeAdminOrAssignee,
}

pub fn list_users(caller: &Caller) -> Result<(), Denied> {
    caller.is_admin().then_some(()).ok_or(Denied::AdminOnly)
}

/// Read the change feed (SPEC §8): every event, internal notes included: approved admins.
pub fn read_events(caller: &Caller) -> Result<(), Denied> {
    caller.is_admin().then_some(()).ok_or(Denied::AdminOnly)
}

/// Read one user: admins, or the user themself. Checked before existence, so a non-admin
/// cannot probe which userIds exist.
pub fn view_user(caller: &Caller, target: &UserId) -> Result<(), Denied> {
    (caller.is_admin() || &caller.id == target)
        .then_some(())
        .ok_or(Denied::AdminOrSelf)
}

/// Set another user's password without knowing it (a reset): approved admins only; the
/// answer names "admin or self", since the user themself may change theirs (with the current
/// password). Checked before existence.
pub fn reset_password(caller: &Caller) -> Result<(), Denied> {
    caller.is_admin().then_some(()).ok_or(Denied::AdminOrSelf)
}

/// Update one user; `changes_status` when the body carries userStatus.
pub fn update_user(caller: &Caller, target: &UserId, changes_status: bool) -> Result<(), Denied> {
    view_user(caller, target)?;
    if changes_status && !caller.is_admin() {
        return Err(Denied::StatusChangeAdminOnly);
    }
    Ok(())
}

/// The (type, status) a user ends with after a PUT (SPEC §2): becoming ENGINEER or ADMIN
/// means PENDING, becoming CUSTOMER means APPROVED, unless an explicit status is also sent
/// (only admins may send one; `update_user` checks that). Sending the current type is not a
/// change.
pub fn next_type_and_status(
    current: (UserType, UserStatus),
    new_type: Option<UserType>,
    new_status: Option<UserStatus>,
) -> (UserType, UserStatus) {
    let (mut t, mut s) = current;
    if let Some(nt) = new_type
        && nt != t
    {
        t = nt;
        s = nt.initial_status();
    }
    if let Some(ns) = new_status {
        s = ns;
    }
    (t, s)
}

/// Whether this (type, status) counts as an approved admin (for the last-admin rule).
pub fn is_approved_admin(t: UserType, s: UserStatus) -> bool {
    t == UserType::Admin && s == UserStatus::Approved
}

/// Whether this (type, status) takes tickets by auto-assignment and may be made assignee.
pub fn is_assignable(t: UserType, s: UserStatus) -> bool {
    t == UserType::Engineer && s == UserStatus::Approved
}

/// Who a ticket concerns besides the admins: its reporter, its assignee, its followers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties<'a> {
    pub reporter: &'a UserId,
    pub assignee: Option<&'a UserId>,
    pub followers: &'a [UserId],
}

impl Parties<'_> {
    pub fn follows(&self, u: &UserId) -> bool {
        self.followers.contains(u)
    }
}

/// Whether the caller may see a ticket (SPEC §3, §11): admins every ticket, engineers what
/// they reported, are assigned or follow, customers what they reported or follow.
pub fn concerned(caller: &Caller, t: &Parties) -> Result<(), Denied> {
    let ok = match caller.user_type {
        UserType::Admin => caller.is_admin(),
        UserType::Engineer => {
            t.reporter == &caller.id || t.assignee == Some(&caller.id) || t.follows(&caller.id)
        }
        UserType::Customer => t.reporter == &caller.id || t.follows(&caller.id),
    };
    ok.then_some(()).ok_or(Denied::NotConcerned)
}

/// Whether the caller may change a ticket (PUT): anyone concerned but a customer who only
/// follows it (a follower reads and comments; the reporter and staff change the ticket).
pub fn update_ticket(caller: &Caller, t: &Parties) -> Result<(), Denied> {
    concerned(caller, t)?;
    (t.reporter == &caller.id || sees_internal_notes(caller.user_type))
        .then_some(())
        .ok_or(Denied::FollowerReadsOnly)
}

/// Whether the caller may set tags (on a ticket they may create or change): staff only.
pub fn set_tags(caller: &Caller) -> Result<(), Denied> {
    sees_internal_notes(caller.user_type)
        .then_some(())
        .ok_or(Denied::TagsStaffOnly)
}

/// The most followers a ticket has (SPEC §11).
pub const MAX_FOLLOWERS: usize = 20;

/// Whether the caller may add a follower to a ticket: its reporter, or staff concerned with
/// it (its assignee, an admin, a follower who is an ENGINEER or ADMIN).
pub fn add_follower(caller: &Caller, t: &Parties) -> Result<(), Denied> {
    concerned(caller, t)?;
    (t.reporter == &caller.id || sees_internal_notes(caller.user_type))
        .then_some(())
        .ok_or(Denied::FollowersReporterOrStaff)
}

/// Whether the caller may remove `target` from a ticket's followers: anyone concerned
/// removes themself; another follower, as `add_follower`. Checked before whether `target`
/// follows.
pub fn remove_follower(caller: &Caller, t: &Parties, target: &UserId) -> Result<(), Denied> {
    concerned(caller, t)?;
    if target == &caller.id {
        return Ok(());
    }
    add_follower(caller, t)
}

/// Why a user cannot become a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannotFollow {
    /// No such user, or not APPROVED: one answer for both, so that a caller cannot tell a
    /// userId that exists from one that does not.
    NotAnApprovedUser,
    /// The reporter and the assignee are concerned already.
    IsReporter,
    IsAssignee,
}

/// Whether `target`, with this status (None: no such user), may follow the ticket.
pub fn may_follow(
    target: &UserId,
    status: Option<UserStatus>,
    t: &Parties,
) -> Result<(), CannotFollow> {
    if status != Some(UserStatus::Approved) {
        return Err(CannotFollow::NotAnApprovedUser);
    }
    if target == t.reporter {
        return Err(CannotFollow::IsReporter);
    }
    if t.assignee == Some(target) {
        return Err(CannotFollow::IsAssignee);
    }
    Ok(())
}

/// How a user is concerned with a ticket event, for mail (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRole {
    Reporter,
    /// A follower (SPEC §11): mailed like the reporter.
    Follower,
    Assignee,
    /// The assignee before a reassignment.
    PreviousAssignee,
    /// Every approved ADMIN.
    Admin,
}

/// Whether a user concerned in this role, with this (type, status) at send time, is mailed
/// (SPEC §4): only APPROVED users who may see the ticket. The reporter sees what they
/// reported; an assignee (or the previous one) only while staff (ENGINEER or ADMIN); the
/// admins' role only while ADMIN. A user with several roles is mailed if one allows it.
pub fn may_be_mailed(role: MailRole, t: UserType, s: UserStatus) -> bool {
    if s != UserStatus::Approved {
        return false;
    }
    match role {
        MailRole::Reporter | MailRole::Follower => true,
        MailRole::Assignee | MailRole::PreviousAssignee => {
            matches!(t, UserType::Engineer | UserType::Admin)
        }
        MailRole::Admin => t == UserType::Admin,
    }
}

/// Whether users of this type see internal notes (listed, and mailed): staff only, never a
/// customer. Whether they see the ticket at all is `concerned`.
pub fn sees_internal_notes(t: UserType) -> bool {
    matches!(t, UserType::Engineer | UserType::Admin)
}

/// Whether a concerned caller may write this comment: anyone a public one, staff
/// (ENGINEER or ADMIN) an internal note.
pub fn comment(caller: &Caller, internal: bool) -> Result<(), Denied> {
    (!internal || sees_internal_notes(caller.user_type))
        .then_some(())
        .ok_or(Denied::InternalNoteStaffOnly)
}

/// Whether a comment reopens the ticket (SPEC §3): a public comment by its reporter on a
/// CLOSED ticket does; nothing else changes its status.
pub fn comment_reopens(
    author: &UserId,
    reporter: &UserId,
    internal: bool,
    status: TicketStatus,
) -> bool {
    !internal && author == reporter && status == TicketStatus::Closed
}

/// Whether a user concerned in this role is mailed about an event (SPEC §4): as
/// `may_be_mailed`, and for an internal note only while staff.
pub fn may_be_mailed_about(role: MailRole, t: UserType, s: UserStatus, internal: bool) -> bool {
    may_be_mailed(role, t, s) && (!internal || sees_internal_notes(t))
}

/// Whether the caller may change a ticket's assignee.
pub fn reassign(caller: &Caller) -> Result<(), Denied> {
    caller
        .is_admin()
        .then_some(())
        .ok_or(Denied::ReassignAdminOnly)
}

/// Set the service levels (`PUT /sla`): approved admins only.
pub fn set_sla(caller: &Caller) -> Result<(), Denied> {
    caller.is_admin().then_some(()).ok_or(Denied::AdminOnly)
}

/// Read the service levels (`GET /sla`): approved staff, never a customer.
pub fn read_sla(caller: &Caller) -> Result<(), Denied> {
    (caller.status == UserStatus::Approved && sees_internal_notes(caller.user_type))
        .then_some(())
        .ok_or(Denied::StaffOnly)
}

/// Rate a ticket (SPEC §12): its reporter only (once concerned; another caller: 403).
pub fn rate(caller: &Caller, t: &Parties) -> Result<(), Denied> {
    concerned(caller, t)?;
    (t.reporter == &caller.id)
        .then_some(())
        .ok_or(Denied::ReporterRatesOnly)
}

/// Read the satisfaction report (SPEC §12): approved admins only.
pub fn read_satisfaction(caller: &Caller) -> Result<(), Denied> {
    caller.is_admin().then_some(()).ok_or(Denied::AdminOnly)
}

/// Merge `source` into `target` (SPEC §12): an approved ADMIN, or an ENGINEER assigned to
/// both. Visibility first: a caller who cannot see either ticket is told so.
pub fn merge(caller: &Caller, source: &Parties, target: &Parties) -> Result<(), Denied> {
    concerned(caller, source)?;
    concerned(caller, target)?;
    let assigned_both = caller.user_type == UserType::Engineer
        && source.assignee == Some(&caller.id)
        && target.assignee == Some(&caller.id);
    (caller.is_admin() || assigned_both)
        .then_some(())
        .ok_or(Denied::MergeAdminOrAssignee)
}

/// Whether a comment is a ticket's first response (SPEC §10) when none came yet: a public
/// comment by an ENGINEER or ADMIN other than the reporter.
pub fn first_response(
    author: &UserId,
    author_type: UserType,
    reporter: &UserId,
    internal: bool,
) -> bool {
    !internal && sees_internal_notes(author_type) && author != reporter
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserStatus::*;
    use UserType::*;

    fn caller(id: &str, t: UserType, s: UserStatus) -> Caller {
        Caller {
            id: UserId::parse(id).unwrap(),
            user_type: t,
            status: s,
        }
    }

    fn uid(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn only_approved_admins_list_users() {
        let table = [
            (Admin, Approved, true),
            (Admin, Pending, false),
            (Admin, Rejected, false),
            (Engineer, Approved, false),
            (Customer, Approved, false),
        ];
        for (t, s, ok) in table {
            assert_eq!(list_users(&caller("u", t, s)).is_ok(), ok, "{t} {s}");
        }
    }

    #[test]
    fn only_approved_admins_read_the_change_feed() {
        let table = [
            (Admin, Approved, true),
            (Admin, Pending, false),
            (Admin, Rejected, false),
            (Engineer, Approved, false),
            (Engineer, Pending, false),
            (Customer, Approved, false),
        ];
        for (t, s, ok) in table {
            assert_eq!(read_events(&caller("u", t, s)).is_ok(), ok, "{t} {s}");
        }
    }

    #[test]
    fn view_user_admin_or_self() {
        let table = [
            ("admin", Admin, "bob", true),
            ("bob", Customer, "bob", true),
            ("bob", Customer, "alice", false),
            ("eng", Engineer, "bob", false),
            ("eng", Engineer, "eng", true),
        ];
        for (who, t, target, ok) in table {
            assert_eq!(
                view_user(&caller(who, t, Approved), &uid(target)).is_ok(),
                ok,
                "{who} -> {target}"
            );
        }
    }

    #[test]
    fn only_admins_change_user_status_even_their_own() {
        let table = [
            ("admin", Admin, "eng", true, Ok(())),
            ("admin", Admin, "admin", true, Ok(())),
            (
                "eng",
                Engineer,
                "eng",
                true,
                Err(Denied::StatusChangeAdminOnly),
            ),
            ("eng", Engineer, "eng", false, Ok(())),
            ("bob", Customer, "eng", false, Err(Denied::AdminOrSelf)),
            ("bob", Customer, "eng", true, Err(Denied::AdminOrSelf)),
        ];
        for (who, t, target, status, want) in table {
            assert_eq!(
                update_user(&caller(who, t, Approved), &uid(target), status),
                want,
                "{who} -> {target} status={status}"
            );
        }
    }

    #[test]
    fn type_changes_set_status_per_spec() {
        let table = [
            // (current, new type, new status) -> result
            (
                (Customer, Approved),
                Some(Engineer),
                None,
                (Engineer, Pending),
            ),
            ((Customer, Approved), Some(Admin), None, (Admin, Pending)),
            (
                (Engineer, Approved),
                Some(Customer),
                None,
                (Customer, Approved),
            ),
            (
                (Engineer, Rejected),
                Some(Customer),
                None,
                (Customer, Approved),
            ),
            (
                (Customer, Approved),
                Some(Engineer),
                Some(Approved),
                (Engineer, Approved),
            ),
            (
                (Engineer, Approved),
                Some(Engineer),
                None,
                (Engineer, Approved),
            ),
            (
                (Engineer, Pending),
                None,
                Some(Approved),
                (Engineer, Approved),
            ),
            (
                (Engineer, Approved),
                None,
                Some(Rejected),
                (Engineer, Rejected),
            ),
            ((Admin, Approved), None, None, (Admin, Approved)),
        ];
        for (cur, t, s, want) in table {
            assert_eq!(next_type_and_status(cur, t, s), want, "{cur:?} {t:?} {s:?}");
        }
    }

    #[test]
    fn ticket_visibility_per_role() {
        let rep = uid("cust");
        let eng = uid("eng");
        let followers = [uid("fcust"), uid("feng"), uid("fadmin")];
        let t = |assignee| Parties {
            reporter: &rep,
            assignee,
            followers: &followers,
        };
        // (caller, assignee) → may see the ticket; "removed" users followed it once and no
        // longer do (they are in no list: what decides is the ticket as read now).
        let table = [
            (caller("admin", Admin, Approved), Some(&eng), true),
            (caller("admin", Admin, Pending), Some(&eng), false),
            (caller("cust", Customer, Approved), Some(&eng), true),
            (caller("other", Customer, Approved), Some(&eng), false),
            (caller("eng", Engineer, Approved), Some(&eng), true),
            (caller("eng2", Engineer, Approved), Some(&eng), false),
            (caller("eng2", Engineer, Approved), None, false),
            // Followers (SPEC §11), whatever their type.
            (caller("fcust", Customer, Approved), Some(&eng), true),
            (caller("feng", Engineer, Approved), Some(&eng), true),
            (caller("feng", Engineer, Approved), None, true),
            (caller("fadmin", Admin, Approved), None, true),
            // Removed followers.
            (caller("removedcust", Customer, Approved), Some(&eng), false),
            (caller("removedeng", Engineer, Approved), None, false),
        ];
        for (c, assignee, ok) in table {
            assert_eq!(concerned(&c, &t(assignee)).is_ok(), ok, "{c:?}");
        }
        let own = caller("eng2", Engineer, Approved);
        let mine = uid("eng2");
        let reported = Parties {
            reporter: &mine,
            assignee: None,
            followers: &[],
        };
        assert!(concerned(&own, &reported).is_ok(), "engineer as reporter");
        // A follower's access ends with their removal: the same caller, the list without them.
        let removed = Parties {
            followers: &followers[1..],
            ..t(Some(&eng))
        };
        assert!(concerned(&caller("fcust", Customer, Approved), &t(Some(&eng))).is_ok());
        assert_eq!(
            concerned(&caller("fcust", Customer, Approved), &removed),
            Err(Denied::NotConcerned)
        );
    }

    #[test]
    fn who_changes_a_ticket_and_its_tags_and_followers() {
        let rep = uid("cust");
        let eng = uid("eng");
        let followers = [uid("fcust"), uid("feng"), uid("fadmin")];
        let t = Parties {
            reporter: &rep,
            assignee: Some(&eng),
            followers: &followers,
        };
        use Denied::*;
        // caller → (update, add a follower, remove another follower, remove themself,
        // set tags)
        let table = [
            (
                caller("cust", Customer, Approved),
                [Ok(()), Ok(()), Ok(()), Ok(()), Err(TagsStaffOnly)],
            ),
            (
                caller("eng", Engineer, Approved),
                [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())],
            ),
            (
                caller("admin", Admin, Approved),
                [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())],
            ),
            (
                caller("fcust", Customer, Approved),
                [
                    Err(FollowerReadsOnly),
                    Err(FollowersReporterOrStaff),
                    Err(FollowersReporterOrStaff),
                    Ok(()),
                    Err(TagsStaffOnly),
                ],
            ),
            (
                caller("feng", Engineer, Approved),
                [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())],
            ),
            (
                caller("fadmin", Admin, Approved),
                [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())],
            ),
            (
                caller("other", Customer, Approved),
                [
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Err(TagsStaffOnly),
                ],
            ),
            (
                caller("eng2", Engineer, Approved),
                [
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Err(NotConcerned),
                    Ok(()),
                ],
            ),
        ];
        let someone = uid("feng");
        for (c, want) in table {
            let me = c.id.clone();
            let other = if me == someone {
                uid("fcust")
            } else {
                someone.clone()
            };
            let got = [
                update_ticket(&c, &t),
                add_follower(&c, &t),
                remove_follower(&c, &t, &other),
                remove_follower(&c, &t, &me),
                set_tags(&c),
            ];
            assert_eq!(got, want, "{c:?}");
        }
    }

    #[test]
    fn only_approved_users_not_yet_concerned_may_follow() {
        let rep = uid("cust");
        let eng = uid("eng");
        let t = Parties {
            reporter: &rep,
            assignee: Some(&eng),
            followers: &[],
        };
        use CannotFollow::*;
        let table = [
            ("bob", Some(Approved), Ok(())),
            ("bob", Some(Pending), Err(NotAnApprovedUser)),
            ("bob", Some(Rejected), Err(NotAnApprovedUser)),
            // No such user: the same answer as a user who is not approved.
            ("bob", None, Err(NotAnApprovedUser)),
            ("cust", Some(Approved), Err(IsReporter)),
            ("eng", Some(Approved), Err(IsAssignee)),
        ];
        for (who, status, want) in table {
            assert_eq!(may_follow(&uid(who), status, &t), want, "{who} {status:?}");
        }
    }

    #[test]
    fn only_approved_admins_reassign() {
        assert!(reassign(&caller("a", Admin, Approved)).is_ok());
        assert_eq!(
            reassign(&caller("e", Engineer, Approved)),
            Err(Denied::ReassignAdminOnly)
        );
        assert_eq!(
            reassign(&caller("c", Customer, Approved)),
            Err(Denied::ReassignAdminOnly)
        );
    }

    #[test]
    fn assignable_means_approved_engineer() {
        for t in UserType::ALL {
            for s in UserStatus::ALL {
                assert_eq!(is_assignable(*t, *s), *t == Engineer && *s == Approved);
                assert_eq!(is_approved_admin(*t, *s), *t == Admin && *s == Approved);
            }
        }
    }

    #[test]
    fn only_an_approved_admin_resets_another_users_password() {
        use UserStatus::*;
        use UserType::*;
        for (t, st, ok) in [
            (Admin, Approved, true),
            (Admin, Pending, false),
            (Admin, Rejected, false),
            (Engineer, Approved, false),
            (Customer, Approved, false),
        ] {
            let c = Caller {
                id: UserId::parse("c").unwrap(),
                user_type: t,
                status: st,
            };
            assert_eq!(reset_password(&c).is_ok(), ok, "{t:?} {st:?}");
        }
    }

    #[test]
    fn only_approved_users_who_may_see_the_ticket_are_mailed() {
        use MailRole as R;
        // (role, type) → mailed while APPROVED; never while PENDING or REJECTED.
        let table = [
            (R::Reporter, Customer, true),
            (R::Reporter, Engineer, true),
            (R::Reporter, Admin, true),
            (R::Follower, Customer, true),
            (R::Follower, Engineer, true),
            (R::Follower, Admin, true),
            (R::Assignee, Customer, false),
            (R::Assignee, Engineer, true),
            (R::Assignee, Admin, true),
            (R::PreviousAssignee, Customer, false),
            (R::PreviousAssignee, Engineer, true),
            (R::PreviousAssignee, Admin, true),
            (R::Admin, Customer, false),
            (R::Admin, Engineer, false),
            (R::Admin, Admin, true),
        ];
        assert_eq!(table.len(), 5 * UserType::ALL.len(), "every role and type");
        for (role, t, ok) in table {
            for s in UserStatus::ALL {
                let want = ok && *s == Approved;
                assert_eq!(may_be_mailed(role, t, *s), want, "{role:?} {t} {s}");
            }
        }
    }

    #[test]
    fn only_staff_write_internal_notes_anyone_concerned_a_comment() {
        let table = [
            (Customer, false, Ok(())),
            (Customer, true, Err(Denied::InternalNoteStaffOnly)),
            (Engineer, false, Ok(())),
            (Engineer, true, Ok(())),
            (Admin, false, Ok(())),
            (Admin, true, Ok(())),
        ];
        assert_eq!(
            table.len(),
            2 * UserType::ALL.len(),
            "every type, both kinds"
        );
        for (t, internal, want) in table {
            assert_eq!(
                comment(&caller("u", t, Approved), internal),
                want,
                "{t} internal={internal}"
            );
        }
    }

    #[test]
    fn only_staff_see_internal_notes() {
        for t in UserType::ALL {
            assert_eq!(sees_internal_notes(*t), *t != Customer, "{t}");
        }
    }

    #[test]
    fn only_a_public_comment_by_the_reporter_reopens_a_closed_ticket() {
        use TicketStatus::*;
        let (rep, other) = (uid("rep"), uid("eng"));
        // (author, internal, status) → reopens
        let table = [
            (&rep, false, Closed, true),
            (&rep, true, Closed, false),
            (&rep, false, Open, false),
            (&rep, false, Blocked, false),
            (&other, false, Closed, false),
            (&other, true, Closed, false),
            (&other, false, Blocked, false),
            (&rep, true, Blocked, false),
        ];
        for (author, internal, status, want) in table {
            assert_eq!(
                comment_reopens(author, &rep, internal, status),
                want,
                "{author} internal={internal} {status}"
            );
        }
    }

    #[test]
    fn an_internal_note_is_mailed_to_staff_only() {
        use MailRole as R;
        for role in [
            R::Reporter,
            R::Follower,
            R::Assignee,
            R::PreviousAssignee,
            R::Admin,
        ] {
            for t in UserType::ALL {
                for s in UserStatus::ALL {
                    assert_eq!(
                        may_be_mailed_about(role, *t, *s, false),
                        may_be_mailed(role, *t, *s),
                        "public {role:?} {t} {s}"
                    );
                    assert_eq!(
                        may_be_mailed_about(role, *t, *s, true),
                        may_be_mailed(role, *t, *s) && *t != Customer,
                        "internal {role:?} {t} {s}"
                    );
                }
            }
        }
        assert!(!may_be_mailed_about(R::Reporter, Customer, Approved, true));
        assert!(may_be_mailed_about(R::Reporter, Customer, Approved, false));
        // A follower: public changes like the reporter; internal notes only while staff;
        // nothing once rejected.
        assert!(may_be_mailed_about(R::Follower, Customer, Approved, false));
        assert!(!may_be_mailed_about(R::Follower, Customer, Approved, true));
        assert!(may_be_mailed_about(R::Follower, Engineer, Approved, true));
        assert!(!may_be_mailed_about(R::Follower, Engineer, Rejected, false));
        assert!(may_be_mailed_about(R::Assignee, Engineer, Approved, true));
        assert!(may_be_mailed_about(R::Admin, Admin, Approved, true));
    }

    #[test]
    fn sla_rights_table() {
        for (t, s, set, read) in [
            (Admin, Approved, true, true),
            (Admin, Pending, false, false),
            (Engineer, Approved, false, true),
            (Engineer, Rejected, false, false),
            (Customer, Approved, false, false),
        ] {
            let c = caller("u", t, s);
            assert_eq!(set_sla(&c).is_ok(), set, "{t:?} {s:?} set");
            assert_eq!(read_sla(&c).is_ok(), read, "{t:?} {s:?} read");
        }
        assert_eq!(
            set_sla(&caller("u", Engineer, Approved)),
            Err(Denied::AdminOnly)
        );
        assert_eq!(
            read_sla(&caller("u", Customer, Approved)),
            Err(Denied::StaffOnly)
        );
    }

    #[test]
    fn first_response_table() {
        let (rep, eng) = (uid("rep"), uid("eng"));
        #[rustfmt::skip]
        let table = [
            (&eng, Engineer, false, true),
            (&eng, Admin, false, true),
            (&eng, Engineer, true, false),   // an internal note answers nobody
            (&eng, Customer, false, false),  // a customer is not staff
            (&rep, Engineer, false, false),  // staff answering their own ticket
            (&rep, Admin, false, false),
        ];
        for (author, t, internal, want) in table {
            assert_eq!(
                first_response(author, t, &rep, internal),
                want,
                "{author} {t:?} {internal}"
            );
        }
    }
}
