//! Mail in (SPEC §9), the parts that do not touch the store: an inbound raw message parsed
//! into what the mail channel decides on (`parse`), the new text of a reply (`quote`), and
//! the local SMTP listener that `crm serve --smtp-port` runs (`smtp`, feature `smtp`).

mod auth_results;
pub mod command;
pub mod deliver;
mod html;
pub mod parse;
pub mod queue;
pub mod quote;
#[cfg(feature = "smtp")]
pub mod smtp;

pub use auth_results::{AuthResults, SES_AUTHSERV_ID, Verdict};
pub use parse::{Automatic, Inbound, Refusal, Signals, parse};
pub use quote::new_text;

/// The largest message the channel reads (SPEC §9: over 10 MB is refused), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
