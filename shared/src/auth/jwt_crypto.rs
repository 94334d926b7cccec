//! jsonwebtoken's cryptography: the HMAC algorithms on ring, through the crate's provider
//! interface. ring is the crypto rustls already links for every TLS connection, so a function
//! carries one crypto library; jsonwebtoken's own providers would add aws-lc or the RustCrypto
//! crates, with RSA, ECDSA and EdDSA code that a service signing HS256 never runs. Tokens
//! and cursors pin HS256 when they verify; HS384 and HS512 are here so that a token signed
//! with them is refused by that pin (and can be made in tests), not by a missing algorithm.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;

struct Hmac {
    algorithm: Algorithm,
    key: hmac::Key,
}

impl Hmac {
    fn new(algorithm: Algorithm, family: AlgorithmFamily, secret: &[u8]) -> Result<Self> {
        let ring_algorithm = match algorithm {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return Err(ErrorKind::InvalidAlgorithm.into()),
        };
        if family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        Ok(Self {
            algorithm,
            key: hmac::Key::new(ring_algorithm, secret),
        })
    }
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.key, msg).as_ref().to_vec())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl Verifier<Vec<u8>> for Hmac {
    /// Constant-time comparison (ring's `hmac::verify`).
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        hmac::verify(&self.key, msg, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(Hmac::new(
        *algorithm,
        key.family(),
        key.as_bytes(),
    )?))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hmac::new(
        *algorithm,
        key.family(),
        key.try_get_as_bytes()?,
    )?))
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    // JWK processing (RSA and EC key components, thumbprints) is never used here.
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this jsonwebtoken's provider for the process. Idempotent; called wherever keys are
/// built (`TokenKeys::new`, `CursorCodec::new`), before any token is signed or checked. Code
/// that calls jsonwebtoken directly (tests minting tokens) calls it first.
pub fn install() {
    // Err only means a provider is already installed: ours, from an earlier call.
    let _ = PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation};
    use serde_json::{Value, json};

    #[test]
    fn signs_and_verifies_each_hmac_algorithm_and_nothing_else() {
        install();
        let claims = json!({"sub": "a", "exp": 4_000_000_000u64});
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let t = jsonwebtoken::encode(
                &Header::new(algorithm),
                &claims,
                &EncodingKey::from_secret(b"k"),
            )
            .unwrap();
            let ok = jsonwebtoken::decode::<Value>(
                &t,
                &DecodingKey::from_secret(b"k"),
                &Validation::new(algorithm),
            );
            assert_eq!(ok.unwrap().claims, claims, "{algorithm:?}");
            let wrong_key = jsonwebtoken::decode::<Value>(
                &t,
                &DecodingKey::from_secret(b"K"),
                &Validation::new(algorithm),
            );
            assert_eq!(
                wrong_key.unwrap_err().kind(),
                &ErrorKind::InvalidSignature,
                "{algorithm:?}"
            );
        }
        let rs = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_secret(b"k"),
        );
        assert_eq!(rs.unwrap_err().kind(), &ErrorKind::InvalidAlgorithm);
    }

    /// The signature is RFC 4231's HMAC-SHA-256 of the signing input, byte for byte (test
    /// case 2: key "Jefe"), so the provider is the standard algorithm and not merely
    /// self-consistent.
    #[test]
    fn hs256_is_rfc_4231_hmac_sha256() {
        let s = Hmac::new(Algorithm::HS256, AlgorithmFamily::Hmac, b"Jefe").unwrap();
        let tag = s.try_sign(b"what do ya want for nothing?").unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
