//! SES's SPF, DKIM and DMARC verdicts, read from the `Authentication-Results` header SES
//! receiving adds at the top of every message it stores (SPEC §9: in the cloud a sender counts
//! only with SPF or DKIM `pass`, and DMARC `pass` where the domain publishes a policy).
//!
//! The header is shown, authserv-id `amazonses.com`, in the SES Developer Guide's sample
//! incoming mail events ("Lambda action → Sample incoming email event",
//! https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html), e.g.
//! `amazonses.com; spf=pass (spfCheck: …) client-ip=203.0.113.0; envelope-from=…;
//! helo=smtp.example.com; dkim=pass header.i=@example.com; dmarc=none
//! header.from=example.com;` — RFC 8601 syntax, except that the SPF details that follow the
//! comment are separated by `;` too. The verdicts' meanings are those of the receipt object's
//! `spfVerdict`, `dkimVerdict` and `dmarcVerdict` ("Contents of notifications for Amazon SES
//! email receiving", receiving-email-notifications-contents.html).
//!
//! Only the first `Authentication-Results` field counts, and only if SES wrote it: anything
//! below it came with the message and may be forged (RFC 8601 §5). Mail that did not come
//! through SES (the local SMTP listener) has no verdicts to trust at all.
//!
//! Inside SES's field, the SPF details (`envelope-from=`, `helo=`) carry what the sending
//! server said, so a `;` there could smuggle in a segment. SES writes `spf=` first and `dkim=`
//! and `dmarc=` after those details, so the first `spf=` and the last `dkim=` and `dmarc=`
//! are SES's own whenever SES reported that method. Where the receipt notification's JSON
//! (`spfVerdict`, `dkimVerdict`, `dmarcVerdict`) is at hand, it is the stronger source.

/// The authserv-id SES receiving writes.
pub const SES_AUTHSERV_ID: &str = "amazonses.com";

/// An RFC 8601 result keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    /// No policy or no signature (for DMARC: the domain publishes no policy).
    None,
    TempError,
    PermError,
    /// Any other keyword (`policy`, `hardfail`, a typo): never a pass.
    Other,
}

impl Verdict {
    fn parse(word: &str) -> Self {
        match word.to_ascii_lowercase().as_str() {
            "pass" => Self::Pass,
            "fail" => Self::Fail,
            "softfail" => Self::SoftFail,
            "neutral" => Self::Neutral,
            "none" => Self::None,
            "temperror" => Self::TempError,
            "permerror" => Self::PermError,
            _ => Self::Other,
        }
    }
}

/// SES's verdicts on one message; a method SES did not report is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthResults {
    pub spf: Option<Verdict>,
    pub dkim: Option<Verdict>,
    pub dmarc: Option<Verdict>,
}

