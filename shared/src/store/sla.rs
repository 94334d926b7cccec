//! Service-level policies (SPEC §10) as immutable versions: `SLA#POLICY` / `V#<n>` for each
//! `PUT /sla`, and `SLA#POLICY` / `CURRENT` with a copy of the one in force, so a ticket
//! creation reads the policy in one get beside its other reads. A new version and the pointer
//! are written in one transaction, the pointer under the version it replaces: two concurrent
//! `PUT /sla` never make one version twice or leave the pointer behind.

use super::backend::{Cond, Item, Query, Range, Refused, SortKey, StoreError, Tx, Write};
use super::keys;
use super::paging::{Source, Spec};
use super::schema::{GSI1, Index, TABLE};
use super::tickets::TicketRecord;
use super::{Store, from_item, to_item};
use crate::model::{TicketId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One version of the policy, as `PUT /sla` set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaPolicyRecord {
    /// 1 for the first `PUT /sla`, +1 with each.
    pub version: i64,
    /// The configuration in the `PUT /sla` shape (`SlaPolicy::to_json`).
    pub policy: Value,
    pub set_by: UserId,
    pub set_at: String,
}

impl SlaPolicyRecord {
    fn item(&self, key: super::Key) -> Result<Item, StoreError> {
        to_item(
            self,
            &[
                (TABLE.pk, Value::String(key.pk)),
                (TABLE.sk, Value::String(key.sk)),
            ],
        )
    }
}

/// Why a policy was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaWriteError {
    /// Another `PUT /sla` made the next version first: read again and retry.
    #[error("policy changed concurrently")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The policy in force (None before the first `PUT /sla`).
    pub async fn current_sla_policy(&self) -> Result<Option<SlaPolicyRecord>, StoreError> {
        self.get(&keys::sla_current())
            .await?
            .map(from_item)
            .transpose()
    }

    /// One version of the policy.
    pub async fn sla_policy_version(
        &self,
        version: i64,
    ) -> Result<Option<SlaPolicyRecord>, StoreError> {
        self.get(&keys::sla_version(version))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Stores `next` as the policy in force: its version item (which must not exist) and the
    /// pointer, which must still be at `next.version - 1` (absent for version 1).
    pub async fn put_sla_policy(&self, next: &SlaPolicyRecord) -> Result<(), SlaWriteError> {
        let mut tx = Tx::new();
        tx.push(
            (),
            Write::Put {
                item: next.item(keys::sla_version(next.version))?,
                cond: Cond::NotExists,
            },
        );
        tx.push(
            (),
            Write::Put {
                item: next.item(keys::sla_current())?,
                cond: if next.version <= 1 {
                    Cond::NotExists
                } else {
                    Cond::Eq("version", Value::from(next.version - 1))
                },
            },
        );
        match self.commit(tx).await {
            Ok(()) => Ok(()),
            Err(Refused::Conditions(_)) | Err(Refused::Store(StoreError::Contention)) => {
                Err(SlaWriteError::Changed)
            }
            Err(Refused::Store(e)) => Err(e.into()),
        }
    }

    /// Tickets whose next SLA check is before `now`, from each shard of the due index (at
    /// most `per_shard` each, soonest first), read concurrently.
    pub async fn sla_due_tickets(
        &self,
        now: Timestamp,
        per_shard: usize,
    ) -> Result<Vec<TicketRecord>, StoreError> {
        let queries: Vec<Query> = (0..keys::SLA_SHARDS)
            .map(|s| Query {
                index: Index::Gsi4,
                pk: keys::sla_due(s),
                range: Range::Before(SortKey::N(now.millis())),
                limit: per_shard,
            })
            .collect();
        let pages =
            futures_util::future::try_join_all(queries.iter().map(|q| self.query(q))).await?;
        pages
            .into_iter()
            .flat_map(|p| p.items)
            .map(from_item)
            .collect()
    }

    /// A page of the SLA order index (every shard merged): ticket ids by resolution due time.
    pub async fn sla_order_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        let page = self
            .list(Spec {
                sources: (0..keys::SLA_SHARDS)
                    .map(|s| Source::new(Index::Gsi1, keys::sla_order(s)))
                    .collect(),
                after,
                limit,
                keep: None,
                max_rounds: 1,
            })
            .await?;
        let mut out = OrderPage {
            next: page.next,
            ..OrderPage::default()
        };
        for item in page.items {
            let (Some(id), Some(key)) = (
                item.get("ticketId").and_then(Value::as_str),
                item.get(GSI1.sk).and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Ok(id) = TicketId::parse(id) {
                out.ids.push(id);
                out.keys.push(key.to_owned());
            }
        }
        Ok(out)
    }
}

/// One page of the SLA order index: ticket ids in order, their keys, and the cursor.
#[derive(Debug, Clone, Default)]
pub struct OrderPage {
    pub ids: Vec<TicketId>,
    pub keys: Vec<String>,
    pub next: Option<String>,
}
