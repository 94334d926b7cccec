//! Where attachment files are kept, for the use cases (SPEC §13): the S3 bucket in the cloud
//! (presigned POST, signed HEAD, presigned GET) or `crm serve`'s data dir behind its own
//! signed URLs. The same three steps either way: grant an upload, see what was uploaded, hand
//! out a short-lived download URL.

use super::content::{AttachmentSize, ContentType};
use super::download::{Download, HeadClient, ObjectHead, S3Error, presign_get};
use super::file_name::{FileName, content_disposition};
use super::local::{Grant, LocalSigner, Method};
use super::location::BucketAddress;
use super::post_policy::{PresignedPost, Upload, presign_post};
use super::{DOWNLOAD_TTL, UPLOAD_TTL, parse_object_key};
use crate::model::Timestamp;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::path::PathBuf;

/// Where an upload waits in the bucket until a comment links it: the bucket's lifecycle rule
/// deletes what is under this prefix after a day (SPEC §13: unlinked uploads are deleted
/// within 24 hours); linking copies the file to its own key (`Files::keep`).
pub const PENDING_PREFIX: &str = "pending/";

/// The pending key of an attachment's key.
pub fn pending_key(key: &str) -> String {
    format!("{PENDING_PREFIX}{key}")
}

/// The path under `crm serve`'s address where its files are posted and read.
pub const LOCAL_FILES_PATH: &str = "/files";

/// Where the files are.
#[derive(Debug)]
pub enum Files {
    S3 {
        bucket: BucketAddress,
        credentials: SharedCredentialsProvider,
        heads: HeadClient,
    },
    Local {
        signer: LocalSigner,
        data_dir: PathBuf,
        /// `http://127.0.0.1:<port>`: the server's own address.
        origin: String,
    },
}

/// Why the files could not be reached (a `503` for the client: nothing was changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error("no credentials for S3: {0}")]
    Credentials(String),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("reading the local file failed: {0}")]
    Local(String),
}

impl Files {
    async fn credentials(provider: &SharedCredentialsProvider) -> Result<Credentials, FilesError> {
        provider
            .provide_credentials()
            .await
            .map_err(|e| FilesError::Credentials(e.to_string()))
    }

    /// The form that uploads exactly this object (15 minutes).
    pub async fn upload_form(
        &self,
        key: &str,
        size: AttachmentSize,
        content_type: &ContentType,
        now: Timestamp,
    ) -> Result<PresignedPost, FilesError> {
        match self {
            Files::S3 {
                bucket,
                credentials,
                ..
            } => {
                let creds = Self::credentials(credentials).await?;
                let pending = pending_key(key);
                let upload = Upload {
                    key: &pending,
                    size,
                    content_type,
                    ttl: UPLOAD_TTL,
                };
                Ok(presign_post(bucket, &creds, &upload, now))
            }
            Files::Local { signer, origin, .. } => {
                let grant = Grant {
                    method: Method::Upload,
                    key: key.to_owned(),
                    size: size.bytes(),
                    content_type: content_type.as_str().to_owned(),
                    disposition: String::new(),
                    expires: now.plus_seconds(UPLOAD_TTL.as_secs() as i64),
                };
                Ok(signer.upload_form(&format!("{origin}{LOCAL_FILES_PATH}"), &grant))
            }
        }
    }

    /// Keeps an upload being linked: in S3, copies it out of the pending prefix to its own
    /// key; locally the file is already where it stays.
    pub async fn keep(&self, key: &str, now: Timestamp) -> Result<(), FilesError> {
        match self {
            Files::S3 {
                bucket,
                credentials,
                heads,
            } => {
                let creds = Self::credentials(credentials).await?;
                Ok(heads
                    .copy(bucket, &creds, &pending_key(key), key, now)
                    .await?)
            }
            Files::Local { .. } => Ok(()),
        }
    }

    /// The size of the object at exactly `key` (in S3 not its pending copy; locally the
    /// file): what a download serves.
    pub async fn head_exact(&self, key: &str, now: Timestamp) -> Result<Option<u64>, FilesError> {
        match self {
            Files::S3 {
                bucket,
                credentials,
                heads,
            } => {
                let creds = Self::credentials(credentials).await?;
                Ok(heads.head(bucket, &creds, key, now).await?.map(|h| h.size))
            }
            Files::Local { .. } => Ok(self.head(key, now).await?.map(|h| h.size)),
        }
    }

