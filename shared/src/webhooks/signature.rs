//! Standard Webhooks v1 signatures (SPEC §7): the `whsec_` secret, HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` and the `webhook-signature` header, so a receiver
//! verifies our deliveries with any Standard Webhooks library.
//!
//! The scheme is the symmetric one of the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>, `spec/standard-webhooks.md` in
//! github.com/standard-webhooks/standard-webhooks: "Signature scheme" and "Webhook headers").

use crate::model::Timestamp;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use ring::hmac;
use std::fmt;
use std::time::Duration;

/// How a symmetric secret is presented (spec: "base64 encoded, prefixed with `whsec_`").
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret we make (SPEC §7).
pub const SECRET_LEN: usize = 32;
/// The key lengths the spec allows for a symmetric secret: "between 24 bytes (192 bits) and
/// 64 bytes (512 bits)". Parsing takes any of them (the spec's published test vector uses 24).
const KEY_LEN: std::ops::RangeInclusive<usize> = 24..=64;
/// Reads a secret's base64 with or without its padding, as the reference libraries do.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// An identifier this long is no event id of ours; it bounds the header too.
const MAX_ID_LEN: usize = 255;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// After a rotation the previous secret signs too, for this long (SPEC §7: 24 hours).
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// A subscription's signing secret: the decoded key bytes. Its `Debug` shows no byte of it and
/// it has no `Display`, so it cannot reach a log through formatting; [`Secret::reveal`] is the
/// one way to its text (for the create and rotate responses, and for storage).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

/// Why a stored secret's text was not taken. The text itself is never part of the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with {SECRET_PREFIX}")]
    Prefix,
    #[error("a webhook secret is base64 after its prefix")]
    Base64,
    #[error("a webhook secret holds 24 to 64 bytes, not {0}")]
    Length(usize),
}

impl Secret {
    /// A new secret of [`SECRET_LEN`] bytes from the thread's CSPRNG (rand's ChaCha12, seeded
    /// from the operating system).
    pub fn generate() -> Self {
        let bytes: [u8; SECRET_LEN] = rand::random();
        Self(bytes.to_vec())
    }

