//! Attachments' cloud path below HTTP (SPEC §13) on moto, behind the S3 stand-in that enforces
//! POST policies (`crm_tests::s3_policy`; moto 5.2.5 does not): our presigned POST, posted as
//! a browser would by a multipart client no one here wrote (reqwest's), stores exactly the
//! granted file; the signed HEAD sees it and the presigned GET returns its bytes as an
//! attachment of its type. A wrong size, a wrong type, an expired grant, a tampered signature
//! or policy, a missing session token or a field the policy does not cover stores nothing.

use aws_credential_types::Credentials;
use crm_shared::attachments::download::{Download, HeadClient, ObjectHead, presign_get};
use crm_shared::attachments::location::{Bucket, BucketAddress, Endpoint};
use crm_shared::attachments::post_policy::{PresignedPost, Upload, presign_post};
use crm_shared::attachments::{
    AttachmentId, AttachmentSize, ContentType, DOWNLOAD_TTL, FileName, MaxBytes, UPLOAD_TTL,
    content_disposition, object_key,
};
use crm_shared::model::{TicketId, Timestamp};
use crm_tests::s3_policy::{AccessKey, S3PolicyStandIn};

const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQ+token/with=chars";

fn keys() -> Vec<AccessKey> {
    vec![
        AccessKey {
            id: "testing".into(),
            secret: "testing".into(),
            session_token: None,
        },
        AccessKey {
            id: "ASIATESTSESSION".into(),
            secret: "session-secret".into(),
            session_token: Some(SESSION_TOKEN.into()),
        },
    ]
}

fn long_term() -> Credentials {
    Credentials::new("testing", "testing", None, None, "tests")
}

fn session() -> Credentials {
    Credentials::new(
        "ASIATESTSESSION",
        "session-secret",
        Some(SESSION_TOKEN.into()),
        None,
        "tests",
    )
}

/// A fresh bucket on moto, and its address through the stand-in.
struct Fixture {
    standin: S3PolicyStandIn,
    /// Through the stand-in.
    bucket: BucketAddress,
    /// moto itself.
    direct: BucketAddress,
    heads: HeadClient,
    http: reqwest::Client,
}

impl Fixture {
    async fn new() -> Self {
        let standin = S3PolicyStandIn::start(keys()).await;
        let name = crm_tests::unique("crm-attach").to_lowercase();
        let moto = crm_tests::emulator::endpoint();
        let http = reqwest::Client::new();
        // moto takes any signature; the header only names the account.
        let created = http
            .put(format!("{}/{name}", moto.trim_end_matches('/')))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send()
            .await
            .expect("creating the bucket");
        assert!(created.status().is_success(), "{}", created.status());
        let address = |endpoint: &str| {
            BucketAddress::new(
                Bucket::parse(&name).unwrap(),
                "us-east-1",
                Endpoint::parse_override(endpoint).unwrap(),
            )
            .unwrap()
        };
        Self {
            bucket: address(&standin.url),
            direct: address(&moto),
            standin,
            heads: HeadClient::for_function().expect("the HEAD client"),
            http,
        }
    }

    /// Posts the form as a browser does: every field, then the file.
    async fn post(&self, url: &str, fields: &[(&str, String)], file: &[u8]) -> (u16, String) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.clone());
        }
        let part = reqwest::multipart::Part::bytes(file.to_vec()).file_name("upload.bin");
        form = form.part("file", part);
        let resp = self
            .http
            .post(url)
            .multipart(form)
            .send()
            .await
            .expect("posting the form");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    async fn upload(&self, post: &PresignedPost, file: &[u8]) -> (u16, String) {
        let fields: Vec<(&str, String)> =
            post.fields.0.iter().map(|(k, v)| (*k, v.clone())).collect();
        self.post(&post.url, &fields, file).await
    }

    async fn head(&self, key: &str) -> Option<ObjectHead> {
        self.heads
            .head(&self.bucket, &long_term(), key, Timestamp::now())
            .await
            .expect("HEAD answered")
    }
}

fn new_key() -> String {
    object_key(&TicketId::new(), &AttachmentId::new())
}

fn grant<'a>(key: &'a str, size: u64, content_type: &'a ContentType) -> Upload<'a> {
    Upload {
        key,
        size: AttachmentSize::parse(size, MaxBytes::default()).unwrap(),
        content_type,
        ttl: UPLOAD_TTL,
    }
}

