//! An attachment's file name: shown back to users and sent in the download's
//! `Content-Disposition`. A name that could pass for a path, break a header or reorder what a
//! reader sees is refused with a 400 naming `fileName`; any other Unicode name is kept as
//! given (trimmed). The header value is built here, injection-free whatever its input.

use crate::model::Invalid;
use crate::model::text::{Lines, parse_text};
use std::fmt;

/// At most this many characters (the usual file-system limit).
pub const MAX_CHARS: usize = 255;

/// Characters with the Unicode `Bidi_Control` property: the embeddings, overrides and
/// isolates (refused in every text field, SPEC §1) and the marks (ALM, LRM, RLM), which can
/// also make `txt.exe` read as `exe.txt`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// A file name as the user gave it, trimmed: one line of visible text (SPEC §1's one-line
/// rules: no control characters, line or paragraph separators, bidi controls), without
/// path separators, not `.` or `..`, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        const FIELD: &str = "fileName";
        let name = parse_text(FIELD, raw, MAX_CHARS, Lines::One)?;
        if name.contains(['/', '\\']) {
            return Err(Invalid::new(
                FIELD,
                "fileName must be a name without path separators (/ or \\).",
            ));
        }
        if name.contains(is_bidi_control) {
            return Err(Invalid::new(
                FIELD,
                "fileName must not contain bidirectional control characters.",
            ));
        }
        if name == "." || name == ".." {
            return Err(Invalid::new(FIELD, "fileName must be a file name."));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266
/// §4.1 and §4.3, the extended parameter as RFC 8187 §3.2 defines it): user agents that read
/// `filename*` get the exact name; older ones the fallback.
pub fn content_disposition(name: &FileName) -> String {
    disposition(name.as_str())
}

/// The header value for any string: only visible ASCII and spaces come out, so no input can
/// end the header or add another.
fn disposition(name: &str) -> String {
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(name),
        ext_value(name)
    )
}

/// The name as a quoted-string of visible ASCII: every other character becomes `_`, and so do
/// the quote and the backslash (which would need escaping, which user agents handle
/// unevenly), `%` (which some decode, RFC 6266 §4.3), and `;` and `=` (so that not even a
/// parser blind to quotes finds a parameter inside it).
fn ascii_fallback(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            ' ' => ' ',
            '"' | '\\' | '%' | ';' | '=' => '_',
            c if c.is_ascii_graphic() => c,
            _ => '_',
        })
        .collect();
    if mapped.trim().is_empty() {
        String::from("download")
    } else {
        mapped
    }
}

