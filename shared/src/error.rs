//! One error type for every endpoint, mapped once to a status, a stable machine-readable
//! `code` and a client message. Internal detail is kept for the log and never rendered.

use crate::model::Invalid;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
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
    fn new(status: u16, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            internal: None,
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(400, "VALIDATION_FAILED", message)
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, code, message)
    }

    pub fn malformed_json(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "MALFORMED_JSON", detail)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            413,
            "PAYLOAD_TOO_LARGE",
            "Request body must be at most 64 KiB.",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Request body must be JSON (Content-Type: application/json).",
        )
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(401, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(403, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(404, code, message)
    }

    /// The exact body for unknown routes and methods.
    pub fn no_route() -> Self {
        Self::new(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(409, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(422, code, message)
    }

    pub fn too_many_requests(retry_after: u64, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(429, "TOO_MANY_REQUESTS", message)
        }
    }

    /// A dependency is down or too slow: the client may retry.
    pub fn unavailable(internal: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            internal: Some(internal.into()),
            ..Self::new(
                503,
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable. Please retry.",
            )
        }
    }

    /// An unexpected failure: the client sees a generic message, the log sees `internal`.
    pub fn internal(internal: impl Into<String>) -> Self {
        Self {
            internal: Some(internal.into()),
            ..Self::new(500, "INTERNAL_ERROR", "Internal server error.")
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
