//! `crm serve`'s twin of S3 for attachments (SPEC §13): upload and download grants it signs
//! itself, expiring like S3's, and the files under its data dir. A grant is an HMAC-SHA256,
//! under a key derived from the JWT secret with a label of its own, over what it allows: the
//! method, the object key, the size, the content type, the download's disposition and the
//! expiry. Files are named by our ids only, written to a temporary file and renamed into
//! place, readable by the owner alone.

use super::AttachmentId;
use super::post_policy::{FormFields, PresignedPost};
use crate::config::Secret;
use crate::model::{TicketId, Timestamp};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The label of this key among those derived from the JWT secret (cursors have their own).
const LABEL: &[u8] = b"crm-attachment-grant-v1";
/// A signature longer than this is no signature of ours (43 characters for 32 bytes).
const MAX_SIGNATURE_LEN: usize = 64;

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Upload,
    Download,
}

impl Method {
    fn tag(self) -> &'static [u8] {
        match self {
            Self::Upload => b"upload",
            Self::Download => b"download",
        }
    }
}

/// One signed permission: to upload exactly this object, or to download it, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub method: Method,
    /// One of ours (`super::object_key`).
    pub key: String,
    pub size: u64,
    /// The canonical content type (`super::ContentType`).
    pub content_type: String,
    /// A download's `Content-Disposition` (`super::content_disposition`); empty for an upload.
    pub disposition: String,
    pub expires: Timestamp,
}

/// Why a presented grant or upload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the signature does not match")]
    BadSignature,
    #[error("the grant has expired")]
    Expired,
    #[error("the file is {received} bytes, the grant is for {expected}")]
    WrongSize { expected: u64, received: u64 },
    #[error("the content type is not the one granted")]
    WrongContentType,
}

/// What an upload actually brought.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub size: u64,
    pub content_type: &'a str,
}

/// Signs and checks grants. Its `Debug` shows no key.
pub struct LocalSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSigner(redacted)")
    }
}

impl LocalSigner {
    /// The key is HMAC-SHA256(JWT secret, label): knowing a grant's key tells nothing of the
    /// secret, and no other use of the secret signs with it.
    pub fn new(secret: &Secret) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        let derived = hmac::sign(&root, LABEL);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The grant's signature, base64url without padding (URL- and form-safe).
    pub fn sign(&self, grant: &Grant) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &message(grant)).as_ref())
    }

    /// Whether `signature` is ours for exactly this grant and the grant still holds at `now`.
    pub fn verify(&self, grant: &Grant, signature: &str, now: Timestamp) -> Result<(), Refusal> {
        if signature.len() > MAX_SIGNATURE_LEN {
            return Err(Refusal::BadSignature);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::BadSignature)?;
        hmac::verify(&self.key, &message(grant), &tag).map_err(|_| Refusal::BadSignature)?;
        if now >= grant.expires {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// `verify` for an upload grant, then what arrived against what was granted: the exact
    /// size and content type, as the S3 policy requires them.
    pub fn verify_upload(
        &self,
        grant: &Grant,
        signature: &str,
        now: Timestamp,
        received: Received<'_>,
    ) -> Result<(), Refusal> {
        if grant.method != Method::Upload {
            return Err(Refusal::BadSignature);
        }
        self.verify(grant, signature, now)?;
        if received.size != grant.size {
            return Err(Refusal::WrongSize {
                expected: grant.size,
                received: received.size,
            });
        }
        if received.content_type != grant.content_type {
            return Err(Refusal::WrongContentType);
        }
        Ok(())
    }

    /// An upload grant as the same `{url, fields}` form S3's presigned POST is, so a client
    /// uploads to `crm serve` and to S3 alike: post every field, then the file.
    pub fn upload_form(&self, url: &str, grant: &Grant) -> PresignedPost {
        let fields = vec![
            ("key", grant.key.clone()),
            ("Content-Type", grant.content_type.clone()),
            (FIELD_SIZE, grant.size.to_string()),
            (FIELD_EXPIRES, grant.expires.millis().to_string()),
            (FIELD_SIGNATURE, self.sign(grant)),
        ];
        PresignedPost {
            url: url.to_owned(),
            fields: FormFields(fields),
            expires_at: grant.expires,
        }
    }

    /// A download URL: `base` (the twin's file route, ending in `/`) and the key, then the
    /// grant in the query.
    pub fn download_url(&self, base: &str, grant: &Grant) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair(PARAM_SIZE, &grant.size.to_string())
            .append_pair(PARAM_TYPE, &grant.content_type)
            .append_pair(PARAM_DISPOSITION, &grant.disposition)
            .append_pair(PARAM_EXPIRES, &grant.expires.millis().to_string())
            .append_pair(PARAM_SIGNATURE, &self.sign(grant))
            .finish();
        format!("{base}{}?{query}", grant.key)
    }
}

