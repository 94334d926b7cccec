//! Domain types. Input is parsed into these at the edge ("parse, don't validate"), so an
//! invalid userId, email or password cannot exist past the handler.

mod comment;
mod event;
mod idempotency;
mod job;
mod satisfaction;
mod tags;
pub mod text;
mod ticket;
mod time;
mod user;

pub use comment::{AttachmentRef, CommentBody, CommentSnapshot};
pub use event::{
    Change, Changes, EVENT_ID_PREFIX, Event, EventData, EventType, LegacyTicketEvent, SlaView,
    StoredEvent, TicketSnapshot, UserView,
};
pub use idempotency::IdempotencyKey;
pub use job::{Job, JobKind, QueueMessage, SYSTEM_ACTOR};
pub use satisfaction::{RATING_WINDOW_DAYS, Rating, RatingComment, Satisfaction};
pub use tags::{Tag, Tags};
pub use ticket::{Description, Priority, TicketId, TicketStatus, Title, new_ulid};
pub use time::{Clock, Timestamp};
pub use user::{Email, Name, Password, UserId, UserStatus, UserType};

/// Why a value was rejected: the field it came from and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}