/// The value with RFC 5322 comments `( … )` (nested, with `\` escapes) removed; quoted
/// strings are kept whole, so a `;` or `(` inside quotes is not structure.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `value` split at the `;` outside quoted strings.
fn segments(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// The verdicts of one `Authentication-Results` value (unfolded), if its authserv-id is SES's.
pub fn parse_ses(value: &str) -> Option<AuthResults> {
    let clean = strip_comments(value);
    let mut segments = segments(&clean).into_iter();
    // The authserv-id, optionally followed by a version number.
    let authserv = segments.next()?.split_whitespace().next()?;
    if !authserv.eq_ignore_ascii_case(SES_AUTHSERV_ID) {
        return None;
    }
    let mut r = AuthResults::default();
    for segment in segments {
        let Some(first) = segment.split_whitespace().next() else {
            continue;
        };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        // `dkim/1`: a method may carry a version.
        let method = method.split('/').next().unwrap_or(method);
        let verdict = Verdict::parse(result);
        if method.eq_ignore_ascii_case("spf") {
            r.spf.get_or_insert(verdict);
        } else if method.eq_ignore_ascii_case("dkim") {
            r.dkim = Some(verdict);
        } else if method.eq_ignore_ascii_case("dmarc") {
            r.dmarc = Some(verdict);
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_ses_writes() {
        // The shape of the SES Developer Guide's sample event (addresses ours).
        let v = "amazonses.com; spf=pass (spfCheck: domain of example.com designates 203.0.113.0 as permitted sender) client-ip=203.0.113.0; envelope-from=jane@example.com; helo=smtp.example.com; dkim=pass header.i=@example.com; dmarc=none header.from=example.com;";
        assert_eq!(
            parse_ses(v),
            Some(AuthResults {
                spf: Some(Verdict::Pass),
                dkim: Some(Verdict::Pass),
                dmarc: Some(Verdict::None),
            })
        );
    }

    #[test]
    fn failures_missing_methods_and_several_signatures() {
        let v = "amazonses.com; spf=softfail (spfCheck: transitioning domain of example.com does not designate 203.0.113.9 as permitted sender) client-ip=203.0.113.9; envelope-from=x@example.com; helo=mx.example.net; dmarc=fail header.from=example.com;";
        assert_eq!(
            parse_ses(v),
            Some(AuthResults {
                spf: Some(Verdict::SoftFail),
                dkim: None,
                dmarc: Some(Verdict::Fail),
            })
        );
        let two = "AmazonSES.com 1;\r\n spf=PermError (x; y) smtp.mailfrom=z;\r\n dkim=fail header.i=@a.example; dkim=PASS header.i=@b.example";
        assert_eq!(
            parse_ses(&two.replace("\r\n", "")),
            Some(AuthResults {
                spf: Some(Verdict::PermError),
                dkim: Some(Verdict::Pass),
                dmarc: None,
            })
        );
        assert_eq!(
            parse_ses("amazonses.com; dkim/1=weird").map(|r| r.dkim),
            Some(Some(Verdict::Other))
        );
    }

    #[test]
    fn another_authserv_id_or_garbage_is_not_ses() {
        for v in [
            "mx.google.com; spf=pass smtp.mailfrom=x@example.com",
            "amazonses.com.evil.example; spf=pass",
            "(amazonses.com) evil; spf=pass",
            "",
            ";;;",
            "\"amazonses.com\"; spf=pass",
        ] {
            assert_eq!(parse_ses(v), None, "{v}");
        }
    }

    #[test]
    fn a_segment_smuggled_into_the_spf_details_does_not_count() {
        // The sending server chose the envelope sender; SES's own verdicts come after it.
        let v = "amazonses.com; spf=fail (spfCheck: x) client-ip=203.0.113.9; envelope-from=a; spf=pass; dkim=pass; dmarc=pass; helo=evil.example; dkim=fail header.i=@evil.example; dmarc=fail header.from=example.com;";
        assert_eq!(
            parse_ses(v),
            Some(AuthResults {
                spf: Some(Verdict::Fail),
                dkim: Some(Verdict::Fail),
                dmarc: Some(Verdict::Fail),
            })
        );
        // Quoted, a `;` is not a separator at all.
        let q = "amazonses.com; spf=fail client-ip=203.0.113.9; envelope-from=\"a;dkim=pass\"@evil.example; helo=x;";
        assert_eq!(parse_ses(q).map(|r| r.dkim), Some(None));
    }

    #[test]
    fn comments_and_quotes_do_not_make_structure() {
        let v = "amazonses.com; spf=fail (a comment; with spf=pass (nested) inside) smtp.mailfrom=\"odd;(x\"@example.com; dkim=none";
        assert_eq!(
            parse_ses(v),
            Some(AuthResults {
                spf: Some(Verdict::Fail),
                dkim: Some(Verdict::None),
                dmarc: None,
            })
        );
        // Unbalanced input ends without a panic.
        let _ = parse_ses("amazonses.com; spf=pass (((\\");
        let _ = parse_ses("amazonses.com; spf=\"pass");
    }
}
