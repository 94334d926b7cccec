//! A ticket listing's filters and order (`GET /tickets` query), and the plan that puts them
//! on the index partitions holding what the caller may see: shared by the listing by
//! creation (listing.rs) and by resolution due time (sla_listing.rs).

use crate::model::{Priority, Tag, TicketStatus, UserId, UserType};
use crate::policy::Caller;
use crate::store::{
    Source, TicketRecord, assignee_source, following_source, reporter_source, status_source,
    tag_sources,
};

/// Listing filters. `assignee: Some(None)` means unassigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub reporter: Option<UserId>,
    pub assignee: Option<Option<UserId>>,
    pub priority: Option<Priority>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// SPEC §11: tickets carrying every one of these tags.
    pub tags: Vec<Tag>,
    /// SPEC §11 (`following=true`): only the tickets the caller follows.
    pub following: bool,
    /// `slaBreached` (SPEC §10): `true`, tickets with a breach; `false`, tickets under a
    /// target with none (a ticket with no `sla` is neither).
    pub sla_breached: Option<bool>,
    /// `sort`: creation (the default) or `resolutionDueAt`.
    pub sort: TicketOrder,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TicketOrder {
    /// Oldest first.
    #[default]
    Created,
    /// `sort=resolutionDueAt`: soonest resolution due time first, tickets without one last
    /// (oldest first among them).
    ResolutionDueAt,
}

impl TicketOrder {
    /// The `sort` query value (400 for another).
    pub fn parse(raw: &str) -> Result<Self, crate::model::Invalid> {
        match raw.trim() {
            "resolutionDueAt" => Ok(TicketOrder::ResolutionDueAt),
            _ => Err(crate::model::Invalid::new(
                "sort",
                "sort must be resolutionDueAt (the default order is by creation).",
            )),
        }
    }
}

impl TicketFilter {
    pub(super) fn is_empty(&self) -> bool {
        TicketFilter {
            sort: TicketOrder::Created,
            ..self.clone()
        } == TicketFilter::default()
    }

    pub(super) fn matches(&self, t: &TicketRecord) -> bool {
        let contains = |hay: &str, needle: &Option<String>| {
            needle
                .as_ref()
                .is_none_or(|n| hay.to_lowercase().contains(&n.to_lowercase()))
        };
        self.status.is_none_or(|s| t.status == s)
            && self.reporter.as_ref().is_none_or(|r| &t.reporter == r)
            && self.assignee.as_ref().is_none_or(|a| &t.assignee == a)
            && self.priority.is_none_or(|p| t.ticket_priority == p)
            && contains(t.title.as_str(), &self.title)
            && contains(t.description.as_str(), &self.description)
            && self.tags.iter().all(|tag| t.tags.contains(tag))
            && self.sla_breached.is_none_or(|want| {
                t.sla
                    .as_ref()
                    .is_some_and(|s| s.under_target() && s.breached() == want)
            })
    }

    /// A stable description, so a nextToken is only valid for the listing it came from.
    pub(super) fn scope(&self, caller: &UserId) -> String {
        let mut scope = format!(
            "tickets|{caller}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.status, self.reporter, self.assignee, self.priority, self.title, self.description
        );
        // Appended only when used, so the tokens of listings without them stay valid.
        if !self.tags.is_empty() || self.following {
            scope.push_str(&format!("|{:?}|{}", self.tags, self.following));
        }
        if self.sla_breached.is_some() || self.sort != TicketOrder::Created {
            scope.push_str(&format!("|{:?}|{:?}", self.sla_breached, self.sort));
        }
        scope
    }
}

/// The index partitions that hold every ticket this caller may see that could match, and
/// the filters the partitions do not already imply.
///
/// A customer's or engineer's own partitions (reported, assigned, followed) each imply a
/// fact; one that a filter contradicts is left out, and one that a filter names alone
/// serves. Tags are then a filter on them: such a listing costs in proportion to the
/// caller's own tickets (SPEC §3), whatever the tag. An admin's listing by tag reads the
/// first tag's shards: in proportion to the tickets carrying it (SPEC §11). None: nothing
/// can match (kept for the plans to come; a caller's followed tickets keep every plan open).
pub(super) fn plan(caller: &Caller, f: &TicketFilter) -> Option<(Vec<Source>, TicketFilter)> {
    let me = &caller.id;
    let mut rest = f.clone();
    if f.following {
        rest.following = false;
        return Some((vec![following_source(me)], rest));
    }
    let sources = match caller.user_type {
        UserType::Customer => match f.reporter.as_ref().map(|r| r == me) {
            Some(true) => {
                rest.reporter = None;
                vec![reporter_source(me)]
            }
            // Someone else's tickets: only those the customer follows can match.
            Some(false) => vec![following_source(me)],
            None => vec![reporter_source(me), following_source(me)],
        },
        UserType::Engineer => {
            let by_me = f.reporter.as_ref().map(|r| r == me);
            let to_me = f.assignee.as_ref().map(|a| a.as_ref() == Some(me));
            match (by_me, to_me) {
                (Some(false), Some(false)) => vec![following_source(me)],
                (Some(true), _) => {
                    rest.reporter = None;
                    vec![reporter_source(me)]
                }
                (_, Some(true)) => {
                    rest.assignee = None;
                    vec![assignee_source(Some(me))]
                }
                (Some(false), None) => {
                    vec![assignee_source(Some(me)), following_source(me)]
                }
                (None, Some(false)) => vec![reporter_source(me), following_source(me)],
                (None, None) => vec![
                    reporter_source(me),
                    assignee_source(Some(me)),
                    following_source(me),
                ],
            }
        }
        UserType::Admin => {
            if let Some(tag) = f.tags.first() {
                tag_sources(tag)
            } else if let Some(r) = &f.reporter {
                rest.reporter = None;
                vec![reporter_source(r)]
            } else if let Some(a) = &f.assignee {
                rest.assignee = None;
                vec![assignee_source(a.as_ref())]
            } else if let Some(s) = f.status {
                rest.status = None;
                vec![status_source(s)]
            } else {
                TicketStatus::ALL
                    .iter()
                    .map(|s| status_source(*s))
                    .collect()
            }
        }
    };
    Some((sources, rest))
}
