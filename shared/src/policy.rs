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
    /// Only an approved ENGINEER or ADMIN may do this.
    StaffOnly,
}

pub fn list_users(caller: &Caller) -> Result<(), Denied> {
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

/// Whether the caller may see (and so update) a ticket with this reporter and assignee:
/// admins every ticket, engineers what they reported or are assigned, customers what they
/// reported.
pub fn concerned(
    caller: &Caller,
    reporter: &UserId,
    assignee: Option<&UserId>,
) -> Result<(), Denied> {
    let ok = match caller.user_type {
        UserType::Admin => caller.is_admin(),
        UserType::Engineer => reporter == &caller.id || assignee == Some(&caller.id),
        UserType::Customer => reporter == &caller.id,
    };
    ok.then_some(()).ok_or(Denied::NotConcerned)
}

/// How a user is concerned with a ticket event, for mail (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRole {
    Reporter,
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
        MailRole::Reporter => true,
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
        let table = [
            (caller("admin", Admin, Approved), Some(&eng), true),
            (caller("admin", Admin, Pending), Some(&eng), false),
            (caller("cust", Customer, Approved), Some(&eng), true),
            (caller("other", Customer, Approved), Some(&eng), false),
            (caller("eng", Engineer, Approved), Some(&eng), true),
            (caller("eng2", Engineer, Approved), Some(&eng), false),
            (caller("eng2", Engineer, Approved), None, false),
        ];
        for (c, assignee, ok) in table {
            assert_eq!(concerned(&c, &rep, assignee).is_ok(), ok, "{c:?}");
        }
        let own = caller("eng2", Engineer, Approved);
        assert!(
            concerned(&own, &uid("eng2"), None).is_ok(),
            "engineer as reporter"
        );
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
        assert_eq!(table.len(), 4 * UserType::ALL.len(), "every role and type");
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
        for role in [R::Reporter, R::Assignee, R::PreviousAssignee, R::Admin] {
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
