//! The webhook dispatcher (SPEC §7). For now its delivery client: one attempt to one
//! subscription's URL, on an address checked after resolution and connected to as checked,
//! with no redirects, a deadline and bounded reads. The fan-out, the delivery records and the
//! Lambda come with the event type they carry.

pub mod deliver;
pub mod resolve;

pub use deliver::{Attempt, Outcome, Policy, WebhookClient};
pub use resolve::{Resolve, SystemResolver};
