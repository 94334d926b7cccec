//! The presigned POST of an upload (SPEC §13): a POST policy that admits exactly one object,
//! of this key, size and content type, until it expires, signed with SigV4. The Rust SDK
//! presigns PUT and GET but has no POST-policy builder, so the document and its signature are
//! written here, after S3's documentation: "POST Policy" (creating one: expiration and
//! conditions, https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)
//! and "Calculating a Signature"
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html): the
//! string to sign is the base64 of the policy's UTF-8 bytes, the signature its hex
//! HMAC-SHA256 under the SigV4 signing key. The test reproduces the signature of the
//! documentation's worked example.

use super::content::{AttachmentSize, ContentType};
use super::location::BucketAddress;
use super::sigv4;
use crate::model::Timestamp;
use aws_credential_types::Credentials;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::json;
use std::time::Duration;

/// What one upload may be.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The object key, exactly (one of ours: `super::object_key`).
    pub key: &'a str,
    pub size: AttachmentSize,
    pub content_type: &'a ContentType,
    /// How long the grant holds (`super::UPLOAD_TTL`).
    pub ttl: Duration,
}

/// A form the client posts to `url` as `multipart/form-data`: every field, then the file last
/// (S3: "the file or text content must be the last field in the form").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresignedPost {
    pub url: String,
    pub fields: FormFields,
    /// When the policy expires (the response's `expiresAt`).
    #[serde(skip)]
    pub expires_at: Timestamp,
}

/// The form's fields in the order they are made; serialized as one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormFields(pub Vec<(&'static str, String)>);

