//! The use cases. Handlers (functions/*) parse HTTP into the typed inputs here (the
//! newtypes in `model` validate as they parse) and hand over the verified caller
//! (`Authed`); each use case loads what it needs, asks
//! `policy` whether the caller may, and makes one atomic store write (with its history,
//! outbox event, job or idempotency record), retrying a lost race (`retry`). Business rules
//! live here and in `policy`; the store knows keys and items, not rules.

mod accounts;
mod assign;
mod attachments;
mod auth;
pub mod breaches;
mod comments;
pub mod feed;
mod filter;
mod followers;
mod idempotency;
pub mod intake;
mod listing;
mod merge;
mod satisfaction;
pub mod sla;
mod sla_listing;
mod tickets;
pub mod transition;
mod user_events;
mod users;
mod views;
pub mod webhooks;
pub mod workload;

pub use accounts::{PasswordChange, change_password, set_password, set_password_by_id, signout};
pub use attachments::{
    MAX_ATTACHMENTS_PER_COMMENT, NewAttachment, UploadGrant,
    download_url as attachment_download_url, grant_upload,
};
pub use auth::{SigninInput, SignupInput, signin, signup};
pub use comments::{NewComment, add_comment, add_comment_once, list_comments};
pub use filter::{TicketFilter, TicketOrder};
pub use followers::{add_follower, remove_follower};
pub use idempotency::Created;
pub use listing::{HistoryView, list_tickets, ticket_history};
pub use merge::{Merged, merge_ticket};
pub use satisfaction::{
    AssigneeScore, NewRating, SatisfactionReport, Score, rate_ticket, satisfaction_report,
};
pub use sla::{get_sla, put_sla};
pub use tickets::{
    NewTicket, TicketPatch, create_ticket, create_ticket_once, get_ticket, update_ticket,
};
pub use users::{
    DEFAULT_ADMIN, UserUpdate, create_admin, ensure_default_admin, get_user, list_users,
    update_user,
};
pub use views::{SigninView, UserView};

use crate::ApiError;
use crate::auth::{Claims, CursorCodec, PasswordHasher, TokenKeys};
use crate::config::Secret;
use crate::error::ErrorCode;
use crate::model::{UserId, UserStatus};
use crate::store::{Store, UserRecord};

/// What every use case needs, built once at init and shared by all requests.
pub struct Ctx {
    pub store: Store,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub cursors: CursorCodec,
    /// Where committed ticket events are pushed.
    pub publisher: crate::queue::Publisher,
    /// Ticket creations in this process take turns choosing an engineer (see tickets.rs).
    pub assign_gate: tokio::sync::Mutex<()>,
    /// Recent collisions of concurrent picks in this process (they spread picks for a while).
    pub contention: crate::assignment::Contention,
    /// Most open tickets auto-assigned to one engineer (`CRM_ENGINEER_CAPACITY`; None:
    /// unlimited).
    pub engineer_capacity: Option<i64>,
    /// How long an `Idempotency-Key` is remembered (24 hours; tests shorten it).
    pub idempotency_ttl_seconds: i64,
    /// Where committed workload jobs are pushed (the table alone: the sweep finds them).
    pub jobs: crate::queue::JobQueue,
    /// Where a webhook URL may point (`CRM_WEBHOOK_ALLOW_HTTP`, `CRM_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_addresses: crate::webhooks::address::AddressPolicy,
    /// Where a delivery retried by an admin is handed to the dispatcher.
    pub webhook_queue: crate::webhooks::queue::WebhookQueue,
    /// "Now" for ticket changes and SLA clocks (tests move it ahead).
    pub clock: crate::model::Clock,
    /// Where attachment files are kept (SPEC §13); None: attachments answer 503.
    pub files: Option<crate::attachments::files::Files>,
    /// `CRM_ATTACHMENT_MAX_BYTES`.
    pub attachment_max_bytes: crate::attachments::MaxBytes,
}

