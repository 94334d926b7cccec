//! Mail in and out share these: the per-ticket reply address with its HMAC token, the
//! thread ids that keep one ticket's mails in one thread, and the header that marks mail the
//! service sent (so the intake can refuse its own mail: no loops).

pub mod reply;

pub use reply::{InboundAddress, Recipient, ReplyAddresses};

/// A header on every mail the service sends, carrying the event id: mail that comes back with
/// it is the service's own (an auto-forward, a bounce quoting headers) and is never turned
/// into a ticket or comment.
pub const EVENT_HEADER: &str = "X-CRM-Event";
