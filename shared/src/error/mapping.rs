//! Where each lower layer's refusal becomes the API's answer (its code fixes the status; see
//! the catalogue in `error/mod.rs`): store failures, token problems, policy refusals, taken
//! ids, the sign-in window, input that does not parse. `http` renders these; nothing else
//! maps an error to an answer.

use super::{ApiError, ErrorCode};
use crate::auth::TokenError;
use crate::model::{Invalid, UserStatus};
use crate::policy::Denied;
use crate::store::{
    Attempt, CreateSubscriptionError, CreateUserError, FeedRefusal, FeedStart, MAX_SUBSCRIPTIONS,
    StoreError,
};
use crate::webhooks::address::UrlError;

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ApiError::unavailable(m),
            StoreError::Contention => ApiError::unavailable("transaction contention"),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Missing => ApiError::new(
                ErrorCode::NoToken,
                "No token provided. Send it in x-access-token or Authorization: Bearer.",
            ),
            TokenError::Invalid => ApiError::new(ErrorCode::InvalidToken, "Invalid token."),
            TokenError::Expired => ApiError::new(ErrorCode::TokenExpired, "Token has expired."),
            TokenError::Revoked => ApiError::new(
                ErrorCode::TokenRevoked,
                "Token was revoked by a password change or a sign-out. Sign in again.",
            ),
            TokenError::Repeated(header) => ApiError::repeated_header(header),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UserIdTaken => {
                ApiError::new(ErrorCode::UserIdTaken, "This userId is already taken.")
            }
            CreateUserError::EmailTaken => {
                ApiError::new(ErrorCode::EmailTaken, "This email is already registered.")
            }
            CreateUserError::Store(e) => e.into(),
        }
    }
}

/// SPEC §7: a twenty-first subscription is refused (409), whatever the concurrency.
impl From<CreateSubscriptionError> for ApiError {
    fn from(e: CreateSubscriptionError) -> Self {
        match e {
            CreateSubscriptionError::Limit => ApiError::new(
                ErrorCode::WebhookLimit,
                format!("At most {MAX_SUBSCRIPTIONS} webhook subscriptions; delete one first."),
            ),
            CreateSubscriptionError::Store(e) => e.into(),
        }
    }
}

/// A policy refusal is a 403 saying which rule refused.
impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        let message = match d {
            Denied::AdminOnly => "Access Forbidden. Only an approved ADMIN may do this.",
            Denied::AdminOrSelf => {
                "Access Forbidden. Only an approved ADMIN or the user themself may do this."
            }
            Denied::StatusChangeAdminOnly => {
                "Access Forbidden. Only an approved ADMIN may change userStatus."
            }
            Denied::NotConcerned => {
                "Access Forbidden. The ticket is not reported by, assigned to or followed by you."
            }
            Denied::ReassignAdminOnly => {
                "Access Forbidden. Admin is only allowed to reassign a ticket."
            }
            Denied::InternalNoteStaffOnly => {
                "Access Forbidden. Only an ENGINEER or ADMIN may write an internal note."
            }
            Denied::FollowerReadsOnly => {
                "Access Forbidden. A follower may read and comment on the ticket, not change it."
            }
            Denied::TagsStaffOnly => "Access Forbidden. Only an ENGINEER or ADMIN may set tags.",
            Denied::FollowersReporterOrStaff => {
                "Access Forbidden. Only the reporter, or an ENGINEER or ADMIN concerned with the ticket, may change its followers."
            }
            Denied::StaffOnly => {
                "Access Forbidden. Only an approved ENGINEER or ADMIN may do this."
            }
            Denied::ReporterRatesOnly => {
                "Access Forbidden. Only the ticket's reporter may rate it."
            }
            Denied::MergeAdminOrAssignee => {
                "Access Forbidden. Only an approved ADMIN, or an ENGINEER assigned to both tickets, may merge them."
            }
        };
        ApiError::new(ErrorCode::Forbidden, message)
    }
}

/// The change feed's refusals (SPEC §8): a bad start is a 400, one past the retention a 410.
impl From<FeedRefusal> for ApiError {
    fn from(r: FeedRefusal) -> Self {
        match r {
            FeedRefusal::AfterAndSince => ApiError::invalid(
                "since",
                "Give either after (a cursor) or since (a time), not both.",
            )
            .with_code(ErrorCode::InvalidQuery),
            FeedRefusal::NotACursor => {
                ApiError::invalid("after", "after is not a cursor of this change feed.")
                    .with_code(ErrorCode::InvalidCursor)
            }
            FeedRefusal::Expired(start) => {
                let what = match start {
                    FeedStart::Cursor => "This cursor",
                    FeedStart::Since => "since",
                };
                ApiError::new(
                    ErrorCode::CursorExpired,
                    format!(
                        "{what} is older than the change feed's 30-day retention: events after it may be gone. Start again without after or since (from the oldest event kept)."
                    ),
                )
            }
        }
    }
}