    /// Reads `whsec_<base64>` back to its bytes (base64 padded or not).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let bytes = BASE64_ANY_PADDING
            .decode(encoded)
            .map_err(|_| SecretError::Base64)?;
        if !KEY_LEN.contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The `whsec_…` text. Shown to the admin at creation and rotation only (SPEC §7) and
    /// stored; never logged.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256>` of one message (spec: "Signature scheme").
    fn sign(&self, content: &SignedContent<'_>) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(content.id.as_bytes());
        ctx.update(b".");
        ctx.update(content.timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(content.body);
        format!("v1,{}", BASE64.encode(ctx.sign().as_ref()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The secrets that sign a delivery: the current one, and during the [`ROTATION_OVERLAP`] after
/// a rotation the previous one too.
#[derive(Debug, Clone, Copy)]
pub struct Signers<'a> {
    pub current: &'a Secret,
    pub previous: Option<&'a Secret>,
}

impl<'a> Signers<'a> {
    /// The signers at `now` of a subscription whose secret was rotated at `rotated_at` (away
    /// from `previous`), per SPEC §7: both for 24 hours, then the current one alone.
    pub fn at(
        current: &'a Secret,
        previous: Option<(&'a Secret, Timestamp)>,
        now: Timestamp,
    ) -> Self {
        let previous = previous
            .filter(|(_, rotated_at)| previous_still_signs(*rotated_at, now))
            .map(|(secret, _)| secret);
        Self { current, previous }
    }
}

/// Whether the secret replaced at `rotated_at` still signs at `now`: during the 24 hours after
/// the rotation, end excluded. A rotation dated after `now` (a clock step back) keeps it.
pub fn previous_still_signs(rotated_at: Timestamp, now: Timestamp) -> bool {
    let overlap_ms = i64::try_from(ROTATION_OVERLAP.as_millis()).unwrap_or(i64::MAX);
    now.millis().saturating_sub(rotated_at.millis()) < overlap_ms
}

/// The three Standard Webhooks headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `webhook-id`: the event id, the same on every attempt.
    pub id: String,
    /// `webhook-timestamp`: Unix seconds of this attempt.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64>`, two of them space-separated during a rotation.
    pub signature: String,
}

impl WebhookHeaders {
    /// Name and value of each header, to put on the request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, &self.id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }
}

/// The message id was not one a Standard Webhooks message may carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a webhook id is 1 to {MAX_ID_LEN} visible ASCII characters without '.', got {len} characters"
)]
pub struct BadId {
    len: usize,
}

struct SignedContent<'a> {
    id: &'a str,
    timestamp: String,
    body: &'a [u8],
}

/// Signs `body` as event `id` for an attempt made at `at`, with each of `signers`.
///
/// The id goes into a header and into the signed content, where the spec asks that it hold no
/// `.` ("It's important that both the message id and the timestamp not be user controlled, or
/// at the very least not be allowed to include any `.`"), so it must be 1 to 255 visible ASCII
/// characters other than `.`; the timestamp is whole seconds, never with a `.`.
pub fn sign(
    signers: Signers<'_>,
    id: &str,
    at: Timestamp,
    body: &[u8],
) -> Result<WebhookHeaders, BadId> {
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.');
    if !id_ok {
        return Err(BadId {
            len: id.chars().count(),
        });
    }
    let content = SignedContent {
        id,
        timestamp: at.seconds().to_string(),
        body,
    };
    let mut signature = signers.current.sign(&content);
    if let Some(previous) = signers.previous {
        signature.push(' ');
        signature.push_str(&previous.sign(&content));
    }
    Ok(WebhookHeaders {
        id: id.to_owned(),
        timestamp: content.timestamp,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks libraries' shared test vector (libraries/go/webhook_test.go,
    /// `TestWebhookSign`; the same in the JavaScript, Java, PHP and C# suites).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_SECONDS: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at_seconds(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    fn alone(secret: &Secret) -> Signers<'_> {
        Signers {
            current: secret,
            previous: None,
        }
    }

    #[test]
    fn the_published_test_vector_signs_as_published() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let headers = sign(
            alone(&secret),
            VECTOR_ID,
            at_seconds(VECTOR_SECONDS),
            VECTOR_BODY,
        )
        .unwrap();
        assert_eq!(headers.signature, VECTOR_SIGNATURE);
        assert_eq!(headers.id, VECTOR_ID);
        assert_eq!(headers.timestamp, "1614265330");
    }

    #[test]
    fn the_timestamp_is_whole_seconds_of_the_attempt() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let at = Timestamp::from_millis(VECTOR_SECONDS * 1000 + 999);
        let headers = sign(alone(&secret), VECTOR_ID, at, VECTOR_BODY).unwrap();
        assert_eq!(headers.timestamp, "1614265330");
        assert_eq!(headers.signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_current_first() {
        let old = Secret::parse(VECTOR_SECRET).unwrap();
        let new = Secret::generate();
        let signers = Signers {
            current: &new,
            previous: Some(&old),
        };
        let headers = sign(signers, VECTOR_ID, at_seconds(VECTOR_SECONDS), VECTOR_BODY).unwrap();
        let current = sign(
            alone(&new),
            VECTOR_ID,
            at_seconds(VECTOR_SECONDS),
            VECTOR_BODY,
        )
        .unwrap()
        .signature;
        assert_eq!(headers.signature, format!("{current} {VECTOR_SIGNATURE}"));
    }

    #[test]
    fn a_generated_secret_is_32_random_bytes_that_read_back() {
        let a = Secret::generate();
        let text = a.reveal();
        assert!(text.starts_with("whsec_"), "{text}");
        // 32 bytes are 44 base64 characters with one `=` of padding.
        assert_eq!(text.len(), "whsec_".len() + 44);
        let back = Secret::parse(&text).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.0.len(), SECRET_LEN);
        assert_ne!(Secret::generate(), a);
    }

    #[test]
    fn secrets_are_parsed_strictly() {
        let cases: &[(&str, Result<usize, SecretError>)] = &[
            (VECTOR_SECRET, Ok(24)),
            // Unpadded base64 of 32 bytes.
            ("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Ok(32)),
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Err(SecretError::Prefix)),
            ("whsec_", Err(SecretError::Length(0))),
            ("whsec_not*base64*at*all", Err(SecretError::Base64)),
            // 16 bytes: below the spec's 24.
            (
                "whsec_AAAAAAAAAAAAAAAAAAAAAA==",
                Err(SecretError::Length(16)),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&Secret::parse(text).map(|s| s.0.len()), want, "{text}");
        }
    }

    #[test]
    fn a_secret_does_not_show_in_debug_output() {
        let secret = Secret::generate();
        let shown = format!(
            "{secret:?} {:?}",
            Signers {
                current: &secret,
                previous: Some(&secret)
            }
        );
        let text = secret.reveal();
        assert!(!shown.contains(&text["whsec_".len()..]), "{shown}");
        assert!(!shown.contains("whsec_"), "{shown}");
    }

    #[test]
    fn ids_that_could_forge_the_signed_content_are_refused() {
        let secret = Secret::generate();
        let at = at_seconds(VECTOR_SECONDS);
        for bad in ["", "evt.1", "evt 1", "evt\n1", "évt", &"e".repeat(256)] {
            assert!(sign(alone(&secret), bad, at, b"{}").is_err(), "{bad:?}");
        }
        for good in ["evt_01JD0000000000000000000000", "e", &"e".repeat(255)] {
            assert!(sign(alone(&secret), good, at, b"{}").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn the_previous_secret_signs_for_24_hours_after_a_rotation() {
        let rotated = at_seconds(1_000_000);
        let day = 24 * 60 * 60;
        let cases = [
            (0, true),
            (1, true),
            (day - 1, true),
            (day, false),
            (day + 1, false),
            // A clock that stepped back: still within the overlap.
            (-60, true),
        ];
        let (current, previous) = (Secret::generate(), Secret::generate());
        for (after, signs) in cases {
            let now = at_seconds(1_000_000 + after);
            assert_eq!(previous_still_signs(rotated, now), signs, "{after} s after");
            let signers = Signers::at(&current, Some((&previous, rotated)), now);
            assert_eq!(signers.previous.is_some(), signs, "{after} s after");
        }
        assert!(
            Signers::at(&current, None, rotated).previous.is_none(),
            "never rotated"
        );
    }
}
