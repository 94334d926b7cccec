//! Outbound webhooks' rules (SPEC §7) that need no store or network: the Standard Webhooks
//! signature, where a webhook may be delivered, and the retry schedule.

pub mod address;
pub mod schedule;
pub mod signature;
