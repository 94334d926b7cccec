//! Outbound webhooks (SPEC §7): the rules that need no store or network (the Standard
//! Webhooks signature, where a webhook may be delivered, the retry schedule) and the hand-off
//! of a delivery to the dispatcher.

pub mod address;
pub mod queue;
pub mod schedule;
pub mod signature;