impl Ctx {
    pub fn new(store: Store, secret: &Secret, token_ttl_seconds: u64, bcrypt_cost: u32) -> Self {
        Self {
            store,
            tokens: TokenKeys::new(secret, token_ttl_seconds),
            passwords: PasswordHasher::new(bcrypt_cost),
            cursors: CursorCodec::new(secret),
            publisher: crate::queue::Publisher::default(),
            assign_gate: tokio::sync::Mutex::new(()),
            contention: Default::default(),
            engineer_capacity: None,
            idempotency_ttl_seconds: crate::store::IDEMPOTENCY_TTL_SECONDS,
            jobs: crate::queue::JobQueue::default(),
            webhook_addresses: Default::default(),
            webhook_queue: Default::default(),
            clock: crate::model::Clock::default(),
            files: None,
            attachment_max_bytes: crate::attachments::MaxBytes::default(),
        }
    }

    /// The context an entry point serves with: every setting from `config` and where its
    /// commits are pushed, built once, complete.
    pub fn configured(
        store: Store,
        secret: &Secret,
        config: &crate::config::Config,
        queues: crate::queue::Queues,
    ) -> Self {
        let store = store.with_feed_horizon(config.feed_horizon());
        Self {
            engineer_capacity: config.engineer_capacity,
            publisher: queues.events,
            jobs: queues.jobs,
            webhook_addresses: (&config.webhooks).into(),
            webhook_queue: queues.webhooks,
            attachment_max_bytes: crate::attachments::files::Settings::from_config(config)
                .map(|s| s.max_bytes)
                .unwrap_or_default(),
            ..Self::new(store, secret, config.token_ttl_seconds, config.bcrypt_cost)
        }
    }

    /// Where this context's ticket changes are written and pushed.
    pub fn writer(&self) -> transition::Writer<'_> {
        transition::Writer {
            store: &self.store,
            capacity: self.engineer_capacity,
            events: &self.publisher,
            jobs: &self.jobs,
        }
    }

    pub fn decode_cursor(
        &self,
        token: Option<&str>,
        scope: &str,
    ) -> Result<Option<String>, ApiError> {
        match token {
            None => Ok(None),
            Some(t) => self.cursors.decode(t, scope).map(Some).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidNextToken,
                    "nextToken is not valid for this listing.",
                )
            }),
        }
    }

    pub fn encode_cursor(
        &self,
        after: Option<String>,
        scope: &str,
    ) -> Result<Option<String>, ApiError> {
        after
            .map(|a| self.cursors.encode(&a, scope).map_err(ApiError::internal))
            .transpose()
    }
}

/// The caller of a request whose token verified (`http::authenticate`): who it claims to be.
/// Whether that user may still act is checked against the store (`active`).
#[derive(Debug, Clone)]
pub struct Authed {
    pub id: UserId,
    pub claims: Claims,
}

impl Authed {
    /// Whether the token says the user was an admin when it was issued (a planning hint only).
    pub fn hints_admin(&self) -> bool {
        self.claims.user_type == Some(crate::model::UserType::Admin)
    }

    /// The caller as stored now: the token must be of the user's current generation (else
    /// 401 `TOKEN_REVOKED`), and the user must exist and be APPROVED (else 403).
    pub fn active(&self, user: Option<UserRecord>) -> Result<UserRecord, ApiError> {
        match user {
            None => Err(ApiError::user_gone()),
            Some(u) if u.token_generation != self.claims.generation => {
                Err(crate::auth::TokenError::Revoked.into())
            }
            Some(u) if u.user_status != UserStatus::Approved => {
                Err(ApiError::not_approved(u.user_status))
            }
            Some(u) => Ok(u),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::DynamoBackend;

    /// A context whose store is never reached (a DynamoDB client with no endpoint behind it).
    pub(crate) fn ctx() -> Ctx {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        Ctx::new(
            Store::dynamo(DynamoBackend::new(client, "unused")),
            &Secret::new("a-test-secret-of-at-least-32-bytes!!"),
            3600,
            4,
        )
    }
}
