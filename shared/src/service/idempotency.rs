//! `Idempotency-Key` for creations (SPEC §3): the caller's record of a key is read beside a
//! creation's other reads and written in its transaction (`Transition::remembered`), so a
//! retry replays the original answer and another request under the key is `422`.

use super::{Authed, Ctx};
use crate::ApiError;
use crate::error::ErrorCode;
use crate::model::{IdempotencyKey, Timestamp};
use crate::store::{IdempotencyRecord, StoreError};
use serde_json::Value;

/// What a creation with an `Idempotency-Key` answers: a new item, or the original answer to
/// the same request again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    New(T),
    /// `location`: the original answer's resource path under the API's base path (or, in
    /// records written before that, the whole path).
    Replayed {
        data: T,
        location: String,
    },
}

impl<T> Created<T> {
    pub fn into_inner(self) -> T {
        match self {
            Created::New(t) | Created::Replayed { data: t, .. } => t,
        }
    }
}

/// The caller's record of `key`, if the key was given and used before (and not expired).
pub(super) async fn recorded(
    ctx: &Ctx,
    who: &Authed,
    key: Option<&IdempotencyKey>,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    match key {
        Some(k) => {
            ctx.store
                .get_idempotency(&who.id, k, Timestamp::now())
                .await
        }
        None => Ok(None),
    }
}

/// The request as parsed, hashed: what a reused key is compared on.
pub(super) fn fingerprint(request: &Value) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(request.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The original answer for the same request, or 422 for another request under the key.
pub(super) fn replay<T: serde::de::DeserializeOwned>(
    r: IdempotencyRecord,
    fingerprint: &str,
) -> Result<Created<T>, ApiError> {
    if r.fingerprint != fingerprint {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request.",
        ));
    }
    let data = serde_json::from_value(r.data)
        .map_err(|e| ApiError::internal(format!("idempotency record: {e}")))?;
    Ok(Created::Replayed {
        data,
        location: r.location,
    })
}
