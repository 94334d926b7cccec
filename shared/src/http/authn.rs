//! Who a request is from: the token of `x-access-token` (the seed's header) or
//! `Authorization: Bearer`, each at most once, verified (401 when missing, bad or expired)
//! into the `Authed` caller the use cases take. Whether that user may still act is the use
//! case's check against the store.

use crate::ApiError;
use crate::auth::{TokenError, TokenKeys};
use crate::model::UserId;
use crate::service::Authed;
use http::HeaderMap;

/// The verified caller of a request.
pub fn authenticate(tokens: &TokenKeys, headers: &HeaderMap) -> Result<Authed, ApiError> {
    let token = bearer_token(headers)?;
    let claims = tokens.verify(token)?;
    let id = UserId::parse(&claims.id).map_err(|_| ApiError::from(TokenError::Invalid))?;
    Ok(Authed { id, claims })
}

/// The one value of a token header, if sent; twice is `Repeated` (which token was meant is
/// never guessed).
fn once<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a http::HeaderValue>, TokenError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(TokenError::Repeated(name)),
        None => Ok(first),
    }
}

/// The token from `x-access-token` (the seed's header) or `Authorization: Bearer <token>`,
/// each header at most once.
fn bearer_token(headers: &HeaderMap) -> Result<&str, TokenError> {
    let seeds = once(headers, "x-access-token")?;
    let authorization = once(headers, "Authorization")?;
    if let Some(v) = seeds {
        let t = v.to_str().map_err(|_| TokenError::Invalid)?.trim();
        return if t.is_empty() {
            Err(TokenError::Missing)
        } else {
            Ok(t)
        };
    }
    if let Some(v) = authorization {
        let v = v.to_str().map_err(|_| TokenError::Invalid)?.trim();
        let (scheme, rest) = v.split_once(' ').ok_or(TokenError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Invalid);
        }
        let t = rest.trim();
        return if t.is_empty() {
            Err(TokenError::Missing)
        } else {
            Ok(t)
        };
    }
    Err(TokenError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn token_comes_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), Err(TokenError::Missing));
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        assert_eq!(bearer_token(&h), Ok("abc.def.ghi"));
        h.insert("authorization", HeaderValue::from_static("bearer   xyz"));
        assert_eq!(bearer_token(&h), Ok("xyz"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        assert_eq!(bearer_token(&h), Err(TokenError::Invalid));
        h.insert("x-access-token", HeaderValue::from_static("tok"));
        assert_eq!(bearer_token(&h), Ok("tok"));
        h.insert("x-access-token", HeaderValue::from_static(""));
        assert_eq!(bearer_token(&h), Err(TokenError::Missing));
    }

    /// Issue 26 item 7: a token header sent twice is refused, naming it, even when both
    /// carry the same token.
    #[test]
    fn a_token_header_sent_twice_is_refused() {
        let mut h = HeaderMap::new();
        h.append("x-access-token", HeaderValue::from_static("tok"));
        h.append("x-access-token", HeaderValue::from_static("tok"));
        assert_eq!(
            bearer_token(&h),
            Err(TokenError::Repeated("x-access-token"))
        );
        let mut h = HeaderMap::new();
        h.append("authorization", HeaderValue::from_static("Bearer a"));
        h.append("authorization", HeaderValue::from_static("Bearer b"));
        assert_eq!(bearer_token(&h), Err(TokenError::Repeated("Authorization")));
    }
}