/// RFC 8187 §3.2.1 `value-chars`: `attr-char` kept, every other UTF-8 byte as `%XX`.
fn ext_value(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        let attr_char = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_names_are_kept_as_given() {
        for raw in [
            "Übersicht März.pdf",
            "screenshot 2026-12-06 at 10.42.13.png",
            "日本語の報告書.docx",
            "Printer 254 🖨.jpg",
            "a\u{301}.txt",
            "report (final) [v2] #3 100%.xlsx",
            "\"quoted\" name.csv",
            "no-extension",
            ".hidden",
            "..pdf",
        ] {
            assert_eq!(FileName::parse(raw).unwrap().as_str(), raw, "{raw:?}");
        }
        assert_eq!(
            FileName::parse("  spaced.pdf \t").unwrap().as_str(),
            "spaced.pdf"
        );
        let longest = "a".repeat(MAX_CHARS - 4) + ".pdf";
        assert!(FileName::parse(&longest).is_ok());
        let multibyte = "é".repeat(MAX_CHARS);
        assert!(FileName::parse(&multibyte).is_ok(), "characters, not bytes");
    }

    #[test]
    fn hostile_names_are_refused_naming_the_field() {
        for raw in [
            "",
            "   ",
            "\u{200B}",
            ".",
            "..",
            "../../etc/passwd",
            "dir/file.pdf",
            "C:\\Windows\\evil.exe",
            "a\r\nContent-Type: text/html.pdf",
            "a\nb.pdf",
            "a\rb.pdf",
            "a\tb.pdf",
            "a\u{0}b.pdf",
            "a\u{7f}b.pdf",
            "a\u{85}b.pdf",
            "a\u{1b}[31mb.pdf",
            "a\u{2028}b.pdf",
            "a\u{2029}b.pdf",
            "invoice\u{202E}fdp.exe",
            "a\u{202A}b.pdf",
            "a\u{2066}b.pdf",
            "a\u{2069}b.pdf",
            "a\u{200E}b.pdf",
            "a\u{200F}b.pdf",
            "a\u{061C}b.pdf",
            "a\u{FFFF}b.pdf",
        ] {
            let e = FileName::parse(raw).expect_err(raw);
            assert_eq!(e.field, "fileName", "{raw:?}");
        }
        let too_long = "a".repeat(MAX_CHARS - 3) + ".pdf";
        assert_eq!(FileName::parse(&too_long).unwrap_err().field, "fileName");
    }

    #[test]
    fn content_disposition_values() {
        let table: &[(&str, &str)] = &[
            (
                "report.pdf",
                "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
            ),
            (
                "Übersicht März.pdf",
                "attachment; filename=\"_bersicht M_rz.pdf\"; filename*=UTF-8''%C3%9Cbersicht%20M%C3%A4rz.pdf",
            ),
            (
                "\"quoted\" 100%.csv",
                "attachment; filename=\"_quoted_ 100_.csv\"; filename*=UTF-8''%22quoted%22%20100%25.csv",
            ),
            (
                "日本.txt",
                "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt",
            ),
            (
                "a;b=c,d'e.txt",
                "attachment; filename=\"a_b_c,d'e.txt\"; filename*=UTF-8''a%3Bb%3Dc%2Cd%27e.txt",
            ),
        ];
        for (name, want) in table {
            let parsed = FileName::parse(name).unwrap();
            assert_eq!(content_disposition(&parsed), *want, "{name:?}");
            assert!(http::HeaderValue::from_str(want).is_ok());
        }
    }

    #[test]
    fn hostile_input_cannot_break_the_header_even_unparsed() {
        for raw in [
            "a\r\nSet-Cookie: x=1",
            "a\"; filename*=UTF-8''evil.exe",
            "\u{202E}exe.pdf",
            "\u{0}",
            "",
        ] {
            let v = disposition(raw);
            assert!(
                v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
                "{v:?}"
            );
            assert_eq!(v.matches("filename=").count(), 1, "{v:?}");
            assert_eq!(v.matches("filename*=").count(), 1, "{v:?}");
        }
    }

    /// Percent-decodes an RFC 8187 value back to its UTF-8 text.
    fn decode_ext(v: &str) -> String {
        let mut bytes = Vec::new();
        let mut it = v.bytes();
        while let Some(b) = it.next() {
            if b == b'%' {
                let hex = [it.next().unwrap(), it.next().unwrap()];
                let s = std::str::from_utf8(&hex).unwrap();
                bytes.push(u8::from_str_radix(s, 16).unwrap());
            } else {
                bytes.push(b);
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    proptest! {
        /// Whatever the name, the value is one valid header value of visible ASCII whose
        /// extended parameter gives the name back exactly.
        #[test]
        fn any_name_round_trips_through_a_safe_header(name in any::<String>()) {
            let v = disposition(&name);
            prop_assert!(http::HeaderValue::from_str(&v).is_ok());
            prop_assert!(v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
            let ext = v.split_once("filename*=UTF-8''").unwrap().1;
            prop_assert!(!ext.contains([' ', ';', '"']));
            prop_assert_eq!(decode_ext(ext), name);
        }

        /// The fallback stays inside its quotes.
        #[test]
        fn the_fallback_is_a_plain_quoted_string(name in any::<String>()) {
            let fallback = ascii_fallback(&name);
            prop_assert!(!fallback.contains(['"', '\\', '%', ';', '=']));
            prop_assert!(fallback.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
        }
    }
}
