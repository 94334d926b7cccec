//! One inbound raw message parsed into what the mail channel decides on (SPEC §9): who sent
//! it, to which addresses, the subject as a title, the text, its ids, and the signals that
//! it is automatic or our own mail — or why it cannot be read at all. Mail is hostile input:
//! nothing here panics or grows without bound, and nothing logs its content.

use crate::auth_results::{self, AuthResults};
use crate::{MAX_MESSAGE_BYTES, html};
use crm_shared::mail::{EVENT_HEADER, InboundAddress};
use crm_shared::model::Title;
use crm_shared::model::text::{one_line, sqs_refuses};
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

/// Multiparts nested deeper than this are refused: real clients nest three or four levels
/// (mixed → related → alternative); more is a parser bomb.
pub const MAX_DEPTH: usize = 16;
/// A subject becomes a title of at most this many characters (SPEC §9).
pub const SUBJECT_CHARS: usize = 200;
/// The title of a mail without a subject (SPEC §9).
pub const NO_SUBJECT: &str = "(no subject)";
/// At most this many recipients and thread ids are kept: enough for any real mail.
const MAX_LIST: usize = 100;
/// A Message-ID longer than this is not an id but an attack on the store's keys: the
/// message is named by its hash instead.
const MAX_MESSAGE_ID: usize = 250;

/// Why a message cannot be read; each is one log line's reason (no mail content in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("message over {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("not a mail message")]
    Unparseable,
    #[error("no text in the message")]
    NoText,
    #[error("text in a charset the parser does not know ({0})")]
    UnknownCharset(String),
    #[error("multiparts nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// What the headers say about who or what wrote the message: automatic mail (SPEC §9) and
/// our own. Raw values, lower case; `Inbound::automatic` decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// `Auto-Submitted`, if present (`no` is a person's mail).
    pub auto_submitted: Option<String>,
    /// `Precedence`, if present.
    pub precedence: Option<String>,
    /// A `List-Id` header is present: mailing-list traffic.
    pub list_id: bool,
    /// The header the service puts on every mail it sends is present.
    pub crm_event: bool,
}

/// Why a message is automatic or our own: never answered, never a ticket or comment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Automatic {
    #[error("automatic mail (Auto-Submitted: {0})")]
    AutoSubmitted(String),
    #[error("automatic mail (Precedence: {0})")]
    Precedence(String),
    #[error("mailing-list mail (List-Id)")]
    ListId,
    #[error("mail the service itself sent")]
    OwnMail,
}

/// An inbound message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The `From` address, lower case (the envelope sender is the caller's: SMTP's `MAIL FROM`
    /// or SES's `Return-Path`). `None` when there is no usable one.
    pub from: Option<String>,
    /// The `To`, `Cc` and `Delivered-To` addresses, lower case, each once (the caller adds
    /// the envelope recipients).
    pub recipients: Vec<String>,
    /// The subject made one line: a valid title, `(no subject)` when there is none.
    pub subject: Title,
    /// The text: the text/plain parts, else the HTML converted; line breaks `\n`, no control
    /// characters other than line breaks and tabs, no bidirectional controls. Quoted part and
    /// signature still in (`quote::new_text` cuts them).
    pub body: String,
    /// `Message-ID` without its angle brackets, else the SHA-256 of the raw message in hex:
    /// what makes handling the same message twice do one thing.
    pub message_id: String,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets.
    pub references: Vec<String>,
    pub signals: Signals,
    /// SES's verdicts, from the first `Authentication-Results` if SES wrote it (see
    /// `auth_results`). Meaningful only for mail SES received.
    pub auth: Option<AuthResults>,
}

impl Inbound {
    /// Why this message must be dropped without a reply, if it must: automatic mail, or mail
    /// the service sent (our header, or a Message-ID in our domain).
    pub fn automatic(&self, inbound: &InboundAddress) -> Option<Automatic> {
        let s = &self.signals;
        if s.crm_event || inbound.is_own_message_id(&self.message_id) {
            return Some(Automatic::OwnMail);
        }
        if let Some(v) = s.auto_submitted.as_deref().filter(|v| *v != "no") {
            return Some(Automatic::AutoSubmitted(v.to_owned()));
        }
        if let Some(v) = s
            .precedence
            .as_deref()
            .filter(|v| matches!(*v, "bulk" | "list" | "junk"))
        {
            return Some(Automatic::Precedence(v.to_owned()));
        }
        s.list_id.then_some(Automatic::ListId)
    }
}

/// Parses one raw message (RFC 5322 bytes, as stored by SES or received over SMTP).
pub fn parse(raw: &[u8]) -> Result<Inbound, Refusal> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(Refusal::TooLarge);
    }
    // mail-parser is built not to panic; should it ever, on input crafted for it, this
    // message is refused instead of failing the whole batch it came in.
    std::panic::catch_unwind(|| read(raw)).unwrap_or(Err(Refusal::Unparseable))
}

