//! Outbound webhooks' rules (SPEC §7) that need no store or network: the Standard Webhooks
//! signature and where a webhook may be delivered.

pub mod address;
pub mod signature;
