//! Outbound webhooks' rules (SPEC §7) that need no store or network: the Standard Webhooks
//! signature.

pub mod signature;
