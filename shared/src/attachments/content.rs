//! What may be attached (SPEC §13): the allowed content types, each stored and served under
//! one canonical name, and the size, from one byte up to `CRM_ATTACHMENT_MAX_BYTES`.

use crate::model::Invalid;
use std::fmt;

/// The allowed types (SPEC §13), by their registered names (IANA media types; the Office
/// formats as Microsoft registers them).
const ALLOWED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    // Word, Excel and PowerPoint (Office Open XML)
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    // Word 97-2003 (.doc), Excel 97-2003 (.xls), PowerPoint 97-2003 (.ppt)
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
];

/// Names browsers and tools report for an allowed type, and the type they stand for (Windows
/// browsers report a ZIP file as `application/x-zip-compressed`; `image/jpg` is common).
const ALIASES: &[(&str, &str)] = &[
    ("image/jpg", "image/jpeg"),
    ("image/pjpeg", "image/jpeg"),
    ("application/x-zip-compressed", "application/zip"),
    ("application/x-zip", "application/zip"),
    ("text/x-csv", "text/csv"),
    ("application/csv", "text/csv"),
];

/// A charset name as a token (RFC 9110 §5.6.2), kept short.
fn is_charset(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// An allowed content type in its canonical form: lowercase, aliases resolved, and for text
/// types at most a `charset` parameter (`text/plain; charset=utf-8`). This exact string is what
/// the upload policy requires and what downloads are served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

impl ContentType {
    /// Takes a type as a client sends it (any case, spaces around `;`); anything not allowed
    /// is a 400 naming `contentType`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refuse = |why: &str| Invalid::new("contentType", format!("contentType {why}."));
        let lower = raw.trim().to_ascii_lowercase();
        let mut parts = lower.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        let essence = ALIASES
            .iter()
            .find(|(alias, _)| *alias == essence)
            .map_or(essence, |(_, canonical)| canonical);
        let Some(essence) = ALLOWED.iter().find(|t| **t == essence) else {
            return Err(refuse(
                "must be one of PNG, JPEG, GIF, WebP, PDF, plain text, CSV, ZIP or an Office document",
            ));
        };
        let mut charset = None;
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let value = value.trim().trim_matches('"');
            if name.trim() != "charset" || !essence.starts_with("text/") || charset.is_some() {
                return Err(refuse(
                    "takes no parameters other than a text type's charset",
                ));
            }
            if !is_charset(value) {
                return Err(refuse("has an invalid charset"));
            }
            charset = Some(value.to_owned());
        }
        Ok(Self(match charset {
            Some(c) => format!("{essence}; charset={c}"),
            None => (*essence).to_owned(),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default largest attachment (SPEC §14: 10 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The largest object one S3 POST may carry is the largest single PUT, 5 GiB.
const S3_SINGLE_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024 * 1024;

/// The largest attachment accepted (`CRM_ATTACHMENT_MAX_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxBytes(u64);

impl MaxBytes {
    /// The setting's value: unset or empty is the default; otherwise a whole number of bytes
    /// from 1 to 5 GiB. The error is the problem, for a `ConfigError` naming the variable.
    pub fn from_setting(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Self(DEFAULT_MAX_BYTES));
        };
        match raw.parse::<u64>() {
            Ok(n) if (1..=S3_SINGLE_UPLOAD_LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(format!(
                "must be a number of bytes from 1 to {S3_SINGLE_UPLOAD_LIMIT}"
            )),
        }
    }

    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl Default for MaxBytes {
    fn default() -> Self {
        Self(DEFAULT_MAX_BYTES)
    }
}

/// A declared attachment size: at least one byte, at most the configured maximum. The upload
/// policy then requires exactly this size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentSize(u64);

impl AttachmentSize {
    pub fn parse(size: u64, max: MaxBytes) -> Result<Self, Invalid> {
        if size == 0 {
            return Err(Invalid::new("size", "size must be at least 1 byte."));
        }
        if size > max.bytes() {
            return Err(Invalid::new(
                "size",
                format!("size must be at most {} bytes.", max.bytes()),
            ));
        }
        Ok(Self(size))
    }

    pub fn bytes(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_types_by_their_names_and_aliases() {
        let table: &[(&str, Option<&str>)] = &[
            ("image/png", Some("image/png")),
            ("IMAGE/PNG", Some("image/png")),
            (" image/jpeg ", Some("image/jpeg")),
            ("image/jpg", Some("image/jpeg")),
            ("image/pjpeg", Some("image/jpeg")),
            ("image/gif", Some("image/gif")),
            ("image/webp", Some("image/webp")),
            ("application/pdf", Some("application/pdf")),
            ("text/plain", Some("text/plain")),
            (
                "text/plain; charset=UTF-8",
                Some("text/plain; charset=utf-8"),
            ),
            (
                "text/csv;charset=\"iso-8859-1\"",
                Some("text/csv; charset=iso-8859-1"),
            ),
            ("text/csv", Some("text/csv")),
            ("text/x-csv", Some("text/csv")),
            ("application/csv", Some("text/csv")),
            ("application/zip", Some("application/zip")),
            ("application/x-zip-compressed", Some("application/zip")),
            ("application/x-zip", Some("application/zip")),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ),
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ),
            (
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                Some("application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            ),
            ("application/msword", Some("application/msword")),
            ("application/vnd.ms-excel", Some("application/vnd.ms-excel")),
            (
                "application/vnd.ms-powerpoint",
                Some("application/vnd.ms-powerpoint"),
            ),
            // Refused: other types, executable and active content, parameters, garbage.
            ("text/html", None),
            ("image/svg+xml", None),
            ("application/octet-stream", None),
            ("application/x-msdownload", None),
            ("application/javascript", None),
            ("application/vnd.ms-excel.sheet.macroEnabled.12", None),
            ("image/png; charset=utf-8", None),
            ("text/plain; name=x", None),
            ("text/plain; charset=utf-8; charset=latin1", None),
            ("text/plain; charset=", None),
            ("text/plain; charset=a\r\nX-Evil: 1", None),
            ("image/png\r\nX-Evil: 1", None),
            ("image/*", None),
            ("", None),
            ("png", None),
        ];
        for (raw, want) in table {
            let got = ContentType::parse(raw);
            assert_eq!(
                got.as_ref().ok().map(ContentType::as_str),
                *want,
                "{raw:?} -> {got:?}"
            );
            if let Err(e) = got {
                assert_eq!(e.field, "contentType");
            }
        }
    }

    #[test]
    fn sizes_from_one_byte_to_the_maximum() {
        let max = MaxBytes::default();
        assert_eq!(max.bytes(), 10_485_760);
        let table: &[(u64, bool)] = &[
            (0, false),
            (1, true),
            (5, true),
            (10_485_760, true),
            (10_485_761, false),
            (u64::MAX, false),
        ];
        for (size, ok) in table {
            let got = AttachmentSize::parse(*size, max);
            assert_eq!(got.is_ok(), *ok, "{size}");
            if let Err(e) = got {
                assert_eq!(e.field, "size");
            }
        }
        let small = MaxBytes::from_setting(Some("5")).unwrap();
        assert!(AttachmentSize::parse(5, small).is_ok());
        assert!(AttachmentSize::parse(6, small).is_err());
    }

    #[test]
    fn the_maximum_setting() {
        let table: &[(Option<&str>, Option<u64>)] = &[
            (None, Some(10_485_760)),
            (Some(""), Some(10_485_760)),
            (Some(" 1048576 "), Some(1_048_576)),
            (Some("1"), Some(1)),
            (Some("5368709120"), Some(5_368_709_120)),
            (Some("5368709121"), None),
            (Some("0"), None),
            (Some("-1"), None),
            (Some("10MB"), None),
        ];
        for (raw, want) in table {
            assert_eq!(
                MaxBytes::from_setting(*raw).ok().map(MaxBytes::bytes),
                *want,
                "{raw:?}"
            );
        }
    }
}