impl From<UrlError> for ApiError {
    fn from(e: UrlError) -> Self {
        ApiError::invalid("url", e.to_string())
    }
}

impl ApiError {
    /// The answer to a sign-in that may not check a password now: the userId is locked (its
    /// window holds the limit of failures), or the window's checks are all in flight (no
    /// failure yet: a short wait, a code of its own). None when the check is reserved.
    pub fn refused_signin(attempt: Attempt) -> Option<Self> {
        match attempt {
            Attempt::Reserved => None,
            Attempt::Locked { retry_after } => Some(Self::too_many_requests(
                retry_after,
                "Too many failed sign-ins for this userId. Try again later.",
            )),
            Attempt::Busy { retry_after } => Some(
                Self::too_many_requests(
                    retry_after,
                    "Other sign-ins for this userId are being checked. Retry in a moment.",
                )
                .with_code(ErrorCode::SigninBusy),
            ),
        }
    }

    /// A sign-in whose userId or password is wrong (the same answer for both).
    pub fn bad_credentials() -> Self {
        Self::new(ErrorCode::InvalidCredentials, "Invalid userId or password.")
    }

    /// A password change that lost to another one.
    pub fn password_changed_concurrently() -> Self {
        Self::conflict("The password was changed concurrently. Sign in again.")
    }

    /// A user who may not act (sign in, or use a token) in this status.
    pub fn not_approved(status: UserStatus) -> Self {
        Self::new(
            ErrorCode::UserNotApproved,
            format!("UserStatus is not approved yet. Current userStatus is - {status}"),
        )
    }

    /// A token whose user no longer exists.
    pub fn user_gone() -> Self {
        Self::new(
            ErrorCode::UserNotActive,
            "The user of this token no longer exists.",
        )
    }

    /// No webhook subscription has this id.
    pub fn webhook_not_found() -> Self {
        Self::new(
            ErrorCode::WebhookNotFound,
            "No webhook subscription with this id.",
        )
    }

    /// The subscription has no delivery with this id.
    pub fn delivery_not_found() -> Self {
        Self::new(
            ErrorCode::DeliveryNotFound,
            "This webhook subscription has no delivery with this id.",
        )
    }

    /// A header the API reads sent more than once (the API never guesses which was meant).
    pub fn repeated_header(name: &'static str) -> Self {
        Self::invalid(name, format!("{name} must be sent at most once."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_keeps_its_code_and_status() {
        let cases: [(ApiError, ErrorCode, u16); 17] = [
            (TokenError::Missing.into(), ErrorCode::NoToken, 401),
            (TokenError::Revoked.into(), ErrorCode::TokenRevoked, 401),
            (
                TokenError::Repeated("Authorization").into(),
                ErrorCode::ValidationFailed,
                400,
            ),
            (Denied::NotConcerned.into(), ErrorCode::Forbidden, 403),
            (
                CreateUserError::EmailTaken.into(),
                ErrorCode::EmailTaken,
                409,
            ),
            (
                StoreError::Contention.into(),
                ErrorCode::ServiceUnavailable,
                503,
            ),
            (
                StoreError::Internal("x".into()).into(),
                ErrorCode::InternalError,
                500,
            ),
            (UrlError::NotHttps.into(), ErrorCode::ValidationFailed, 400),
            (
                CreateSubscriptionError::Limit.into(),
                ErrorCode::WebhookLimit,
                409,
            ),
            (
                ApiError::webhook_not_found(),
                ErrorCode::WebhookNotFound,
                404,
            ),
            (
                ApiError::delivery_not_found(),
                ErrorCode::DeliveryNotFound,
                404,
            ),
            (
                ApiError::refused_signin(Attempt::Busy { retry_after: 1 }).unwrap(),
                ErrorCode::SigninBusy,
                429,
            ),
            (ApiError::user_gone(), ErrorCode::UserNotActive, 403),
            (
                FeedRefusal::AfterAndSince.into(),
                ErrorCode::InvalidQuery,
                400,
            ),
            (
                FeedRefusal::NotACursor.into(),
                ErrorCode::InvalidCursor,
                400,
            ),
            (
                FeedRefusal::Expired(FeedStart::Cursor).into(),
                ErrorCode::CursorExpired,
                410,
            ),
            (
                FeedRefusal::Expired(FeedStart::Since).into(),
                ErrorCode::CursorExpired,
                410,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.code, e.status()), (code, status), "{e}");
        }
        let e = ApiError::from(TokenError::Repeated("Authorization"));
        assert_eq!(e.field, Some("Authorization"));
        assert_eq!(ApiError::from(UrlError::NotHttps).field, Some("url"));
        assert_eq!(ApiError::from(FeedRefusal::NotACursor).field, Some("after"));
        assert_eq!(
            ApiError::from(FeedRefusal::AfterAndSince).field,
            Some("since")
        );
        assert!(ApiError::refused_signin(Attempt::Reserved).is_none());
    }
}