const FIELD_SIZE: &str = "x-crm-size";
const FIELD_EXPIRES: &str = "x-crm-expires";
const FIELD_SIGNATURE: &str = "x-crm-signature";
const PARAM_SIZE: &str = "size";
const PARAM_TYPE: &str = "type";
const PARAM_DISPOSITION: &str = "disposition";
const PARAM_EXPIRES: &str = "expires";
const PARAM_SIGNATURE: &str = "signature";

/// The upload grant and signature an upload form presents (`upload_form`'s fields, as the
/// handler read them before the file); `None` when one is missing or malformed.
pub fn upload_grant_from_fields<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<(Grant, String)> {
    let (mut key, mut content_type, mut size, mut expires, mut signature) =
        (None, None, None, None, None);
    for (name, value) in fields {
        // Form field names are case-insensitive, as in S3.
        let slot = match name.to_ascii_lowercase().as_str() {
            "key" => &mut key,
            "content-type" => &mut content_type,
            FIELD_SIZE => &mut size,
            FIELD_EXPIRES => &mut expires,
            FIELD_SIGNATURE => &mut signature,
            _ => continue,
        };
        if slot.replace(value.to_owned()).is_some() {
            return None;
        }
    }
    let grant = Grant {
        method: Method::Upload,
        key: key?,
        size: size?.parse().ok()?,
        content_type: content_type?,
        disposition: String::new(),
        expires: Timestamp::from_millis(expires?.parse().ok()?),
    };
    Some((grant, signature?))
}

/// The download grant and signature of a download URL's key and query; `None` when one is
/// missing or malformed.
pub fn download_grant_from_query(key: &str, query: &str) -> Option<(Grant, String)> {
    let (mut size, mut content_type, mut disposition, mut expires, mut signature) =
        (None, None, None, None, None);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            PARAM_SIZE => &mut size,
            PARAM_TYPE => &mut content_type,
            PARAM_DISPOSITION => &mut disposition,
            PARAM_EXPIRES => &mut expires,
            PARAM_SIGNATURE => &mut signature,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return None;
        }
    }
    let grant = Grant {
        method: Method::Download,
        key: key.to_owned(),
        size: size?.parse().ok()?,
        content_type: content_type?,
        disposition: disposition?,
        expires: Timestamp::from_millis(expires?.parse().ok()?),
    };
    Some((grant, signature?))
}