fn read(raw: &[u8]) -> Result<Inbound, Refusal> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(Refusal::Unparseable)?;
    if msg.parts.is_empty() || msg.parts[0].headers.is_empty() {
        return Err(Refusal::Unparseable);
    }
    check_depth(&msg)?;
    let body = body_text(&msg)?;
    Ok(Inbound {
        from: msg
            .from()
            .and_then(Address::first)
            .and_then(|a| address(a.address.as_deref())),
        recipients: recipients(&msg),
        subject: subject(msg.subject()),
        body,
        message_id: message_id(msg.message_id(), raw),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        signals: signals(&msg),
        auth: msg
            .headers_raw()
            .find(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .and_then(|(_, value)| auth_results::parse_ses(&unfold(value))),
    })
}

/// Refuses multiparts nested deeper than `MAX_DEPTH`, walking with a stack of its own.
fn check_depth(msg: &Message<'_>) -> Result<(), Refusal> {
    let mut stack = vec![(0usize, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Refusal::TooDeep);
        }
        if let Some(children) = msg.parts.get(id).and_then(|p| p.sub_parts()) {
            stack.extend(children.iter().map(|&c| (c as usize, depth + 1)));
        }
    }
    Ok(())
}

/// The text bodies joined: text/plain as it is, HTML converted; refused when a part's
/// charset is unknown to the parser (it would decode as replacement characters) or when
/// nothing readable is left.
fn body_text(msg: &Message<'_>) -> Result<String, Refusal> {
    let mut text = String::new();
    for part in msg.text_bodies() {
        if let Some(cs) = part.content_type().and_then(|ct| ct.attribute("charset"))
            && !known_charset(cs)
        {
            return Err(Refusal::UnknownCharset(printable(cs, 40)));
        }
        let piece = match &part.body {
            PartType::Text(t) => clean_text(t),
            PartType::Html(h) => clean_text(&html::to_text(h)),
            _ => continue,
        };
        if !piece.trim().is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&piece);
        }
    }
    if text.trim().is_empty() {
        return Err(Refusal::NoText);
    }
    Ok(text)
}

/// UTF-8 (which mail-parser reads natively, without a decoder) or a charset it has a
/// decoder for; any other label would be read as UTF-8 and come out as U+FFFD.
fn known_charset(label: &str) -> bool {
    const UTF8: &[&str] = &[
        "utf-8",
        "utf8",
        "unicode-1-1-utf-8",
        "unicode11utf8",
        "unicode20utf8",
        "x-unicode20utf8",
    ];
    let l = label.trim();
    UTF8.iter().any(|u| u.eq_ignore_ascii_case(l)) || charset_decoder(l.as_bytes()).is_some()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text as the multi-line rule of SPEC §1 accepts it: `\n` line breaks (CRLF, CR and the
/// Unicode separators become one), tabs kept, other controls, bidi controls and the
/// characters SQS refuses dropped.
fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t' => out.push('\t'),
            c if c.is_control() || is_bidi_control(c) || sqs_refuses(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// The subject made one line (controls, line breaks, bidi controls become spaces; runs of
/// spaces one), cut to `SUBJECT_CHARS` on a character boundary; `(no subject)` if nothing
/// visible is left.
fn subject(raw: Option<&str>) -> Title {
    let flat = one_line(raw.unwrap_or_default());
    let spaced: String = flat
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(SUBJECT_CHARS)
        .collect();
    Title::parse(spaced.trim()).unwrap_or_else(|_| no_subject())
}

fn no_subject() -> Title {
    match Title::parse(NO_SUBJECT) {
        Ok(t) => t,
        // A constant the title rules accept (tested); unreachable.
        Err(_) => unreachable!("(no subject) is a valid title"),
    }
}

/// An address if it looks like one (something@something, no spaces or controls), lower case.
fn address(raw: Option<&str>) -> Option<String> {
    let a = raw?.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = a.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && a.len() <= 320
        && !a.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| a.to_lowercase())
}

fn recipients(msg: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |a: Option<String>| {
        if let Some(a) = a
            && out.len() < MAX_LIST
            && !out.contains(&a)
        {
            out.push(a);
        }
    };
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            push(address(a.address.as_deref()));
        }
    }
    for (name, value) in msg.headers_raw() {
        if name.eq_ignore_ascii_case("Delivered-To") {
            push(address(Some(&unfold(value))));
        }
    }
    out
}

/// A header's raw value unfolded (RFC 5322 §2.2.3) and trimmed.
fn unfold(raw: &str) -> String {
    raw.replace(['\r', '\n'], "").trim().to_owned()
}

/// At most `max` characters of `s`, keeping only printable ASCII: for log lines.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect()
}

