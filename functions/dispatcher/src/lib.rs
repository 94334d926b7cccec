//! The webhook dispatcher (SPEC §7): attempts each delivery the notifier's fan-out recorded,
//! records the attempt on the delivery, and schedules the next one. Its delivery client makes
//! one attempt to one subscription's URL, on an address checked after resolution and connected
//! to as checked, with no redirects, a deadline and bounded reads. The same code serves the
//! SQS-triggered Lambda (`main.rs`) and `crm serve`'s in-process dispatcher.

pub mod deliver;
pub mod dispatch;
pub mod input;
pub mod resolve;

pub use deliver::{Attempt, Outcome, Policy, WebhookClient};
pub use dispatch::{Dispatcher, Handled, SweepReport};
pub use input::{Input, Output};
pub use resolve::{Resolve, SystemResolver};