    /// What was uploaded for `key` (None: nothing).
    pub async fn head(&self, key: &str, now: Timestamp) -> Result<Option<ObjectHead>, FilesError> {
        match self {
            Files::S3 {
                bucket,
                credentials,
                heads,
            } => {
                let creds = Self::credentials(credentials).await?;
                Ok(heads.head(bucket, &creds, &pending_key(key), now).await?)
            }
            Files::Local { data_dir, .. } => {
                let Some((ticket, attachment)) = parse_object_key(key) else {
                    return Ok(None);
                };
                let path = super::local::file_path(data_dir, &ticket, &attachment);
                match tokio::fs::metadata(&path).await {
                    Ok(m) if m.is_file() => Ok(Some(ObjectHead {
                        size: m.len(),
                        content_type: None,
                    })),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(FilesError::Local(e.kind().to_string())),
                }
            }
        }
    }

    /// A URL that serves the object as a download of `file_name` and `content_type` for 5
    /// minutes.
    pub async fn download_url(
        &self,
        key: &str,
        file_name: &FileName,
        content_type: &ContentType,
        size: u64,
        now: Timestamp,
    ) -> Result<String, FilesError> {
        match self {
            Files::S3 {
                bucket,
                credentials,
                ..
            } => {
                let creds = Self::credentials(credentials).await?;
                let download = Download {
                    key,
                    file_name,
                    content_type,
                    ttl: DOWNLOAD_TTL,
                };
                Ok(presign_get(bucket, &creds, &download, now)?)
            }
            Files::Local { signer, origin, .. } => {
                let grant = Grant {
                    method: Method::Download,
                    key: key.to_owned(),
                    size,
                    content_type: content_type.as_str().to_owned(),
                    disposition: content_disposition(file_name),
                    expires: now.plus_seconds(DOWNLOAD_TTL.as_secs() as i64),
                };
                Ok(signer.download_url(&format!("{origin}{LOCAL_FILES_PATH}/"), &grant))
            }
        }
    }
}

/// The attachment settings (SPEC §14) as checked: the bucket (required in the cloud's tickets
/// function) and the largest file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket: Option<super::location::Bucket>,
    pub max_bytes: super::MaxBytes,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Result<Self, crate::config::ConfigError> {
        let bucket = config
            .attachment_bucket
            .as_deref()
            .map(super::location::Bucket::parse)
            .transpose()
            .map_err(|problem| crate::config::ConfigError {
                var: "CRM_ATTACHMENT_BUCKET",
                problem,
            })?;
        let max_bytes = super::MaxBytes::from_setting(config.attachment_max_bytes.as_deref())
            .map_err(|problem| crate::config::ConfigError {
                var: "CRM_ATTACHMENT_MAX_BYTES",
                problem,
            })?;
        Ok(Self { bucket, max_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Profile};

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, crate::config::ConfigError> {
        let config = Config::from_lookup(Profile::Cloud, |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("the rest of the settings");
        Settings::from_config(&config)
    }

    #[test]
    fn attachment_settings_are_checked_and_name_their_variable() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bucket, None);
        assert_eq!(s.max_bytes.bytes(), super::super::DEFAULT_MAX_BYTES);
        let s = settings(&[
            ("CRM_ATTACHMENT_BUCKET", "crm-files"),
            ("CRM_ATTACHMENT_MAX_BYTES", "1024"),
        ])
        .unwrap();
        assert_eq!(s.bucket.unwrap().as_str(), "crm-files");
        assert_eq!(s.max_bytes.bytes(), 1024);
        for (var, bad) in [
            ("CRM_ATTACHMENT_BUCKET", "Not_A_Bucket"),
            ("CRM_ATTACHMENT_MAX_BYTES", "0"),
            ("CRM_ATTACHMENT_MAX_BYTES", "ten"),
        ] {
            assert_eq!(settings(&[(var, bad)]).unwrap_err().var, var, "{bad}");
        }
    }

    #[test]
    fn uploads_wait_under_the_pending_prefix() {
        assert_eq!(pending_key("attachments/T/A"), "pending/attachments/T/A");
        assert!(!pending_key("x").starts_with("attachments/"));
    }
}
