//! The tickets use cases (SPEC §3) called directly, below HTTP (`crm_tests::desk::Desk`), on
//! both backends (`crm_tests::on_both_backends!`: every case runs as
//! `tickets::<module>::sqlite::<case>` on a fresh SQLite file and
//! `tickets::<module>::dynamodb::<case>` on a fresh table in DynamoDB Local, which must be
//! running): rules, races, request depths (`costs`) and a failing table (`dependency`). The
//! same area over HTTP is `tests/tests/api/tickets`.

mod access;
mod assign;
mod attachments;
mod comment_races;
pub(crate) mod comments;
mod concurrency;
mod conflicts;
mod costs;
mod counts;
mod dependency;
mod followers;
mod history;
mod idempotency;
mod listing;
mod merge;
mod satisfaction;
mod sla;
mod tags;
mod update;
pub(crate) mod workload;