fn message_id(id: Option<&str>, raw: &[u8]) -> String {
    match id.map(str::trim) {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_MESSAGE_ID
                && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            id.to_owned()
        }
        _ => {
            let digest = ring::digest::digest(&ring::digest::SHA256, raw);
            digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The ids of `In-Reply-To` or `References`, without angle brackets.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(str::trim)
        .filter(|id| {
            !id.is_empty() && id.len() <= MAX_MESSAGE_ID && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .take(MAX_LIST)
        .map(str::to_owned)
        .collect()
}

fn signals(msg: &Message<'_>) -> Signals {
    let mut s = Signals::default();
    // The first word, lower case: `auto-replied; x=y` is `auto-replied`.
    let word = |v: &str| {
        let v = unfold(v).to_ascii_lowercase();
        printable(v.split(';').next().unwrap_or_default().trim(), 40)
    };
    for (name, value) in msg.headers_raw() {
        if name.eq_ignore_ascii_case("Auto-Submitted") {
            s.auto_submitted.get_or_insert_with(|| word(value));
        } else if name.eq_ignore_ascii_case("Precedence") {
            s.precedence.get_or_insert_with(|| word(value));
        } else if name.eq_ignore_ascii_case("List-Id") {
            s.list_id = true;
        } else if name.eq_ignore_ascii_case(EVENT_HEADER) {
            s.crm_event = true;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn no_subject_is_a_valid_title() {
        assert_eq!(no_subject().as_str(), "(no subject)");
    }

    #[test]
    fn subjects_become_one_line_titles() {
        let long = "é".repeat(250);
        let cases: &[(Option<&str>, &str)] = &[
            (Some("Printer on fire"), "Printer on fire"),
            (Some("  a\r\n\tb  "), "a b"),
            (
                Some("Re: \u{202E}gnp.exe\u{202C} invoice"),
                "Re: gnp.exe invoice",
            ),
            (Some("x\u{2028}y\u{0}z\u{85}w"), "x y z w"),
            (Some("\u{200B}\u{200B}"), "(no subject)"),
            (Some("   "), "(no subject)"),
            (Some(""), "(no subject)"),
            (None, "(no subject)"),
            (Some("a\u{FFFE}b"), "a b"),
        ];
        for (raw, want) in cases {
            assert_eq!(subject(*raw).as_str(), *want, "{raw:?}");
        }
        let cut = subject(Some(&long));
        assert_eq!(cut.as_str().chars().count(), SUBJECT_CHARS);
        // 199 visible characters then a space: the cut title has no trailing space.
        let edge = format!("{} tail", "x".repeat(199));
        assert_eq!(subject(Some(&edge)).as_str(), "x".repeat(199));
    }

    #[test]
    fn charsets_known_and_unknown() {
        for known in [
            "UTF-8",
            "utf8",
            "us-ascii",
            "ISO-8859-1",
            "windows-1252",
            "iso-2022-jp",
            "Shift_JIS",
            "gb18030",
            "big5",
            "euc-kr",
            "koi8-r",
        ] {
            assert!(known_charset(known), "{known}");
        }
        for unknown in ["x-klingon", "", "utf-9", "unknown-8bit"] {
            assert!(!known_charset(unknown), "{unknown}");
        }
    }

    #[test]
    fn text_is_cleaned_to_the_multi_line_rule() {
        assert_eq!(
            clean_text("a\r\nb\rc\nd\u{2028}e\tf\u{0}\u{7}\u{1b}g\u{202E}h\u{FFFF}i"),
            "a\nb\nc\nd\ne\tfghi"
        );
    }

    #[test]
    fn message_ids_and_their_hash_fallback() {
        let raw = mail("From: a@example.com\r\nSubject: x", "hi");
        let with = mail(
            "From: a@example.com\r\nSubject: x\r\nMessage-ID:\r\n <abc.123@mail.example.com>",
            "hi",
        );
        assert_eq!(parse(&with).unwrap().message_id, "abc.123@mail.example.com");
        let without = parse(&raw).unwrap().message_id;
        assert_eq!(without.len(), 64);
        assert!(without.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            without,
            parse(&mail("From: a@example.com\r\nSubject: y", "hi"))
                .unwrap()
                .message_id
        );
        let huge = mail(
            &format!("From: a@example.com\r\nMessage-ID: <{}@x>", "a".repeat(300)),
            "hi",
        );
        assert_eq!(parse(&huge).unwrap().message_id.len(), 64);
    }

    #[test]
    fn signals_and_automatic() {
        let inbound = InboundAddress::parse("support@help.example.com").unwrap();
        let auto = |headers: &str| {
            parse(&mail(&format!("From: a@example.com\r\n{headers}"), "hi"))
                .unwrap()
                .automatic(&inbound)
        };
        assert_eq!(auto("Subject: x"), None);
        assert_eq!(auto("Auto-Submitted: no"), None);
        assert_eq!(auto("Precedence: first-class"), None);
        assert_eq!(
            auto("Auto-Submitted: Auto-Replied; owner-email=\"x@y\""),
            Some(Automatic::AutoSubmitted("auto-replied".into()))
        );
        assert_eq!(
            auto("Precedence: BULK"),
            Some(Automatic::Precedence("bulk".into()))
        );
        assert_eq!(
            auto("Precedence: junk"),
            Some(Automatic::Precedence("junk".into()))
        );
        assert_eq!(
            auto("List-Id: Users <users.lists.example.com>"),
            Some(Automatic::ListId)
        );
        assert_eq!(
            auto("X-CRM-Event: 01JGQ60000000000000000000A"),
            Some(Automatic::OwnMail)
        );
        assert_eq!(
            auto("Message-ID: <01JGQ60000000000000000000A.0@help.example.com>"),
            Some(Automatic::OwnMail)
        );
    }

    #[test]
    fn recipients_from_to_cc_and_delivered_to() {
        let m = parse(&mail(
            "From: \"Doe, Jane\" <Jane.Doe@Example.COM>\r\nTo: Support <SUPPORT+abc@help.example.com>, bob@example.com\r\nCc: Team: carol@example.com, bob@example.com;\r\nDelivered-To: support@help.example.com\r\nDelivered-To: <Other@Example.com>\r\nSubject: x",
            "hi",
        ))
        .unwrap();
        assert_eq!(m.from.as_deref(), Some("jane.doe@example.com"));
        assert_eq!(
            m.recipients,
            [
                "support+abc@help.example.com",
                "bob@example.com",
                "carol@example.com",
                "support@help.example.com",
                "other@example.com"
            ]
        );
        let none = parse(&mail("From: undisclosed\r\nSubject: x", "hi")).unwrap();
        assert_eq!(none.from, None);
        assert!(none.recipients.is_empty());
    }

    #[test]
    fn depth_is_bounded() {
        let nested = |levels: usize| {
            let mut m = String::from(
                "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
            );
            for i in 0..levels {
                m += &format!(
                    "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
                    i + 1
                );
            }
            m += &format!("--b{levels}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
            for i in (0..=levels).rev() {
                m += &format!("--b{i}--\r\n");
            }
            m.into_bytes()
        };
        assert_eq!(parse(&nested(3)).unwrap().body.trim(), "deep");
        assert_eq!(parse(&nested(MAX_DEPTH)).map(|_| ()), Err(Refusal::TooDeep));
        assert_eq!(
            parse(&nested(MAX_DEPTH - 1)).map(|m| m.body.trim().to_owned()),
            Ok("deep".into())
        );
        assert_eq!(parse(&nested(10_000)).map(|_| ()), Err(Refusal::TooDeep));
    }

    /// Pieces that mail parsers trip on: boundaries, nested types, encodings, charsets,
    /// encoded words, entities, soft breaks; and noise.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let fixed: Vec<&'static [u8]> = vec![
            b"From: a@example.com\r\n",
            b"To: support@help.example.com, \"x\" <y@z>\r\n",
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            b"Content-Type: multipart/alternative; boundary=b2\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Type: text/html; charset=iso-2022-jp\r\n",
            b"Content-Type: text/plain; charset=x-unknown\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"Subject: =?utf-8?B?w6k=?= =?x?Q?=FF?= =?utf-8?Q?a=0D=0Ab?=\r\n",
            b"Authentication-Results: amazonses.com; spf=pass (x; dkim=\"\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"--b2\r\n",
            b"\r\n",
            b"\r\n\r\n",
            b"<div><blockquote>&#x110000;&amp<pre>\r\n",
            b"=\r\n=FF=0",
            b"> quoted\r\nOn x wrote:\r\n-- \r\n",
        ];
        prop_oneof![
            proptest::sample::select(fixed).prop_map(<[u8]>::to_vec),
            proptest::collection::vec(any::<u8>(), 0..24),
            "[ -~]{0,30}".prop_map(String::into_bytes),
        ]
    }

    fn assert_clean(m: &Inbound) {
        assert!(!m.body.trim().is_empty());
        assert!(
            !m.body
                .chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
        );
        assert!(Title::parse(m.subject.as_str()).is_ok());
        assert!(m.message_id.len() <= MAX_MESSAGE_ID.max(64));
        let _ = crate::quote::new_text(&m.body);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // `read`, not `parse`: a panic must show here, not be caught.
        #[test]
        fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(m) = read(&raw) {
                assert_clean(&m);
            }
        }

        #[test]
        fn mail_shaped_soup_never_panics(pieces in proptest::collection::vec(piece(), 0..48)) {
            if let Ok(m) = read(&pieces.concat()) {
                assert_clean(&m);
            }
        }
    }
}
