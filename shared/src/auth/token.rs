//! Access tokens: HS256 JWTs with the seed's claims (`id` = userId, plus `sub`, `iat`, `exp`).
//! The algorithm is pinned, so `alg: none` or any other algorithm is rejected.

use crate::config::Secret;
use crate::model::{Timestamp, UserId, UserType};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The userId (the seed's claim name).
    pub id: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The user's type when the token was issued. Only a hint for planning reads; every
    /// request checks the user's current type and status in the store.
    #[serde(rename = "userType", default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserType>,
    /// The user's token generation when the token was issued: a password change, a reset or
    /// a sign-out moves the user's on, and older tokens are refused (`TOKEN_REVOKED`). Tokens
    /// from before generations existed count as generation 0.
    #[serde(default)]
    pub generation: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Invalid,
    Expired,
    /// Older than the user's token generation.
    Revoked,
    /// This token header was sent more than once (a 400 naming it, not a 401).
    Repeated(&'static str),
}

/// Signs and verifies access tokens; built once at init.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: u64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, ttl_seconds: u64) -> Self {
        super::jwt_crypto::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    /// A token of generation 0 (a user who never changed password nor signed out).
    pub fn issue(
        &self,
        user: &UserId,
        user_type: UserType,
        now: Timestamp,
    ) -> Result<String, String> {
        self.issue_generation(user, user_type, 0, now)
    }

    /// A token carrying the user's current token generation.
    pub fn issue_generation(
        &self,
        user: &UserId,
        user_type: UserType,
        generation: i64,
        now: Timestamp,
    ) -> Result<String, String> {
        let iat = now.seconds();
        let claims = Claims {
            id: user.as_str().to_owned(),
            sub: user.as_str().to_owned(),
            iat,
            exp: iat.saturating_add(self.ttl_seconds as i64),
            user_type: Some(user_type),
            generation,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("token signing failed: {e}"))
    }

    /// Verifies signature, algorithm and expiry; returns the claims of a good token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let c = data.claims;
        if c.id != c.sub
            || UserId::parse(&c.id)
                .map(|u| u.as_str() != c.id)
                .unwrap_or(true)
        {
            return Err(TokenError::Invalid);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Secret::new("k".repeat(40)), 3600)
    }

    fn admin() -> UserId {
        UserId::parse("admin").unwrap()
    }

    fn b64(s: &str) -> String {
        // URL-safe base64 without padding, enough for hand-made test tokens.
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn issued_token_verifies_with_seed_claims() {
        let k = keys();
        let now = Timestamp::now();
        let t = k.issue(&admin(), UserType::Admin, now).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!(c.id, "admin");
        assert_eq!(c.sub, "admin");
        assert_eq!(c.exp - c.iat, 3600);
        assert_eq!(c.user_type, Some(UserType::Admin));
        let header = t.split('.').next().unwrap();
        assert_eq!(header, b64(r#"{"typ":"JWT","alg":"HS256"}"#));
    }

    #[test]
    fn expired_token_is_token_expired() {
        let k = keys();
        let old = Timestamp::now().plus_seconds(-7200);
        let t = k.issue(&admin(), UserType::Admin, old).unwrap();
        assert_eq!(k.verify(&t), Err(TokenError::Expired));
    }

    #[test]
    fn wrong_secret_is_invalid() {
        let t = keys()
            .issue(&admin(), UserType::Admin, Timestamp::now())
            .unwrap();
        let other = TokenKeys::new(&Secret::new("z".repeat(40)), 3600);
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
    }

    #[test]
    fn tampered_payload_is_invalid() {
        let k = keys();
        let t = k
            .issue(&admin(), UserType::Customer, Timestamp::now())
            .unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let now = Timestamp::now().seconds();
        let forged = b64(&format!(
            r#"{{"id":"root","sub":"root","iat":{now},"exp":{}}}"#,
            now + 100
        ));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(k.verify(&tampered), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_is_invalid() {
        let now = Timestamp::now().seconds();
        let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
        let body = b64(&format!(
            r#"{{"id":"admin","sub":"admin","iat":{now},"exp":{}}}"#,
            now + 100
        ));
        for t in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert_eq!(keys().verify(&t), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn other_hmac_algorithm_is_invalid() {
        crate::auth::jwt_crypto::install();
        let k = Secret::new("k".repeat(40));
        let now = Timestamp::now().seconds();
        let claims = Claims {
            id: "admin".into(),
            sub: "admin".into(),
            iat: now,
            exp: now + 100,
            user_type: None,
            generation: 0,
        };
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(k.expose().as_bytes()),
        )
        .unwrap();
        assert_eq!(
            TokenKeys::new(&k, 3600).verify(&t),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for t in ["", "abc", "a.b.c", "....", "eyJ.eyJ.sig"] {
            assert_eq!(keys().verify(t), Err(TokenError::Invalid), "{t:?}");
        }
    }
}
