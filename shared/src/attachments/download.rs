//! Downloads and the linking step's check, in S3: a presigned GET (SPEC §13: 5 minutes) that
//! makes S3 answer with `Content-Disposition: attachment` and the stored type, and a signed
//! HEAD that says whether an upload is there, how large and of what type. Both are signed by
//! the SDK's SigV4 code (`aws-sigv4`, query-string and header signing) and the HEAD goes
//! through the SDK's own HTTP connector (hyper and rustls on ring), so the S3 SDK is not
//! linked. Measured with the release profile on a small function (the SDK configuration of
//! `cloud::function_sdk_config` and one SQS call, 4,460,952 bytes): `aws-sdk-s3` 1.157 for a
//! presigned GET and a HeadObject added 1,359,952 bytes (+30 %; +853 KB gzipped), this module
//! for the same two 78,568 (+1.8 %; +36 KB gzipped).

use super::content::ContentType;
use super::file_name::{FileName, content_disposition};
use super::location::{BucketAddress, UNRESERVED};
use super::sigv4::system_time;
use crate::model::Timestamp;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_smithy_http_client::tls::{self, TlsContext, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;

/// What a download URL serves.
#[derive(Debug, Clone, Copy)]
pub struct Download<'a> {
    pub key: &'a str,
    pub file_name: &'a FileName,
    pub content_type: &'a ContentType,
    /// How long the URL holds (`super::DOWNLOAD_TTL`).
    pub ttl: Duration,
}

/// An object as a HEAD sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    /// As stored (the upload's `Content-Type` field); absent for an object stored without one.
    pub content_type: Option<String>,
}

/// Why S3 could not be asked or did not answer as expected. No message carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    #[error("signing the S3 request failed: {0}")]
    Signing(String),
    /// No answer in time, or the connection failed: a `503` for the client.
    #[error("S3 did not answer: {0}")]
    Unavailable(String),
    /// An answer other than found or not found (a `403` when the role may not read the bucket,
    /// or may not list it: S3 answers a missing key with `403` to a caller without
    /// `s3:ListBucket`).
    #[error("S3 answered {0}")]
    Status(u16),
    /// The object is larger than the reader takes (its size in bytes).
    #[error("the object is {0} bytes, more than is read")]
    TooLarge(u64),
}

/// The presigned GET of `download`: anyone holding it may read the object until `now + ttl`,
/// and S3 answers it with `Content-Disposition: attachment; ...` (the file name, header-safe)
/// and the stored content type (`response-content-disposition`, `response-content-type`:
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
pub fn presign_get(
    bucket: &BucketAddress,
    credentials: &Credentials,
    download: &Download<'_>,
    now: Timestamp,
) -> Result<String, S3Error> {
    let disposition = content_disposition(download.file_name);
    presign(
        credentials,
        bucket.region(),
        "GET",
        &bucket.object_url(download.key),
        &[
            ("response-content-disposition", disposition.as_str()),
            ("response-content-type", download.content_type.as_str()),
        ],
        download.ttl,
        now,
    )
}

/// SigV4 query-string signing ("Authenticating Requests: Using Query Parameters",
/// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): `query` is
/// signed with the request, the payload is `UNSIGNED-PAYLOAD`, only `host` is a signed header,
/// a session token is signed in as `X-Amz-Security-Token`.
fn presign(
    credentials: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    query: &[(&str, &str)],
    ttl: Duration,
    now: Timestamp,
) -> Result<String, S3Error> {
    let mut unsigned = url.to_owned();
    append_query(&mut unsigned, query.iter().copied());
    let mut settings = s3_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(ttl);
    let identity: Identity = credentials.clone().into();
    let params = signing_params(&identity, region, settings, now)?;
    let request = SignableRequest::new(
        method,
        unsigned.as_str(),
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| S3Error::Signing(e.to_string()))?
        .into_parts();
    let mut signed = unsigned;
    append_query(
        &mut signed,
        instructions.params().iter().map(|(k, v)| (*k, v.as_ref())),
    );
    Ok(signed)
}

