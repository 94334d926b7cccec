//! The service fixture's helpers for SPEC §11: tags on a new ticket or an update, and
//! adding and removing followers, as the API would.

use crate::desk::{Desk, new_ticket, tid};
use crm_shared::ApiError;
use crm_shared::model::{Tags, TicketSnapshot};
use crm_shared::service::{self, Authed, TicketPatch};

/// A tag set from its names (panics on an invalid one).
pub fn tags(names: &[&str]) -> Tags {
    Tags::parse(names.iter().copied()).expect("valid tags")
}

/// A patch that sets the tags to `names`.
pub fn tags_patch(names: &[&str]) -> TicketPatch {
    TicketPatch {
        tags: Some(tags(names)),
        ..Default::default()
    }
}

impl Desk {
    /// Creates a ticket with tags as `who` (panics on refusal).
    pub async fn create_tagged(&self, who: &Authed, t: &str, names: &[&str]) -> TicketSnapshot {
        let mut new = new_ticket(t);
        new.tags = Some(tags(names));
        service::create_ticket(&self.ctx, who, new)
            .await
            .unwrap_or_else(|e| panic!("{} creating {t:?} tagged {names:?}: {e:?}", who.id))
    }

    pub async fn add_follower(
        &self,
        who: &Authed,
        ticket: &str,
        user: &str,
    ) -> Result<TicketSnapshot, ApiError> {
        service::add_follower(&self.ctx, who, &tid(ticket), user).await
    }

    pub async fn remove_follower(
        &self,
        who: &Authed,
        ticket: &str,
        user: &str,
    ) -> Result<TicketSnapshot, ApiError> {
        service::remove_follower(&self.ctx, who, &tid(ticket), user).await
    }

    /// `who` adds `user` as a follower (panics on refusal).
    pub async fn follow(&self, who: &Authed, ticket: &str, user: &str) -> TicketSnapshot {
        self.add_follower(who, ticket, user)
            .await
            .unwrap_or_else(|e| panic!("{} adding follower {user}: {e:?}", who.id))
    }
}
