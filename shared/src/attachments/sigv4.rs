//! The pieces of AWS Signature Version 4 that S3's POST policy uses beside a request signature:
//! the date formats, the credential scope and an HMAC-SHA256 signature with the derived
//! signing key. The key derivation and the HMAC are the SDK's own (`aws-sigv4`).

use crate::model::Timestamp;
use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime};

pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";

/// The instant as the signing code takes it.
pub(super) fn system_time(t: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(t.millis()).unwrap_or(0))
}

fn utc(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.millis()).unwrap_or_default()
}

/// `20151229T000000Z`: the `x-amz-date` format.
pub(super) fn amz_date(t: Timestamp) -> String {
    utc(t).format("%Y%m%dT%H%M%SZ").to_string()
}

/// `<access key>/<yyyymmdd>/<region>/s3/aws4_request`: the `x-amz-credential` value.
pub(super) fn credential(access_key_id: &str, t: Timestamp, region: &str) -> String {
    format!(
        "{access_key_id}/{}/{region}/{SERVICE}/aws4_request",
        utc(t).format("%Y%m%d")
    )
}

/// The hex HMAC-SHA256 of `string_to_sign` under the SigV4 signing key of this secret, day
/// and region for S3.
pub(super) fn signature(secret: &str, t: Timestamp, region: &str, string_to_sign: &str) -> String {
    use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
    let key = generate_signing_key(secret, system_time(t), region, SERVICE);
    calculate_signature(key, string_to_sign.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // 2015-12-29T00:00:00Z, the day of the S3 documentation's POST example.
        let t = Timestamp::from_millis(1_451_347_200_000);
        assert_eq!(amz_date(t), "20151229T000000Z");
        assert_eq!(
            credential("AKIAIOSFODNN7EXAMPLE", t, "us-east-1"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
        assert_eq!(
            system_time(t),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_451_347_200)
        );
    }
}
