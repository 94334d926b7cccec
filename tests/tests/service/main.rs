//! Everything below HTTP, in one test binary (one link step): the store conformance suite
//! (`store`), the users and tickets use cases (`users`, `tickets`), the notifications
//! (`notify`: the notifier, its transports, the outbox and the queue on the emulators), the
//! model-based property test of users and tickets (`invariant`), the webhooks (`webhooks`:
//! our signatures verified by a Standard Webhooks library), the attachments' cloud path on
//! moto behind S3's POST policy checks (`attachments`) and the change feed (`feed`). The
//! fixture they share is `crm_tests::desk::Desk`; a case that runs on both backends goes
//! through `crm_tests::on_both_backends!`.

mod attachments;
mod events;
mod feed;
mod intake;
mod intake_cloud;
mod invariant;
mod notify;
mod sla_model;
mod store;
mod tickets;
mod users;
mod webhooks;
