//! Where the attachment bucket answers: in the cloud the virtual-hosted URL
//! `https://<bucket>.s3.<region>.amazonaws.com/`, with an endpoint override (moto, as the SDK's
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` give it) path style,
//! `http://127.0.0.1:<port>/<bucket>`.

use std::fmt;

/// A bucket name that is valid for S3 and usable virtual-hosted over HTTPS: 3–63 lowercase
/// letters, digits and hyphens, starting and ending with a letter or digit (S3's general
/// purpose bucket naming rules; dots are refused because they break the TLS certificate of
/// the virtual-hosted name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket(String);

impl Bucket {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let reserved = raw.starts_with("xn--")
            || raw.starts_with("sthree-")
            || raw.ends_with("-s3alias")
            || raw.ends_with("--ol-s3");
        if !(3..=63).contains(&raw.len())
            || !ok_chars
            || !ends(raw.bytes().next())
            || !ends(raw.bytes().last())
            || reserved
        {
            return Err(String::from(
                "must be an S3 bucket name of 3-63 lowercase letters, digits and hyphens",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How S3 is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// AWS: virtual-hosted style in the bucket's region.
    Aws,
    /// An emulator or S3-compatible store: path style under this base (`http://host:port`,
    /// no trailing slash).
    Override(String),
}

impl Endpoint {
    /// An override URL as the SDK takes it: `http(s)://host[:port][/base]`, no query.
    pub fn parse_override(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(String::from("must be an http(s) URL without query or user"));
        }
        Ok(Self::Override(
            url.as_str().trim_end_matches('/').to_owned(),
        ))
    }
}

/// An S3 region name (`us-east-1`): lowercase letters, digits and hyphens.
fn valid_region(raw: &str) -> bool {
    (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A bucket, its region and how it is reached: everything a URL or a signature needs besides
/// the key and the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketAddress {
    bucket: Bucket,
    region: String,
    endpoint: Endpoint,
}

impl BucketAddress {
    pub fn new(bucket: Bucket, region: &str, endpoint: Endpoint) -> Result<Self, String> {
        if !valid_region(region) {
            return Err(String::from("must be an AWS region name such as us-east-1"));
        }
        Ok(Self {
            bucket,
            region: region.to_owned(),
            endpoint,
        })
    }

    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The URL a POST upload goes to (the bucket itself).
    pub fn bucket_url(&self) -> String {
        match &self.endpoint {
            Endpoint::Aws => format!("https://{}/", self.virtual_host()),
            Endpoint::Override(base) => format!("{base}/{}", self.bucket),
        }
    }

    /// An object's URL; `key` is one of ours (`super::object_key`), each segment escaped as
    /// SigV4's canonical URI expects (RFC 3986 unreserved characters kept).
    pub fn object_url(&self, key: &str) -> String {
        let path = key
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string())
            .collect::<Vec<_>>()
            .join("/");
        match &self.endpoint {
            Endpoint::Aws => format!("https://{}/{path}", self.virtual_host()),
            Endpoint::Override(base) => format!("{base}/{}/{path}", self.bucket),
        }
    }

    fn virtual_host(&self) -> String {
        let domain = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("{}.s3.{}.{domain}", self.bucket, self.region)
    }
}

/// Everything but RFC 3986's unreserved characters is escaped (SigV4's `UriEncode`).
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["crm-attachments", "abc", "a1-b2", &"a".repeat(63)] {
            assert!(Bucket::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            &"a".repeat(64),
            "Crm",
            "crm.attachments",
            "-crm",
            "crm-",
            "crm_attachments",
            "xn--crm",
            "crm-s3alias",
            "crm--ol-s3",
            "crm/evil",
        ] {
            assert!(Bucket::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_in_the_cloud_and_on_an_emulator() {
        let bucket = Bucket::parse("crm-files").unwrap();
        let aws = BucketAddress::new(bucket.clone(), "eu-west-1", Endpoint::Aws).unwrap();
        assert_eq!(
            aws.bucket_url(),
            "https://crm-files.s3.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            aws.object_url("attachments/T/A"),
            "https://crm-files.s3.eu-west-1.amazonaws.com/attachments/T/A"
        );
        let cn = BucketAddress::new(bucket.clone(), "cn-north-1", Endpoint::Aws).unwrap();
        assert_eq!(
            cn.bucket_url(),
            "https://crm-files.s3.cn-north-1.amazonaws.com.cn/"
        );

        let moto = Endpoint::parse_override("http://127.0.0.1:4566/").unwrap();
        let local = BucketAddress::new(bucket, "us-east-1", moto).unwrap();
        assert_eq!(local.bucket_url(), "http://127.0.0.1:4566/crm-files");
        assert_eq!(
            local.object_url("a b/ü"),
            "http://127.0.0.1:4566/crm-files/a%20b/%C3%BC"
        );
    }

    #[test]
    fn bad_overrides_and_regions() {
        for bad in [
            "",
            "127.0.0.1:4566",
            "ftp://x",
            "http://x/?a=1",
            "http://u:p@x",
        ] {
            assert!(Endpoint::parse_override(bad).is_err(), "{bad}");
        }
        let bucket = Bucket::parse("crm-files").unwrap();
        for bad in ["", "US-EAST-1", "us-east-1/../x", "us east"] {
            assert!(BucketAddress::new(bucket.clone(), bad, Endpoint::Aws).is_err());
        }
    }
}