/// Appends `k=v` pairs, each escaped as SigV4's canonical query escapes them.
fn append_query<'a>(url: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    for (k, v) in pairs {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.extend(percent_encoding::utf8_percent_encode(k, UNRESERVED));
        url.push('=');
        url.extend(percent_encoding::utf8_percent_encode(v, UNRESERVED));
    }
}

/// S3's SigV4 settings: the path as sent (escaped once, not normalized), as the S3 SDK signs.
fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

fn signing_params<'a>(
    identity: &'a Identity,
    region: &'a str,
    settings: SigningSettings,
    now: Timestamp,
) -> Result<aws_sigv4::http_request::SigningParams<'a>, S3Error> {
    aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("s3")
        .time(system_time(now))
        .settings(settings)
        .build()
        .map(Into::into)
        .map_err(|e| S3Error::Signing(e.to_string()))
}

/// Sends signed HEADs for the linking step, through the SDK's HTTP connector. Build one per
/// process (it keeps its connections) and share it.
#[derive(Debug)]
pub struct HeadClient {
    connector: aws_smithy_http_client::Connector,
    deadline: Duration,
}

/// Connect and read timeouts of one attempt, and the budget of a HEAD with its retry: the
/// SDK clients' settings (`cloud::sdk_config`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const READ_TIMEOUT: Duration = Duration::from_secs(2);
const DEADLINE: Duration = Duration::from_secs(5);

impl HeadClient {
    /// For a function in the cloud: the TLS of its SDK clients (bundled AWS roots).
    pub fn for_function() -> Result<Self, String> {
        Ok(Self::with_tls(crate::tls::function_tls_context()?))
    }

    pub fn with_tls(tls: TlsContext) -> Self {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build();
        let connector = aws_smithy_http_client::Connector::builder()
            .connector_settings(settings)
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build();
        Self {
            connector,
            deadline: DEADLINE,
        }
    }

