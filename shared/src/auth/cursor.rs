//! Pagination tokens (`nextToken`): opaque, signed with a key derived from the JWT secret,
//! and bound to the listing they came from, so a tampered, garbage or foreign token is
//! rejected (400) instead of silently starting somewhere else.

use crate::config::Secret;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct CursorClaims {
    /// The sort key of the last item returned: the next page starts after it.
    a: String,
    /// Fingerprint of the listing (route, caller, filters) the token belongs to.
    q: String,
}

#[derive(Clone)]
pub struct CursorCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// FNV-1a, 64-bit: a stable fingerprint of the listing's scope (integrity comes from the
/// signature, not from this hash).
fn fingerprint(scope: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scope.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl CursorCodec {
    pub fn new(secret: &Secret) -> Self {
        super::jwt_crypto::install();
        let key = format!("{}\u{0}crm-cursor-v1", secret.expose());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Self {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            validation,
        }
    }

    pub fn encode(&self, after: &str, scope: &str) -> Result<String, String> {
        let claims = CursorClaims {
            a: after.to_owned(),
            q: fingerprint(scope),
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cursor signing failed: {e}"))?;
        // The header is always the same: leave it out to keep tokens short.
        Ok(t.split_once('.')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or(t))
    }

    /// The sort key to continue after, if `token` is one of ours for this `scope`.
    pub fn decode(&self, token: &str, scope: &str) -> Option<String> {
        if token.len() > 2048 || token.matches('.').count() != 1 {
            return None;
        }
        let full = format!("{}.{token}", Self::header());
        let data =
            jsonwebtoken::decode::<CursorClaims>(&full, &self.decoding, &self.validation).ok()?;
        (data.claims.q == fingerprint(scope)).then_some(data.claims.a)
    }

    fn header() -> &'static str {
        // base64url of {"typ":"JWT","alg":"HS256"}, the header `encode` writes.
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(&Secret::new("s".repeat(40)))
    }

    #[test]
    fn round_trips_within_its_scope() {
        let c = codec();
        let t = c
            .encode("01J0000000000000000000000Z", "tickets|bob|status=OPEN")
            .unwrap();
        assert_eq!(
            c.decode(&t, "tickets|bob|status=OPEN").as_deref(),
            Some("01J0000000000000000000000Z")
        );
    }

    #[test]
    fn header_constant_matches_what_encode_writes() {
        crate::auth::jwt_crypto::install();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &CursorClaims {
                a: "x".into(),
                q: "y".into(),
            },
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(t.split('.').next().unwrap(), CursorCodec::header());
    }

    #[test]
    fn rejects_other_scope_garbage_and_tampering() {
        let c = codec();
        let t = c.encode("A", "users|admin|").unwrap();
        assert_eq!(c.decode(&t, "users|admin|userType=ENGINEER"), None);
        assert_eq!(c.decode("garbage", "users|admin|"), None);
        assert_eq!(c.decode("", "users|admin|"), None);
        let (body, sig) = t.split_once('.').unwrap();
        let mut flipped = body.as_bytes().to_vec();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{}.{sig}", String::from_utf8(flipped).unwrap());
        assert_eq!(c.decode(&tampered, "users|admin|"), None);
        let other = CursorCodec::new(&Secret::new("t".repeat(40)));
        assert_eq!(other.decode(&t, "users|admin|"), None);
    }
}