/// The signed bytes: a domain tag, then each part length-prefixed, so no two grants share a
/// message.
fn message(grant: &Grant) -> Vec<u8> {
    let size = grant.size.to_be_bytes();
    let expires = grant.expires.millis().to_be_bytes();
    let parts: [&[u8]; 6] = [
        grant.method.tag(),
        grant.key.as_bytes(),
        &size,
        grant.content_type.as_bytes(),
        grant.disposition.as_bytes(),
        &expires,
    ];
    let mut m = Vec::with_capacity(LABEL.len() + 128);
    m.extend_from_slice(LABEL);
    for part in parts {
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// Where an attachment's file lives: `<data dir>/attachments/<ticketId>/<attachmentId>`, from
/// two ids we made and parsed (ULIDs), never from anything the user named.
pub fn file_path(data_dir: &Path, ticket: &TicketId, attachment: &AttachmentId) -> PathBuf {
    data_dir
        .join("attachments")
        .join(ticket.as_str())
        .join(attachment.as_str())
}

/// A file being written: bytes go to a temporary file beside the final one (mode 0600), and
/// `commit` syncs it and renames it into place, so a reader sees the whole file or none.
/// Dropped without `commit`, the temporary file is removed.
#[derive(Debug)]
pub struct PendingFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
    written: u64,
}

impl PendingFile {
    /// Starts the file of `attachment` of `ticket` under `data_dir` (its directories made,
    /// mode 0700).
    pub fn create(
        data_dir: &Path,
        ticket: &TicketId,
        attachment: &AttachmentId,
    ) -> io::Result<Self> {
        let target = file_path(data_dir, ticket, attachment);
        let dir = target
            .parent()
            .ok_or_else(|| io::Error::other("an attachment path has a directory"))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let nonce: u64 = rand::random();
        let temp = dir.join(format!(".{}.{nonce:016x}.partial", attachment.as_str()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        Ok(Self {
            file: Some(file),
            temp,
            target,
            written: 0,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file is closed"))?;
        file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Syncs the file, renames it into place and syncs the directory.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the file is closed"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)?;
        if let Some(dir) = self.target.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(self.target.clone())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LocalSigner {
        LocalSigner::new(&Secret::new("s".repeat(40)))
    }

    fn upload(now: Timestamp) -> Grant {
        Grant {
            method: Method::Upload,
            key: "attachments/01J0000000000000000000000Z/01J0000000000000000000001Z".into(),
            size: 5,
            content_type: "image/png".into(),
            disposition: String::new(),
            expires: now.plus_seconds(900),
        }
    }

    #[test]
    fn a_grant_verifies_until_it_expires() {
        let s = signer();
        let now = Timestamp::from_millis(1_765_000_000_000);
        let g = upload(now);
        let sig = s.sign(&g);
        assert_eq!(sig.len(), 43);
        assert_eq!(s.verify(&g, &sig, now), Ok(()));
        assert_eq!(s.verify(&g, &sig, now.plus_seconds(899)), Ok(()));
        assert_eq!(
            s.verify(&g, &sig, now.plus_seconds(900)),
            Err(Refusal::Expired)
        );
        assert_eq!(
            s.verify(&g, &sig, now.plus_seconds(3600)),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn every_part_of_the_grant_is_signed() {
        let s = signer();
        let now = Timestamp::from_millis(1_765_000_000_000);
        let g = upload(now);
        let sig = s.sign(&g);
        let changed: Vec<Grant> = vec![
            Grant {
                method: Method::Download,
                ..g.clone()
            },
            Grant {
                key: "attachments/01J0000000000000000000000Z/01J0000000000000000000002Z".into(),
                ..g.clone()
            },
            Grant {
                size: 6,
                ..g.clone()
            },
            Grant {
                content_type: "image/gif".into(),
                ..g.clone()
            },
            Grant {
                disposition: "attachment".into(),
                ..g.clone()
            },
            Grant {
                expires: g.expires.plus_seconds(3600),
                ..g.clone()
            },
        ];
        for other in changed {
            assert_eq!(
                s.verify(&other, &sig, now),
                Err(Refusal::BadSignature),
                "{other:?}"
            );
        }
        // Another secret, garbage, a truncated or an overlong signature.
        let foreign = LocalSigner::new(&Secret::new("t".repeat(40)));
        assert_eq!(foreign.verify(&g, &sig, now), Err(Refusal::BadSignature));
        for bad in [
            "",
            "garbage!",
            &sig[..42],
            &format!("{sig}A"),
            &"A".repeat(1000),
        ] {
            assert_eq!(
                s.verify(&g, bad, now),
                Err(Refusal::BadSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_upload_must_bring_the_granted_size_and_type() {
        let s = signer();
        let now = Timestamp::from_millis(1_765_000_000_000);
        let g = upload(now);
        let sig = s.sign(&g);
        let table: &[(u64, &str, Result<(), Refusal>)] = &[
            (5, "image/png", Ok(())),
            (
                9,
                "image/png",
                Err(Refusal::WrongSize {
                    expected: 5,
                    received: 9,
                }),
            ),
            (
                4,
                "image/png",
                Err(Refusal::WrongSize {
                    expected: 5,
                    received: 4,
                }),
            ),
            (5, "image/gif", Err(Refusal::WrongContentType)),
            (5, "IMAGE/PNG", Err(Refusal::WrongContentType)),
        ];
        for (size, content_type, want) in table {
            let received = Received {
                size: *size,
                content_type,
            };
            assert_eq!(
                s.verify_upload(&g, &sig, now, received),
                *want,
                "{size} {content_type}"
            );
        }
        // A download grant is no upload grant, and an expired one fails before the size.
        let d = Grant {
            method: Method::Download,
            ..g.clone()
        };
        let ok = Received {
            size: 5,
            content_type: "image/png",
        };
        assert_eq!(
            s.verify_upload(&d, &s.sign(&d), now, ok),
            Err(Refusal::BadSignature)
        );
        let late = now.plus_seconds(901);
        let nine = Received {
            size: 9,
            content_type: "image/png",
        };
        assert_eq!(s.verify_upload(&g, &sig, late, nine), Err(Refusal::Expired));
    }

    #[test]
    fn the_upload_form_reads_back_to_its_grant() {
        let s = signer();
        let now = Timestamp::from_millis(1_765_000_000_000);
        let g = upload(now);
        let form = s.upload_form("http://127.0.0.1:3000/files", &g);
        assert_eq!(form.url, "http://127.0.0.1:3000/files");
        assert_eq!(form.expires_at, g.expires);
        // As a client sends them: field names in any case.
        let sent: Vec<(String, String)> = form
            .fields
            .0
            .iter()
            .map(|(k, v)| (k.to_uppercase(), v.clone()))
            .collect();
        let (back, sig) =
            upload_grant_from_fields(sent.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, g);
        assert_eq!(s.verify(&back, &sig, now), Ok(()));
        // A missing or repeated field is no grant.
        let fields: Vec<(&str, &str)> = form
            .fields
            .0
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        assert!(upload_grant_from_fields(fields[1..].iter().copied()).is_none());
        let mut twice = fields.clone();
        twice.push(("key", "attachments/x/y"));
        assert!(upload_grant_from_fields(twice).is_none());
    }

    #[test]
    fn the_download_url_reads_back_to_its_grant() {
        let s = signer();
        let now = Timestamp::from_millis(1_765_000_000_000);
        let g = Grant {
            method: Method::Download,
            disposition: "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf".into(),
            content_type: "application/pdf".into(),
            ..upload(now)
        };
        let url = s.download_url("http://127.0.0.1:3000/files/", &g);
        let rest = url.strip_prefix("http://127.0.0.1:3000/files/").unwrap();
        let (key, query) = rest.split_once('?').unwrap();
        assert_eq!(key, g.key);
        let (back, sig) = download_grant_from_query(key, query).unwrap();
        assert_eq!(back, g);
        assert_eq!(s.verify(&back, &sig, now), Ok(()));
        assert!(download_grant_from_query(key, "size=5").is_none());
    }

    #[test]
    fn files_are_named_by_ids_written_whole_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("crm-attach-{}", AttachmentId::new()));
        let ticket = TicketId::new();
        let id = AttachmentId::new();
        let path = file_path(&dir, &ticket, &id);
        assert_eq!(
            path,
            dir.join("attachments")
                .join(ticket.as_str())
                .join(id.as_str())
        );

        let mut f = PendingFile::create(&dir, &ticket, &id).unwrap();
        f.write(b"hello").unwrap();
        f.write(b" world").unwrap();
        assert_eq!(f.written(), 11);
        assert!(!path.exists(), "nothing in place before the commit");
        assert_eq!(f.commit().unwrap(), path);
        assert_eq!(fs::read(&path).unwrap(), b"hello world");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);

        // An abandoned write leaves nothing behind, and the committed file untouched.
        let mut g = PendingFile::create(&dir, &ticket, &id).unwrap();
        g.write(b"partial").unwrap();
        drop(g);
        assert_eq!(fs::read(&path).unwrap(), b"hello world");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from(id.as_str())]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