#[tokio::test]
async fn moto_alone_stores_what_the_policy_refuses() {
    // Why the stand-in exists: straight to moto, a 9-byte file passes a 5..5 policy.
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.direct,
        &long_term(),
        &grant(&key, 5, &text),
        Timestamp::now(),
    );
    let (status, _) = f.upload(&post, b"123456789").await;
    assert_eq!(status, 204);
    assert_eq!(f.head(&key).await.map(|h| h.size), Some(9));
}

#[tokio::test]
async fn an_upload_within_its_policy_is_stored_and_served_as_an_attachment() {
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain; charset=utf-8").unwrap();
    let key = new_key();
    let bytes = "Grüße\n".as_bytes();
    let post = presign_post(
        &f.bucket,
        &long_term(),
        &grant(&key, bytes.len() as u64, &text),
        Timestamp::now(),
    );
    let (status, body) = f.upload(&post, bytes).await;
    assert_eq!(status, 204, "{body}");
    let verdicts = f.standin.verdicts();
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].key.as_deref(), Some(key.as_str()));
    assert_eq!(verdicts[0].refused, None);

    assert_eq!(
        f.head(&key).await,
        Some(ObjectHead {
            size: bytes.len() as u64,
            content_type: Some("text/plain; charset=utf-8".into()),
        })
    );
    assert_eq!(f.head(&new_key()).await, None, "another key is not there");

    let name = FileName::parse("Übersicht März.txt").unwrap();
    let url = presign_get(
        &f.bucket,
        &long_term(),
        &Download {
            key: &key,
            file_name: &name,
            content_type: &text,
            ttl: DOWNLOAD_TTL,
        },
        Timestamp::now(),
    )
    .unwrap();
    let resp = f.http.get(&url).send().await.expect("GET");
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert_eq!(
        headers["content-disposition"].to_str().unwrap(),
        content_disposition(&name)
    );
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes);
}

#[tokio::test]
async fn session_credentials_upload_with_their_token() {
    let f = Fixture::new().await;
    let png = ContentType::parse("image/png").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.bucket,
        &session(),
        &grant(&key, 4, &png),
        Timestamp::now(),
    );
    assert_eq!(post.fields.get("x-amz-security-token"), Some(SESSION_TOKEN));

    // Without the token the form is refused and nothing is stored.
    let without: Vec<(&str, String)> = post
        .fields
        .0
        .iter()
        .filter(|(k, _)| *k != "x-amz-security-token")
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let (status, body) = f.post(&post.url, &without, b"\x89PNG").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidToken</Code>"), "{body}");
    assert_eq!(f.head(&key).await, None);

    let (status, body) = f.upload(&post, b"\x89PNG").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(f.head(&key).await.map(|h| h.size), Some(4));
}

