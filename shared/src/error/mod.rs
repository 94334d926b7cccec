//! One error type for every endpoint, mapped once to a status, a stable machine-readable
//! `code` and a client message. Internal detail is kept for the log and never rendered.
//! `mapping` turns every lower layer's refusal into one; `http` renders them.

mod mapping;

use std::borrow::Cow;

/// Declares the error catalogue: each code once, with the status it is always sent with.
macro_rules! catalogue {
    ($($(#[$doc:meta])* $name:ident = $text:literal, $status:literal;)*) => {
        /// Every `code` the API can answer (docs/openapi.yaml's `ErrorCode` lists exactly
        /// these; tests/tests/deploy/openapi.rs iterates [`ErrorCode::ALL`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The stable, machine-readable text sent as `code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)*
                }
            }

            /// The HTTP status this code is always sent with.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$name => $status,)*
                }
            }
        }
    };
}

catalogue! {
    /// A field of the body, path or query is missing or invalid (`field` names it).
    ValidationFailed = "VALIDATION_FAILED", 400;
    MalformedJson = "MALFORMED_JSON", 400;
    /// A query parameter is repeated or out of range.
    InvalidQuery = "INVALID_QUERY", 400;
    InvalidNextToken = "INVALID_NEXT_TOKEN", 400;
    /// The change feed's `after` is not a cursor this deployment issued.
    InvalidCursor = "INVALID_CURSOR", 400;
    AdminSignupNotAllowed = "ADMIN_SIGNUP_NOT_ALLOWED", 400;
    StatusAndAssignee = "STATUS_AND_ASSIGNEE", 400;
    /// The request is not HTTP the server can read (a character HTTP does not allow in a
    /// header, say); `crm serve` only, behind API Gateway the gateway answers.
    MalformedRequest = "MALFORMED_REQUEST", 400;
    NoToken = "NO_TOKEN", 401;
    InvalidToken = "INVALID_TOKEN", 401;
    TokenExpired = "TOKEN_EXPIRED", 401;
    TokenRevoked = "TOKEN_REVOKED", 401;
    InvalidCredentials = "INVALID_CREDENTIALS", 401;
    Forbidden = "FORBIDDEN", 403;
    UserNotApproved = "USER_NOT_APPROVED", 403;
    UserNotActive = "USER_NOT_ACTIVE", 403;
    WrongPassword = "WRONG_PASSWORD", 403;
    /// SPEC §1's unknown path or method.
    NotFound = "NOT_FOUND", 404;
    UserNotFound = "USER_NOT_FOUND", 404;
    TicketNotFound = "TICKET_NOT_FOUND", 404;
    /// The userId is not among the ticket's followers (SPEC §11).
    FollowerNotFound = "FOLLOWER_NOT_FOUND", 404;
    /// No webhook subscription has this id (SPEC §7).
    WebhookNotFound = "WEBHOOK_NOT_FOUND", 404;
    /// The subscription has no delivery with this id.
    DeliveryNotFound = "DELIVERY_NOT_FOUND", 404;
    /// The ticket has no linked attachment with this id (SPEC §13).
    AttachmentNotFound = "ATTACHMENT_NOT_FOUND", 404;
    UserIdTaken = "USER_ID_TAKEN", 409;
    EmailTaken = "EMAIL_TAKEN", 409;
    LastAdmin = "LAST_ADMIN", 409;
    /// The ticket has its 20 followers already (SPEC §11).
    FollowerLimit = "FOLLOWER_LIMIT", 409;
    /// SPEC §7: at most 20 webhook subscriptions.
    WebhookLimit = "WEBHOOK_LIMIT", 409;
    /// SPEC §12: only a CLOSED ticket is rated.
    TicketNotClosed = "TICKET_NOT_CLOSED", 409;
    /// SPEC §12: a rating is given or replaced up to 28 days after the ticket was closed.
    RatingWindowClosed = "RATING_WINDOW_CLOSED", 409;
    /// SPEC §12: a ticket is not merged into itself.
    MergeIntoItself = "MERGE_INTO_ITSELF", 409;
    /// SPEC §12: a merged ticket is neither merged again nor merged into.
    TicketMerged = "TICKET_MERGED", 409;
    /// A concurrent change won; the client may re-read and retry.
    Conflict = "CONFLICT", 409;
    /// The change feed's `after` or `since` is older than its 30-day retention: events after
    /// it may be gone.
    CursorExpired = "CURSOR_EXPIRED", 410;
    /// The request's body did not arrive in time (`crm serve`).
    RequestTimeout = "REQUEST_TIMEOUT", 408;
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413;
    /// The request's URI is longer than the server reads (`crm serve`: 65,534 bytes).
    UriTooLong = "URI_TOO_LONG", 414;
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", 415;
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", 422;
    /// The request's head is larger than the server reads (`crm serve`).
    HeadersTooLarge = "HEADERS_TOO_LARGE", 431;
    TooManyRequests = "TOO_MANY_REQUESTS", 429;
    /// Sign-in: the window's password checks are all in flight; retry in a moment.
    SigninBusy = "SIGNIN_BUSY", 429;
    InternalError = "INTERNAL_ERROR", 500;
    ServiceUnavailable = "SERVICE_UNAVAILABLE", 503;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// The input field at fault, for 400s.
    pub field: Option<&'static str>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
    /// What went wrong inside, for the log only.
    pub internal: Option<String>,
}

/// SPEC §1's body for unknown paths and methods, word for word.
pub const NOT_FOUND_MESSAGE: &str = "The requested endpoint doesn't exists.";

impl ApiError {
    /// An error with `code` (which fixes the status) and the client's message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            internal: None,
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn invalid(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(ErrorCode::ValidationFailed, message)
        }
    }

    pub fn malformed_json(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::MalformedJson, detail)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            "Request body must be at most 64 KiB.",
        )
    }

    /// A request body that stopped arriving: `seconds` passed before it was whole.
    pub fn request_timeout(seconds: u64) -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            format!("The request body did not arrive within {seconds} s."),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            ErrorCode::UnsupportedMediaType,
            "Request body must be JSON (Content-Type: application/json).",
        )
    }

    /// The exact body for unknown routes and methods.
    pub fn no_route() -> Self {
        Self::new(ErrorCode::NotFound, NOT_FOUND_MESSAGE)
    }

    pub fn user_not_found() -> Self {
        Self::new(ErrorCode::UserNotFound, "No user with this userId.")
    }

    pub fn ticket_not_found() -> Self {
        Self::new(ErrorCode::TicketNotFound, "No ticket with this id.")
    }

    /// A ticket's write kept losing to concurrent changes.
    pub fn ticket_changed() -> Self {
        Self::conflict("The ticket kept changing concurrently. Please retry.")
    }

    /// A concurrent change won and the caller should re-read and retry.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn too_many_requests(retry_after: u64, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorCode::TooManyRequests, message)
        }
    }

    /// A dependency is down or too slow: the client may retry.
    pub fn unavailable(internal: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            internal: Some(internal.into()),
            ..Self::new(
                ErrorCode::ServiceUnavailable,
                "The service is temporarily unavailable. Please retry.",
            )
        }
    }

    /// An unexpected failure: the client sees a generic message, the log sees `internal`.
    pub fn internal(internal: impl Into<String>) -> Self {
        Self {
            internal: Some(internal.into()),
            ..Self::new(ErrorCode::InternalError, "Internal server error.")
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error under another code (e.g. a query field's `VALIDATION_FAILED` sent as
    /// `INVALID_QUERY`), keeping the message and field.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
