//! The webhooks below HTTP (SPEC §7).

mod sign;
