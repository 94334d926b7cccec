//! The tickets API (SPEC §3) over real sockets through `crm serve` (or the Lambda shape):
//! `desk::HttpDesk` is the fixture, a server with its default admin and one helper per
//! ticket endpoint. The same rules below HTTP are `tests/tests/service/tickets`.

mod access;
mod assign;
mod attachments;
mod comments;
mod conflicts;
mod counts;
mod create;
pub(crate) mod desk;
mod followers;
mod history;
mod idempotency;
mod listing;
mod satisfaction;
mod tags;
mod update;
