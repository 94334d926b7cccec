//! Job items: written in the triggering transaction, indexed by their last push so the sweep
//! can resume the ones a crash interrupted, and deleted when the job has run.

use super::backend::{Cond, Item, Query, Range, SortKey, StoreError, Write};
use super::keys;
use super::schema::{GSI1, Index, TABLE};
use super::{Store, from_item};
use crate::model::{Job, Timestamp};
use serde_json::Value;

/// A job as stored, with its sweep age key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEntry {
    pub job: Job,
    pub order: String,
}

fn job_item(job: &Job, now: Timestamp) -> Result<Item, StoreError> {
    let k = keys::job(&job.job_id);
    let mut item = Item::new();
    item.insert(TABLE.pk.into(), Value::String(k.pk));
    item.insert(TABLE.sk.into(), Value::String(k.sk));
    item.insert(GSI1.pk.into(), Value::String(keys::JOBS.into()));
    item.insert(
        GSI1.sk.into(),
        Value::String(keys::age_key(now, &job.job_id)),
    );
    item.insert(
        "job".into(),
        serde_json::to_value(job).map_err(|e| StoreError::Internal(e.to_string()))?,
    );
    Ok(item)
}

fn entry(item: Item) -> Result<JobEntry, StoreError> {
    let order = item
        .get(GSI1.sk)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let job = item
        .get("job")
        .cloned()
        .ok_or_else(|| StoreError::Internal("job item without job".into()))?;
    Ok(JobEntry {
        job: from_item_value(job)?,
        order,
    })
}

fn from_item_value(v: Value) -> Result<Job, StoreError> {
    match v {
        Value::Object(m) => from_item(m),
        _ => Err(StoreError::Internal("job is not an object".into())),
    }
}

impl Store {
    /// The write that records a job, for the triggering transaction.
    pub fn job_write(&self, job: &Job, now: Timestamp) -> Result<Write, StoreError> {
        Ok(Write::Put {
            item: job_item(job, now)?,
            cond: Cond::NotExists,
        })
    }

    /// Whether the job is still to be run (it is deleted once it has run).
    pub async fn job_pending(&self, job_id: &str) -> Result<bool, StoreError> {
        Ok(self.get(&keys::job(job_id)).await?.is_some())
    }

    /// Jobs last pushed before `before`, oldest first: the ones to resume.
    pub async fn stale_jobs(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<JobEntry>, StoreError> {
        let page = self
            .query(&Query {
                index: Index::Gsi1,
                pk: keys::JOBS.into(),
                range: Range::Before(SortKey::S(before.sort_key())),
                limit,
            })
            .await?;
        page.items.into_iter().map(entry).collect()
    }

    /// Takes the right to re-push a job now (moves its age key if nobody else did).
    pub async fn mark_job_pushed(&self, e: &JobEntry, now: Timestamp) -> Result<bool, StoreError> {
        let age = keys::age_key(now, &e.job.job_id);
        self.move_queued(
            keys::job(&e.job.job_id),
            &e.order,
            (GSI1.sk, Value::String(age)),
        )
        .await
    }

    /// The job has run to its end: it goes.
    pub async fn finish_job(&self, job_id: &str) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete {
            key: keys::job(job_id),
            cond: Cond::Always,
        }])
        .await
    }
}