    /// The object's size and type, `None` when there is no such key. A failed connection or a
    /// 5xx is tried once more within the deadline.
    pub async fn head(
        &self,
        bucket: &BucketAddress,
        credentials: &Credentials,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<ObjectHead>, S3Error> {
        let url = bucket.object_url(key);
        let attempts = async {
            let first = self.attempt(&url, bucket.region(), credentials, now).await;
            match first {
                Err(S3Error::Unavailable(_)) | Err(S3Error::Status(500..)) => {
                    self.attempt(&url, bucket.region(), credentials, now).await
                }
                other => other,
            }
        };
        tokio::time::timeout(self.deadline, attempts)
            .await
            .map_err(|_| S3Error::Unavailable(format!("no answer within {:?}", self.deadline)))?
    }

    /// The object's bytes, `None` when there is no such key; an object over `max_bytes` is
    /// `S3Error::TooLarge` without its body being read (the intake reads SES's stored mail
    /// this way: SPEC §9). A failed connection or a 5xx is tried once more.
    pub async fn get(
        &self,
        bucket: &BucketAddress,
        credentials: &Credentials,
        key: &str,
        now: Timestamp,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, S3Error> {
        let url = bucket.object_url(key);
        let once = || async {
            let request = signed("GET", &url, bucket.region(), credentials, now)?;
            let request = aws_smithy_runtime_api::http::Request::try_from(request)
                .map_err(|e| S3Error::Signing(e.to_string()))?;
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| S3Error::Unavailable(e.to_string()))?;
            match response.status().as_u16() {
                200 => {}
                404 => return Ok(None),
                status => return Err(S3Error::Status(status)),
            }
            if let Some(size) = response
                .headers()
                .get("content-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
                && size > max_bytes
            {
                return Err(S3Error::TooLarge(size));
            }
            let bytes = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| S3Error::Unavailable(e.to_string()))?
                .into_bytes();
            if bytes.len() as u64 > max_bytes {
                return Err(S3Error::TooLarge(bytes.len() as u64));
            }
            Ok(Some(bytes.to_vec()))
        };
        let attempts = async {
            match once().await {
                Err(S3Error::Unavailable(_)) | Err(S3Error::Status(500..)) => once().await,
                other => other,
            }
        };
        tokio::time::timeout(self.deadline * 2, attempts)
            .await
            .map_err(|_| {
                S3Error::Unavailable(format!("no answer within {:?}", self.deadline * 2))
            })?
    }

    async fn attempt(
        &self,
        url: &str,
        region: &str,
        credentials: &Credentials,
        now: Timestamp,
    ) -> Result<Option<ObjectHead>, S3Error> {
        let request = signed("HEAD", url, region, credentials, now)?;
        let request = aws_smithy_runtime_api::http::Request::try_from(request)
            .map_err(|e| S3Error::Signing(e.to_string()))?;
        let response = self
            .connector
            .call(request)
            .await
            .map_err(|e| S3Error::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        match status {
            200 => {
                let headers = response.headers();
                let size = headers
                    .get("content-length")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or(S3Error::Status(status))?;
                Ok(Some(ObjectHead {
                    size,
                    content_type: headers.get("content-type").map(str::to_owned),
                }))
            }
            404 => Ok(None),
            _ => Err(S3Error::Status(status)),
        }
    }
}

impl HeadClient {
    /// Copies the object at `from` to `to` in the bucket (CopyObject, its type and metadata
    /// kept: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html), as the
    /// linking step keeps an upload out of the pending prefix the lifecycle rule empties. A
    /// failed connection or a 5xx is tried once more within the deadline; copying again is
    /// harmless.
    pub async fn copy(
        &self,
        bucket: &BucketAddress,
        credentials: &Credentials,
        from: &str,
        to: &str,
        now: Timestamp,
    ) -> Result<(), S3Error> {
        let url = bucket.object_url(to);
        let source = format!("/{}/{from}", bucket.bucket());
        let attempt = || async {
            let request = signed_copy(&url, bucket.region(), credentials, &source, now)?;
            let request = aws_smithy_runtime_api::http::Request::try_from(request)
                .map_err(|e| S3Error::Signing(e.to_string()))?;
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| S3Error::Unavailable(e.to_string()))?;
            match response.status().as_u16() {
                200 => Ok(()),
                status => Err(S3Error::Status(status)),
            }
        };
        let attempts = async {
            match attempt().await {
                Err(S3Error::Unavailable(_)) | Err(S3Error::Status(500..)) => attempt().await,
                other => other,
            }
        };
        tokio::time::timeout(self.deadline, attempts)
            .await
            .map_err(|_| S3Error::Unavailable(format!("no answer within {:?}", self.deadline)))?
    }
}

/// A CopyObject PUT signed in its headers, `x-amz-copy-source` among them.
fn signed_copy(
    url: &str,
    region: &str,
    credentials: &Credentials,
    source: &str,
    now: Timestamp,
) -> Result<http::Request<SdkBody>, S3Error> {
    let mut settings = s3_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity: Identity = credentials.clone().into();
    let params = signing_params(&identity, region, settings, now)?;
    let signable = SignableRequest::new(
        "PUT",
        url,
        std::iter::once(("x-amz-copy-source", source)),
        SignableBody::empty(),
    )
    .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| S3Error::Signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::put(url)
        .header("x-amz-copy-source", source)
        .body(SdkBody::empty())
        .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (headers, _) = instructions.into_parts();
    for header in headers {
        let mut value = http::HeaderValue::from_str(header.value())
            .map_err(|e| S3Error::Signing(e.to_string()))?;
        value.set_sensitive(header.sensitive());
        request.headers_mut().insert(header.name(), value);
    }
    Ok(request)
}

/// A HEAD or GET signed in its headers (`Authorization`, `x-amz-date`, `x-amz-content-sha256`
/// of the empty payload, `x-amz-security-token`).
fn signed(
    method: &str,
    url: &str,
    region: &str,
    credentials: &Credentials,
    now: Timestamp,
) -> Result<http::Request<SdkBody>, S3Error> {
    let mut settings = s3_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity: Identity = credentials.clone().into();
    let params = signing_params(&identity, region, settings, now)?;
    let signable = SignableRequest::new(method, url, std::iter::empty(), SignableBody::empty())
        .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| S3Error::Signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(SdkBody::empty())
        .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (headers, _) = instructions.into_parts();
    for header in headers {
        let mut value = http::HeaderValue::from_str(header.value())
            .map_err(|e| S3Error::Signing(e.to_string()))?;
        value.set_sensitive(header.sensitive());
        request.headers_mut().insert(header.name(), value);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachments::location::{Bucket, Endpoint};

    fn example_credentials() -> Credentials {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
    }

    /// The presigned URL of the S3 documentation's example, "Authenticating Requests: Using
    /// Query Parameters (AWS Signature Version 4)",
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html: GET
    /// test.txt of examplebucket on 2013-05-24 at 00:00:00 UTC, valid 86400 seconds.
    #[test]
    fn reproduces_the_s3_documentation_presigned_url() {
        let url = presign(
            &example_credentials(),
            "us-east-1",
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[],
            Duration::from_secs(86_400),
            Timestamp::from_millis(1_369_353_600_000),
        )
        .unwrap();
        let want = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        assert_eq!(sorted_query(&url), sorted_query(want));
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"));
    }

    fn sorted_query(url: &str) -> Vec<String> {
        let mut q: Vec<String> = url
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(str::to_owned)
            .collect();
        q.sort();
        q
    }

    fn query_value(url: &str, name: &str) -> Option<String> {
        let query = url.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[test]
    fn the_download_url_asks_for_an_attachment_of_the_stored_type() {
        let bucket = BucketAddress::new(
            Bucket::parse("crm-files").unwrap(),
            "eu-west-1",
            Endpoint::Aws,
        )
        .unwrap();
        let name = FileName::parse("Übersicht März.pdf").unwrap();
        let pdf = ContentType::parse("application/pdf").unwrap();
        let creds = Credentials::new("ASIAEXAMPLE", "secret", Some("tok/en+=".into()), None, "t");
        let now = Timestamp::from_millis(1_765_000_000_000);
        let download = Download {
            key: "attachments/T/A",
            file_name: &name,
            content_type: &pdf,
            ttl: crate::attachments::DOWNLOAD_TTL,
        };
        let url = presign_get(&bucket, &creds, &download, now).unwrap();
        assert!(url.starts_with("https://crm-files.s3.eu-west-1.amazonaws.com/attachments/T/A?"));
        assert_eq!(
            query_value(&url, "response-content-disposition").as_deref(),
            Some(content_disposition(&name).as_str())
        );
        assert_eq!(
            query_value(&url, "response-content-type").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(query_value(&url, "X-Amz-Expires").as_deref(), Some("300"));
        assert_eq!(
            query_value(&url, "X-Amz-Security-Token").as_deref(),
            Some("tok/en+=")
        );
        assert_eq!(
            query_value(&url, "X-Amz-SignedHeaders").as_deref(),
            Some("host")
        );
        assert!(!url.contains("secret"));
        // The overrides are signed: another disposition is another signature.
        let other_name = FileName::parse("other.pdf").unwrap();
        let other = presign_get(
            &bucket,
            &creds,
            &Download {
                file_name: &other_name,
                ..download
            },
            now,
        )
        .unwrap();
        assert_ne!(
            query_value(&url, "X-Amz-Signature"),
            query_value(&other, "X-Amz-Signature")
        );
    }

    #[test]
    fn the_head_is_signed_in_its_headers() {
        let creds = Credentials::new("AKID", "secret", Some("tok".into()), None, "t");
        let req = signed(
            "HEAD",
            "http://127.0.0.1:5000/crm-files/attachments/T/A",
            "us-east-1",
            &creds,
            Timestamp::from_millis(1_765_000_000_000),
        )
        .unwrap();
        assert_eq!(req.method(), http::Method::HEAD);
        let h = req.headers();
        let auth = h["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20251206/us-east-1/s3/aws4_request")
        );
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            )
        );
        assert_eq!(
            h["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(h["x-amz-security-token"], "tok");
        assert!(h["x-amz-security-token"].is_sensitive());
    }
}