/// Posts `post` (with `fields` changed by `edit`) and `file`; asserts S3's refusal and that
/// nothing was stored.
async fn refused(
    f: &Fixture,
    post: &PresignedPost,
    edit: impl FnOnce(&mut Vec<(&'static str, String)>),
    file: &[u8],
    want: (u16, &str),
) -> String {
    let mut fields = post.fields.0.clone();
    edit(&mut fields);
    let (status, body) = f.post(&post.url, &fields, file).await;
    assert_eq!(status, want.0, "{body}");
    assert!(body.contains(&format!("<Code>{}</Code>", want.1)), "{body}");
    let key = post.fields.get("key").unwrap();
    assert_eq!(f.head(key).await, None, "nothing stored");
    assert!(f.standin.verdicts().last().unwrap().refused.is_some());
    body
}

#[tokio::test]
async fn a_file_of_another_size_is_refused() {
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.bucket,
        &long_term(),
        &grant(&key, 5, &text),
        Timestamp::now(),
    );
    // S3 answers a size outside content-length-range with 400 EntityTooLarge / EntityTooSmall.
    let body = refused(&f, &post, |_| {}, b"123456789", (400, "EntityTooLarge")).await;
    assert!(body.contains("<ProposedSize>9</ProposedSize><MaxSizeAllowed>5</MaxSizeAllowed>"));
    refused(&f, &post, |_| {}, b"1234", (400, "EntityTooSmall")).await;
    // The granted size passes.
    let (status, body) = f.upload(&post, b"12345").await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn a_file_of_another_type_is_refused() {
    let f = Fixture::new().await;
    let pdf = ContentType::parse("application/pdf").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.bucket,
        &long_term(),
        &grant(&key, 5, &pdf),
        Timestamp::now(),
    );
    let body = refused(
        &f,
        &post,
        |fields| {
            for (k, v) in fields.iter_mut() {
                if *k == "Content-Type" {
                    *v = "text/html".into();
                }
            }
        },
        b"%PDF-",
        (403, "AccessDenied"),
    )
    .await;
    assert!(
        body.contains("Policy Condition failed: [&quot;eq&quot;, &quot;$Content-Type&quot;, &quot;application/pdf&quot;]"),
        "{body}"
    );
    // No Content-Type field at all fails the condition too.
    refused(
        &f,
        &post,
        |fields| fields.retain(|(k, _)| *k != "Content-Type"),
        b"%PDF-",
        (403, "AccessDenied"),
    )
    .await;
    // Another key is refused as well.
    refused(
        &f,
        &post,
        |fields| {
            for (k, v) in fields.iter_mut() {
                if *k == "key" {
                    *v = new_key();
                }
            }
        },
        b"%PDF-",
        (403, "AccessDenied"),
    )
    .await;
}

#[tokio::test]
async fn an_expired_grant_is_refused() {
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain").unwrap();
    let key = new_key();
    // Granted 16 minutes ago for 15 minutes.
    let then = Timestamp::now().plus_seconds(-16 * 60);
    let post = presign_post(&f.bucket, &long_term(), &grant(&key, 5, &text), then);
    let body = refused(&f, &post, |_| {}, b"12345", (403, "AccessDenied")).await;
    assert!(
        body.contains("Invalid according to Policy: Policy expired."),
        "{body}"
    );
}

#[tokio::test]
async fn a_tampered_signature_or_policy_is_refused() {
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.bucket,
        &long_term(),
        &grant(&key, 5, &text),
        Timestamp::now(),
    );
    let replace = |name: &'static str, value: String| {
        move |fields: &mut Vec<(&'static str, String)>| {
            for (k, v) in fields.iter_mut() {
                if *k == name {
                    *v = value.clone();
                }
            }
        }
    };
    let sig = post.fields.get("x-amz-signature").unwrap();
    let flipped: String = sig
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == 'a' { 'b' } else { 'a' }
            } else {
                c
            }
        })
        .collect();
    refused(
        &f,
        &post,
        replace("x-amz-signature", flipped),
        b"12345",
        (403, "SignatureDoesNotMatch"),
    )
    .await;

    // A policy rewritten to admit 9 bytes, under the original signature.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let policy =
        String::from_utf8(b64.decode(post.fields.get("policy").unwrap()).unwrap()).unwrap();
    let wider = policy.replace(
        "[\"content-length-range\",5,5]",
        "[\"content-length-range\",5,9]",
    );
    assert_ne!(policy, wider);
    refused(
        &f,
        &post,
        replace("policy", b64.encode(wider)),
        b"123456789",
        (403, "SignatureDoesNotMatch"),
    )
    .await;

    // Signed with another secret.
    let other = Credentials::new("testing", "not-the-secret", None, None, "tests");
    let forged = presign_post(&f.bucket, &other, &grant(&key, 5, &text), Timestamp::now());
    refused(
        &f,
        &forged,
        |_| {},
        b"12345",
        (403, "SignatureDoesNotMatch"),
    )
    .await;
}

#[tokio::test]
async fn a_field_the_policy_does_not_cover_is_refused() {
    let f = Fixture::new().await;
    let text = ContentType::parse("text/plain").unwrap();
    let key = new_key();
    let post = presign_post(
        &f.bucket,
        &long_term(),
        &grant(&key, 5, &text),
        Timestamp::now(),
    );
    let body = refused(
        &f,
        &post,
        |fields| fields.insert(0, ("acl", "public-read".into())),
        b"12345",
        (403, "AccessDenied"),
    )
    .await;
    assert!(body.contains("Extra input fields: acl"), "{body}");
}
