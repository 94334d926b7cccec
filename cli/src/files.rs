//! `crm serve`'s twin of the attachment bucket (SPEC §13): `POST /files` takes the upload
//! form `attachments::local` signs (multipart/form-data, the fields, then the file last, as
//! S3's POST), checks the grant (signature, expiry, key) before a byte of the file is kept,
//! and stores exactly the granted size under the data dir; `GET /files/<key>?<grant>` serves a
//! file to the holder of an unexpired download grant, as an attachment of its stored type.
//! Nothing here trusts a path or a name from the request: files are named by the two ids of
//! the signed key.

use bytes::Bytes;
use crm_shared::ApiError;
use crm_shared::attachments::MaxBytes;
use crm_shared::attachments::files::LOCAL_FILES_PATH;
use crm_shared::attachments::local::{
    LocalSigner, PendingFile, Received, Refusal, download_grant_from_query, file_path,
    upload_grant_from_fields,
};
use crm_shared::attachments::parse_object_key;
use crm_shared::config::Secret;
use crm_shared::error::ErrorCode;
use crm_shared::model::Timestamp;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::path::PathBuf;

/// The most form fields before the file, and the largest one: the signed form has six.
const MAX_FIELDS: usize = 20;
const MAX_FIELD_BYTES: u64 = 8 * 1024;

pub struct LocalFiles {
    signer: LocalSigner,
    data_dir: PathBuf,
    max_bytes: MaxBytes,
}

/// Whether a request path is the files' (else it is the API's).
pub fn is_files_path(path: &str) -> bool {
    path == LOCAL_FILES_PATH
        || path
            .strip_prefix(LOCAL_FILES_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn refused(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message.into())
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::BadSignature | Refusal::WrongContentType => refused(
            ErrorCode::Forbidden,
            "The form or URL is not one this server signed (or was changed).",
        ),
        Refusal::Expired => refused(ErrorCode::Forbidden, "The grant has expired."),
        Refusal::WrongSize { expected, received } => ApiError::invalid(
            "file",
            format!("The file is {received} bytes; the grant is for exactly {expected}."),
        ),
    }
}

impl LocalFiles {
    pub fn new(secret: &Secret, data_dir: PathBuf, max_bytes: MaxBytes) -> Self {
        Self {
            signer: LocalSigner::new(secret),
            data_dir,
            max_bytes,
        }
    }

    pub async fn handle(&self, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let answer = match (req.method(), req.uri().path() == LOCAL_FILES_PATH) {
            (&Method::POST, true) => self.upload(req).await,
            (&Method::GET | &Method::HEAD, false) => self.download(&req).await,
            _ => Err(ApiError::no_route()),
        };
        match answer {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(code = %e.code, "local file request refused");
                // In the envelope, with `Connection: close`: an upload refused midway is left
                // unread.
                crm_shared::http::unreadable_request(&e).into_http()
            }
        }
    }

    async fn upload(
        &self,
        req: http::Request<Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, ApiError> {
        let boundary = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "An upload is a multipart/form-data POST of the granted form's fields, then the file.",
                )
            })?;
        let limit = self.max_bytes.bytes() + MAX_FIELDS as u64 * MAX_FIELD_BYTES;
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(limit)
                .for_field("file", self.max_bytes.bytes() + 1),
        );
        let stream = req.into_body().into_data_stream();
        let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
        let malformed = |e: multer::Error| {
            ApiError::invalid("file", format!("The upload form could not be read: {e}"))
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        loop {
            let Some(mut field) = form.next_field().await.map_err(malformed)? else {
                return Err(ApiError::invalid("file", "The form has no file field."));
            };
            let name = field.name().unwrap_or_default().to_owned();
            if !name.eq_ignore_ascii_case("file") {
                if fields.len() >= MAX_FIELDS {
                    return Err(ApiError::invalid("file", "The form has too many fields."));
                }
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    value.extend_from_slice(&chunk);
                    if value.len() as u64 > MAX_FIELD_BYTES {
                        return Err(ApiError::invalid("file", "A form field is too long."));
                    }
                }
                let value = String::from_utf8(value)
                    .map_err(|_| ApiError::invalid("file", "A form field is not UTF-8."))?;
                fields.push((name, value));
                continue;
            }
            // The file: the grant is checked before a byte of it is kept.
            let (grant, signature) =
                upload_grant_from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .ok_or_else(|| {
                        refused(
                            ErrorCode::Forbidden,
                            "The form lacks the signed fields of an upload grant.",
                        )
                    })?;
            let now = Timestamp::now();
            self.signer
                .verify(&grant, &signature, now)
                .map_err(refusal)?;
            let (ticket, attachment) = parse_object_key(&grant.key)
                .ok_or_else(|| refused(ErrorCode::Forbidden, "The key is not an attachment's."))?;
            // A stored file never changes (in S3 a linked file is a copy out of the pending
            // prefix, which a second upload cannot reach): a second upload is refused.
            if file_path(&self.data_dir, &ticket, &attachment).exists() {
                return Err(refused(
                    ErrorCode::Forbidden,
                    "This upload was already stored.",
                ));
            }
            let io = |e: std::io::Error| ApiError::internal(format!("writing an upload: {e}"));
            let mut file = PendingFile::create(&self.data_dir, &ticket, &attachment).map_err(io)?;
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                if file.written() + chunk.len() as u64 > grant.size {
                    return Err(refusal(Refusal::WrongSize {
                        expected: grant.size,
                        received: file.written() + chunk.len() as u64,
                    }));
                }
                file.write(&chunk).map_err(io)?;
            }
            let received = Received {
                size: file.written(),
                content_type: &grant.content_type,
            };
            self.signer
                .verify_upload(&grant, &signature, now, received)
                .map_err(refusal)?;
            file.commit().map_err(io)?;
            tracing::info!(attachment = %attachment, bytes = received.size, "stored an upload");
            // S3's default answer to a POST upload.
            let mut resp = http::Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            return Ok(resp);
        }
    }

    async fn download(
        &self,
        req: &http::Request<Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, ApiError> {
        let key = req
            .uri()
            .path()
            .strip_prefix(LOCAL_FILES_PATH)
            .and_then(|k| k.strip_prefix('/'))
            .unwrap_or_default();
        let (grant, signature) = download_grant_from_query(key, req.uri().query().unwrap_or(""))
            .ok_or_else(|| refused(ErrorCode::Forbidden, "The URL is not a download grant."))?;
        self.signer
            .verify(&grant, &signature, Timestamp::now())
            .map_err(refusal)?;
        let (ticket, attachment) = parse_object_key(&grant.key)
            .ok_or_else(|| refused(ErrorCode::Forbidden, "The key is not an attachment's."))?;
        let path = file_path(&self.data_dir, &ticket, &attachment);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refused(ErrorCode::AttachmentNotFound, "No such file."));
            }
            Err(e) => return Err(ApiError::internal(format!("reading a file: {e}"))),
        };
        let header_value = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| ApiError::internal("a stored header is not valid"))
        };
        let len = bytes.len();
        let body = if req.method() == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::from(bytes)
        };
        let mut resp = http::Response::new(Full::new(body));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, header_value(&grant.content_type)?);
        h.insert(
            header::CONTENT_DISPOSITION,
            header_value(&grant.disposition)?,
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        Ok(resp)
    }
}
