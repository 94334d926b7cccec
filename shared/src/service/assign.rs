//! Who gets a ticket the system assigns (SPEC §3): the reads behind the rule in
//! shared/src/assignment.rs, shared by creations, reopenings and the workload jobs.

use crate::assignment::{CANDIDATES, Mode, choose};
use crate::model::UserId;
use crate::store::{Store, StoreError, TicketRecord, UserRecord};

/// The assignee a reopened ticket gets (SPEC §3 "Leaving").
pub(crate) struct Reassigned {
    pub assignee: Option<UserId>,
    /// The bound the auto-assignment was chosen under (shared/src/assignment.rs).
    pub below: Option<i64>,
}

/// For a ticket becoming OPEN: None when its assignee is an approved engineer (it stays
/// theirs); otherwise who takes it, as a new ticket would be assigned (nobody when every
/// engineer is full or there is none). One round: the assignee beside the load index.
pub(crate) async fn reopen_assignment(
    store: &Store,
    capacity: Option<i64>,
    before: &TicketRecord,
) -> Result<Option<Reassigned>, StoreError> {
    let (current, candidates) = tokio::try_join!(
        async {
            match &before.assignee {
                Some(a) => store.get_user(a).await,
                None => Ok(None),
            }
        },
        store.least_loaded_engineers(CANDIDATES)
    )?;
    if current.as_ref().is_some_and(UserRecord::is_assignable) {
        return Ok(None);
    }
    let pick = choose(&candidates, capacity, Mode::Least);
    let assignee = pick.map(|p| p.engineer.user_id.clone());
    if assignee == before.assignee {
        return Ok(None);
    }
    Ok(Some(Reassigned {
        assignee,
        below: pick.map(|p| p.below),
    }))
}

/// The candidates as the table has them now (strongly consistent reads, concurrently: one
/// round), least loaded first; the ones that left are dropped. When none is left, the index
/// is asked again.
pub(crate) async fn refreshed_candidates(
    store: &Store,
    candidates: Vec<UserRecord>,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut fresh: Vec<UserRecord> =
        futures_util::future::try_join_all(candidates.iter().map(|c| store.get_user(&c.user_id)))
            .await?
            .into_iter()
            .flatten()
            .filter(UserRecord::is_assignable)
            .collect();
    if fresh.is_empty() {
        return store.least_loaded_engineers(CANDIDATES).await;
    }
    fresh.sort_by_key(|u| u.load_key);
    Ok(fresh)
}