impl FormFields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for FormFields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The presigned POST for `upload` into `bucket`, signed with `credentials` at `now`. With a
/// session token (always so in Lambda) the policy requires it and the form carries it.
///
/// The policy's conditions: the bucket; the key, exactly; `content-length-range` from the size
/// to the size; the `Content-Type`, exactly; and the signature's own `x-amz-algorithm`,
/// `x-amz-credential`, `x-amz-date` (and `x-amz-security-token`), as S3 requires of a SigV4
/// POST policy. Every form field but `policy` and `x-amz-signature` has its condition, as S3
/// requires of each field in the form.
pub fn presign_post(
    bucket: &BucketAddress,
    credentials: &Credentials,
    upload: &Upload<'_>,
    now: Timestamp,
) -> PresignedPost {
    let ttl_seconds = i64::try_from(upload.ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = now.plus_seconds(ttl_seconds);
    let credential = sigv4::credential(credentials.access_key_id(), now, bucket.region());
    let date = sigv4::amz_date(now);
    let size = upload.size.bytes();

    let mut conditions = vec![
        json!({"bucket": bucket.bucket().as_str()}),
        json!(["eq", "$key", upload.key]),
        json!(["content-length-range", size, size]),
        json!(["eq", "$Content-Type", upload.content_type.as_str()]),
        json!({"x-amz-algorithm": sigv4::ALGORITHM}),
        json!({"x-amz-credential": credential}),
        json!({"x-amz-date": date}),
    ];
    if let Some(token) = credentials.session_token() {
        conditions.push(json!({"x-amz-security-token": token}));
    }
    let policy = json!({
        "expiration": expires_at.rfc3339(),
        "conditions": conditions,
    });
    let policy = BASE64.encode(policy.to_string());
    let signature = sigv4::signature(
        credentials.secret_access_key(),
        now,
        bucket.region(),
        &policy,
    );

    let mut fields = vec![
        ("key", upload.key.to_owned()),
        ("Content-Type", upload.content_type.as_str().to_owned()),
        ("x-amz-algorithm", sigv4::ALGORITHM.to_owned()),
        ("x-amz-credential", credential),
        ("x-amz-date", date),
    ];
    if let Some(token) = credentials.session_token() {
        fields.push(("x-amz-security-token", token.to_owned()));
    }
    fields.push(("policy", policy));
    fields.push(("x-amz-signature", signature));
    PresignedPost {
        url: bucket.bucket_url(),
        fields: FormFields(fields),
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachments::MaxBytes;
    use crate::attachments::location::{Bucket, Endpoint};
    use serde_json::Value;

    /// The worked example of the S3 documentation, "Example: Browser-Based Upload using HTTP
    /// POST (Using AWS Signature Version 4)",
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html: its policy
    /// (as the page gives it in base64, the StringToSign: CRLF line ends), its example
    /// credentials and the signature it states.
    const EXAMPLE_POLICY_BASE64: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EXAMPLE_SIGNATURE: &str =
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    /// 2015-12-29T00:00:00Z, the example's `x-amz-date`.
    fn example_day() -> Timestamp {
        Timestamp::from_millis(1_451_347_200_000)
    }

    #[test]
    fn reproduces_the_s3_documentation_example_signature() {
        assert_eq!(
            sigv4::signature(
                EXAMPLE_SECRET,
                example_day(),
                "us-east-1",
                EXAMPLE_POLICY_BASE64
            ),
            EXAMPLE_SIGNATURE
        );
        // The bytes signed are the policy the page shows, CRLF line ends included.
        let policy = String::from_utf8(BASE64.decode(EXAMPLE_POLICY_BASE64).unwrap()).unwrap();
        assert!(policy.starts_with("{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n"));
        assert!(policy.contains(
            "{\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"}"
        ));
    }

    fn address() -> BucketAddress {
        BucketAddress::new(
            Bucket::parse("sigv4examplebucket").unwrap(),
            "us-east-1",
            Endpoint::Aws,
        )
        .unwrap()
    }

    fn upload<'a>(content_type: &'a ContentType) -> Upload<'a> {
        Upload {
            key: "attachments/01J0000000000000000000000Z/01J0000000000000000000001Z",
            size: AttachmentSize::parse(5, MaxBytes::default()).unwrap(),
            content_type,
            ttl: crate::attachments::UPLOAD_TTL,
        }
    }

    fn decoded_policy(post: &PresignedPost) -> Value {
        let b64 = post.fields.get("policy").unwrap();
        serde_json::from_slice(&BASE64.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn the_policy_admits_one_object_of_this_key_size_and_type() {
        let png = ContentType::parse("image/png").unwrap();
        let creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", EXAMPLE_SECRET, None, None, "test");
        let now = example_day();
        let post = presign_post(&address(), &creds, &upload(&png), now);

        assert_eq!(
            post.url,
            "https://sigv4examplebucket.s3.us-east-1.amazonaws.com/"
        );
        assert_eq!(post.expires_at, now.plus_seconds(900));
        let names: Vec<&str> = post.fields.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "key",
                "Content-Type",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
        let key = upload(&png).key;
        assert_eq!(post.fields.get("key"), Some(key));
        assert_eq!(post.fields.get("Content-Type"), Some("image/png"));
        assert_eq!(post.fields.get("x-amz-date"), Some("20151229T000000Z"));
        assert_eq!(
            post.fields.get("x-amz-credential"),
            Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request")
        );
        assert_eq!(
            decoded_policy(&post),
            json!({
                "expiration": "2015-12-29T00:15:00.000Z",
                "conditions": [
                    {"bucket": "sigv4examplebucket"},
                    ["eq", "$key", key],
                    ["content-length-range", 5, 5],
                    ["eq", "$Content-Type", "image/png"],
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
                    {"x-amz-date": "20151229T000000Z"},
                ]
            })
        );
        // The signature is the example's scheme over the policy field as sent.
        assert_eq!(
            post.fields.get("x-amz-signature").unwrap(),
            sigv4::signature(
                EXAMPLE_SECRET,
                now,
                "us-east-1",
                post.fields.get("policy").unwrap()
            )
        );
        // And serializes as the API's `upload` object.
        let v = serde_json::to_value(&post).unwrap();
        assert_eq!(v["url"], post.url);
        assert_eq!(v["fields"]["Content-Type"], "image/png");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn session_credentials_are_required_by_the_policy_and_sent_in_the_form() {
        let pdf = ContentType::parse("application/pdf").unwrap();
        let creds = Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("IQoJb3JpZ2luX2VjE/token+with=chars".into()),
            None,
            "test",
        );
        let post = presign_post(&address(), &creds, &upload(&pdf), example_day());
        assert_eq!(
            post.fields.get("x-amz-security-token"),
            Some("IQoJb3JpZ2luX2VjE/token+with=chars")
        );
        let conditions = decoded_policy(&post)["conditions"].clone();
        assert!(
            conditions
                .as_array()
                .unwrap()
                .contains(&json!({"x-amz-security-token": "IQoJb3JpZ2luX2VjE/token+with=chars"}))
        );
        // The signature and policy come last, the file after them.
        let names: Vec<&str> = post.fields.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(names[names.len() - 2..], ["policy", "x-amz-signature"]);
    }

    #[test]
    fn an_emulator_takes_the_form_path_style() {
        let text = ContentType::parse("text/plain").unwrap();
        let moto = BucketAddress::new(
            Bucket::parse("crm-files").unwrap(),
            "us-east-1",
            Endpoint::parse_override("http://127.0.0.1:5000").unwrap(),
        )
        .unwrap();
        let creds = Credentials::new("testing", "testing", None, None, "test");
        let post = presign_post(&moto, &creds, &upload(&text), example_day());
        assert_eq!(post.url, "http://127.0.0.1:5000/crm-files");
        assert_eq!(
            decoded_policy(&post)["conditions"][0],
            json!({"bucket": "crm-files"})
        );
    }

    #[test]
    fn nothing_secret_reaches_debug_output() {
        let creds = Credentials::new("AKID", "very-secret-key", Some("tok".into()), None, "t");
        let png = ContentType::parse("image/png").unwrap();
        let post = presign_post(&address(), &creds, &upload(&png), example_day());
        assert!(!format!("{post:?}").contains("very-secret-key"));
        assert!(!format!("{creds:?}").contains("very-secret-key"));
    }
}
