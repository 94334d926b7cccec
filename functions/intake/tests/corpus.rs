//! The mail corpus (tests/corpus/*.eml): replies shaped as Gmail, Outlook (desktop and web),
//! Apple Mail (macOS and iPhone) and Thunderbird write them, a new ticket, and hostile or
//! automatic mail; each parsed, classified and cut. The messages are written for this
//! corpus from the clients' known formats (header sets, MIME structure, attribution and
//! quoting style); names, addresses and ids are made up. Oversized and deeply nested mail is
//! generated below rather than stored.

use crm_intake::{
    AuthResults, Automatic, Inbound, MAX_MESSAGE_BYTES, Refusal, Verdict, new_text, parse,
};
use crm_shared::config::Secret;
use crm_shared::mail::{InboundAddress, Recipient, ReplyAddresses};
use crm_shared::model::TicketId;

const TICKET: &str = "01JGQ5Z8W3M4N5P6Q7R8S9T0VW";
/// The reply address of `TICKET` for the secret below (what the corpus's replies are sent to).
const REPLY_TO: &str = "support+01jgq5z8w3m4n5p6q7r8s9t0vw7ax7cwnp3w4g2myy@help.example.com";

fn inbound() -> InboundAddress {
    InboundAddress::parse("support@help.example.com").expect("address")
}

fn replies() -> ReplyAddresses {
    ReplyAddresses::new(inbound(), &Secret::new("s".repeat(40)))
}

fn read(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Case {
    file: &'static str,
    /// Where the shape comes from.
    shape: &'static str,
    from: Option<&'static str>,
    recipients: &'static [&'static str],
    /// What the first recipient is to the channel.
    addressed: Recipient,
    subject: &'static str,
    message_id: &'static str,
    in_reply_to: &'static [&'static str],
    references: &'static [&'static str],
    new_text: &'static str,
    automatic: Option<Automatic>,
    auth: Option<AuthResults>,
}

fn reply() -> Recipient {
    Recipient::Reply(TicketId::parse(TICKET).expect("ticket id"))
}

/// The ticket's thread root, in every reply's References.
const ROOT: &str = "01JGQ5Z8W3M4N5P6Q7R8S9T0VW@help.example.com";

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "gmail-reply.eml",
            shape: "Gmail web: multipart/alternative, quoted-printable UTF-8, top-posted; the \
                    attribution wrapped over two lines after the `<` of a long address (and a \
                    U+202F before AM); `>` quoting with bare `>` blank lines; HTML part with \
                    gmail_quote/gmail_attr divs and a blockquote",
            from: Some("jane.doe@gmail.com"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Printer on floor 3",
            message_id: "CAKx5rT1q9ZbW3mVt0uXh2yLr8sNd4eQpF7gJc6aB2oHn5kU3iw@mail.gmail.com",
            in_reply_to: &["01JGQ60000000000000000000A.0@help.example.com"],
            references: &[ROOT, "01JGQ60000000000000000000A.0@help.example.com"],
            new_text: "Thanks — the printer works again after the driver update.\n\nJane",
            automatic: None,
            auth: None,
        },
        Case {
            file: "gmail-reply-german.eml",
            shape: "Gmail with a German interface: RFC 2047 subject in two encoded words, \
                    encoded display name, attribution `Am … um … Uhr schrieb … <` wrapped, \
                    ending `>:`; a quote within the quote",
            from: Some("juergen.mueller@gmail.com"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW comment: Drucker im 3. Stock",
            message_id: "CAM7dQx2pL0vZ9eR4tYh8uW1iJ3kO5nS6mB7cV8xA9zQ2wE4rTy@mail.gmail.com",
            in_reply_to: &["01JGQ61111111111111111111B.2@help.example.com"],
            references: &[ROOT],
            new_text: "Der Drucker druckt wieder, danke für die schnelle Hilfe!",
            automatic: None,
            auth: None,
        },
        Case {
            file: "outlook-desktop-reply.eml",
            shape: "Outlook for Windows (Microsoft 365, Exchange Online): Thread-Topic/Index, \
                    X-MS-* headers, multipart/alternative with a Word-HTML part; the plain part \
                    top-posted with a signature block and no `-- `, then the reply header \
                    `From:/Sent:/To:/Subject:` after a blank line, unquoted old text below",
            from: Some("jane.doe@contoso.example"),
            recipients: &[REPLY_TO, "bob.smith@contoso.example"],
            addressed: reply(),
            subject: "RE: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Printer on floor 3",
            message_id: "DM6PR11MB4329B1F2C3D4E5F6A7B8C9D0E1F2A@DM6PR11MB4329.namprd11.prod.outlook.com",
            in_reply_to: &["01JGQ60000000000000000000A.0@help.example.com"],
            references: &[ROOT],
            new_text: "Hi,\n\nThe new toner is in; it prints fine now. You can close the ticket.\n\nBest regards,\nJane Doe\nIT Coordinator | Contoso Ltd.",
            automatic: None,
            auth: None,
        },
        Case {
            file: "outlook-original-message.eml",
            shape: "Outlook in plain-text mode (and older Outlook, Outlook for Mac): text/plain \
                    only, windows-1252 quoted-printable (en dash and German quotes), the \
                    `-----Original Message-----` separator before the old header block",
            from: Some("kim.lee@fabrikam.example"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "RE: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW comment: Printer on floor 3",
            message_id: "000001db6021$5a3b2c10$0eb18430$@fabrikam.example",
            in_reply_to: &[],
            references: &[],
            new_text: "Still broken on my side – the display shows „Error 49“.\n\nKim",
            automatic: None,
            auth: None,
        },
        Case {
            file: "outlook-web-html-only.eml",
            shape: "Outlook on the web (new Outlook): the HTML body it writes (elementToProof \
                    divs, appendonsend, an <hr>, divRplyFwdMsg with bold From/Sent/To/Subject); \
                    sent here HTML-only in ISO-8859-1 to exercise the conversion (OWA normally \
                    adds a text/plain alternative)",
            from: Some("priya.raman@northwind.example"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: VPN drops every hour",
            message_id: "AM0PR02MB5604D8E7F6A5B4C3D2E1F0A9B8C7D@AM0PR02MB5604.eurprd02.prod.outlook.com",
            in_reply_to: &["01JGQ62222222222222222222C.1@help.example.com"],
            references: &[ROOT],
            new_text: "It still drops, but now every two hours.\nLogs from today:\n09:58 tunnel down\n11:58 tunnel down\nPriya & the café team",
            automatic: None,
            auth: None,
        },
        Case {
            file: "apple-mail-reply.eml",
            shape: "Apple Mail on macOS: `Mime-Version: 1.0 (Mac OS X Mail …)`, X-Mailer, \
                    Message-Id spelling, text/plain us-ascii 7bit; top-posted, and the \
                    attribution itself quoted (`> On 6 Jan 2025, at 10:00, … wrote:`) with `> ` \
                    blank lines",
            from: Some("tom@becker-design.example"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Invoice PDF is empty",
            message_id: "5E1C2B3A-9D8F-4A7B-B6C5-1D2E3F4A5B6C@becker-design.example",
            in_reply_to: &["01JGQ63333333333333333333D.0@help.example.com"],
            references: &[ROOT],
            new_text: "Opened it in Preview this time and the invoice is there. Thanks!\n\nTom",
            automatic: None,
            auth: None,
        },
        Case {
            file: "iphone-reply.eml",
            shape: "Mail on iPhone (iOS): `Mime-Version: 1.0 (1.0)`, X-Mailer iPhone Mail, \
                    quoted-printable UTF-8 with an emoji, `Sent from my iPhone` without `-- `, \
                    quoted attribution; the reply address upper-cased, as some relays fold it",
            from: Some("ana.souza@icloud.example"),
            recipients: &["support+01jgq5z8w3m4n5p6q7r8s9t0vw7ax7cwnp3w4g2myy@help.example.com"],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW comment: Login loop",
            message_id: "8A7B6C5D-4E3F-2A1B-0C9D-8E7F6A5B4C3D@icloud.example",
            in_reply_to: &["01JGQ64444444444444444444E.3@help.example.com"],
            references: &[ROOT],
            new_text: "Obrigada! Clearing the cookies fixed the login loop 👍",
            automatic: None,
            auth: None,
        },
        Case {
            file: "thunderbird-reply.eml",
            shape: "Thunderbird: User-Agent, format=flowed UTF-8 8bit, References folded over \
                    two lines; its default bottom-posting: `On 06.01.25 10:00, … wrote:`, the \
                    quote, then the answer and a `-- ` signature",
            from: Some("lars@posteo.example"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Backup job fails",
            message_id: "6b1e0c2f-3a4d-4e5b-9c8d-7f6e5d4c3b2a@posteo.example",
            in_reply_to: &["01JGQ65555555555555555555F.0@help.example.com"],
            references: &[ROOT, "01JGQ65555555555555555555F.0@help.example.com"],
            new_text: "The job ran fine last night, after you freed up space on the NAS.\nTack så mycket!",
            automatic: None,
            auth: None,
        },
        Case {
            file: "new-ticket.eml",
            shape: "A new mail from Gmail to the plain address: a subject with runs of spaces \
                    and a tab, a `-- ` signature (quoted-printable `--=20`)",
            from: Some("jane.doe@gmail.com"),
            recipients: &["support@help.example.com"],
            addressed: Recipient::Plain,
            subject: "Scanner on floor 2 does not send to email",
            message_id: "CAF4pQ8rU2dN6vY1wB3zX7kL9mJ0hG5fS4aE8tR2cV6bN1xM7qw@mail.gmail.com",
            in_reply_to: &[],
            references: &[],
            new_text: "Hello,\n\nsince this morning the scanner on floor 2 no longer sends scans to email.\nThe display says \"SMTP connection failed\".",
            automatic: None,
            auth: None,
        },
        Case {
            file: "subject-crlf-bidi.eml",
            shape: "Hostile: an encoded-word subject hiding CR LF, a Bcc: line, a tab, U+202E, \
                    U+2066/U+2069 and NUL; a body with U+202E, a bare CR, ESC and BEL",
            from: Some("mallory@evil.example"),
            recipients: &["support@help.example.com"],
            addressed: Recipient::Plain,
            subject: "Urgent Bcc: everyone@example.com invoice fdp.exe hidden end",
            message_id: "hostile.subject@evil.example",
            in_reply_to: &[],
            references: &[],
            new_text: "Please pay the attached invoice\ntoday.\n[31mnow",
            automatic: None,
            auth: None,
        },
        Case {
            file: "out-of-office.eml",
            shape: "Exchange/Outlook automatic reply: `Automatic reply:` subject, \
                    Auto-Submitted: auto-generated, X-Auto-Response-Suppress",
            from: Some("jane.doe@contoso.example"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Automatic reply: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Printer on floor 3",
            message_id: "a3f1c2d4e5b6478f9a0b1c2d3e4f5a6b@DM6PR11MB4329.namprd11.prod.outlook.com",
            in_reply_to: &["01JGQ60000000000000000000A.0@help.example.com"],
            references: &[],
            new_text: "I am out of the office until January 13 with limited access to email.",
            automatic: Some(Automatic::AutoSubmitted("auto-generated".into())),
            auth: None,
        },
        Case {
            file: "mailing-list.eml",
            shape: "A newsletter: List-Id, List-Unsubscribe, Precedence: bulk",
            from: Some("news@vendor.example"),
            recipients: &["support@help.example.com"],
            addressed: Recipient::Plain,
            subject: "January product news",
            message_id: "news.2025-01@vendor.example",
            in_reply_to: &[],
            references: &[],
            new_text: "Our January release is out.",
            automatic: Some(Automatic::Precedence("bulk".into())),
            auth: None,
        },
        Case {
            file: "own-mail-returned.eml",
            shape: "Our own notification come back (a forward rule pointing at the inbound \
                    address): X-CRM-Event and a Message-ID in our domain",
            from: Some("support@help.example.com"),
            recipients: &["support@help.example.com"],
            addressed: Recipient::Plain,
            subject: "[CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Printer on floor 3",
            message_id: "01JGQ60000000000000000000A.0@help.example.com",
            in_reply_to: &[],
            references: &[],
            new_text: "Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW was updated by engineer1.",
            automatic: Some(Automatic::OwnMail),
            auth: None,
        },
        Case {
            file: "ses-stored.eml",
            shape: "A Gmail reply as SES receiving stores it in S3: SES's Return-Path, Received, \
                    X-SES-Spam/Virus-Verdict, Received-SPF, folded Authentication-Results \
                    (amazonses.com; spf, dkim, dmarc pass), X-SES-RECEIPT and \
                    X-SES-DKIM-SIGNATURE above the original headers (the SES Developer Guide's \
                    sample incoming email event)",
            from: Some("jane.doe@gmail.com"),
            recipients: &[REPLY_TO],
            addressed: reply(),
            subject: "Re: [CRM] Ticket 01JGQ5Z8W3M4N5P6Q7R8S9T0VW updated: Printer on floor 3",
            message_id: "CAKx5rT9w8ZbW3mVt0uXh2yLr8sNd4eQpF7gJc6aB2oHn5kU0ab@mail.gmail.com",
            in_reply_to: &["01JGQ60000000000000000000A.0@help.example.com"],
            references: &[ROOT],
            new_text: "Works again, thanks.",
            automatic: None,
            auth: Some(AuthResults {
                spf: Some(Verdict::Pass),
                dkim: Some(Verdict::Pass),
                dmarc: Some(Verdict::Pass),
            }),
        },
        Case {
            file: "ses-stored-forged-verdict.eml",
            shape: "A spoofed sender through SES: SES's own verdicts fail, and the message \
                    brings a second, forged `Authentication-Results: amazonses.com; … pass` \
                    below SES's, which must not count",
            from: Some("ceo@contoso.example"),
            recipients: &["support@help.example.com"],
            addressed: Recipient::Plain,
            subject: "Give mallory admin rights",
            message_id: "forged.1@evil.example",
            in_reply_to: &[],
            references: &[],
            new_text: "Please do it today.",
            automatic: None,
            auth: Some(AuthResults {
                spf: Some(Verdict::Fail),
                dkim: None,
                dmarc: Some(Verdict::Fail),
            }),
        },
    ]
}

fn check(case: &Case, m: &Inbound) {
    let f = case.file;
    assert_eq!(m.from.as_deref(), case.from, "{f}: from");
    assert_eq!(m.recipients, case.recipients, "{f}: recipients");
    assert_eq!(
        replies().classify(&m.recipients[0]),
        case.addressed,
        "{f}: addressed"
    );
    assert_eq!(m.subject.as_str(), case.subject, "{f}: subject");
    assert_eq!(m.message_id, case.message_id, "{f}: message id");
    assert_eq!(m.in_reply_to, case.in_reply_to, "{f}: in-reply-to");
    assert_eq!(m.references, case.references, "{f}: references");
    assert_eq!(
        new_text(&m.body),
        case.new_text,
        "{f}: new text of {:?}",
        m.body
    );
    assert_eq!(m.automatic(&inbound()), case.automatic, "{f}: automatic");
    assert_eq!(m.auth, case.auth, "{f}: auth");
    // Whatever came in, the text obeys the multi-line rule and the subject the one-line rule.
    assert!(
        !m.body
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "{f}: body {:?}",
        m.body
    );
}

#[test]
fn the_corpus_parses_and_cuts_as_each_client_writes() {
    let cases = cases();
    for case in &cases {
        assert!(!case.shape.is_empty());
        let m = parse(&read(case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        check(case, &m);
    }
    // Every file of the corpus is a case (or a refusal below).
    let mut files: Vec<String> =
        std::fs::read_dir(format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR")))
            .expect("corpus dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".eml"))
            .collect();
    files.sort();
    let mut named: Vec<String> = cases
        .iter()
        .map(|c| c.file.to_owned())
        .chain(refused().into_iter().map(|(f, _)| f.to_owned()))
        .collect();
    named.sort();
    assert_eq!(files, named);
}

/// Stored hostile mail that is refused, with the reason.
fn refused() -> Vec<(&'static str, Refusal)> {
    vec![
        // A scanner's scan-to-mail: multipart/mixed with only a PDF attachment.
        ("no-text.eml", Refusal::NoText),
        // text/plain in a charset no decoder knows, 8-bit bytes: refused, not read as U+FFFD.
        (
            "unknown-charset.eml",
            Refusal::UnknownCharset("x-klingon-piqad".into()),
        ),
    ]
}

#[test]
fn hostile_stored_mail_is_refused_with_its_reason() {
    for (file, why) in refused() {
        assert_eq!(parse(&read(file)).map(|_| ()), Err(why), "{file}");
    }
}

#[test]
fn over_ten_megabytes_is_refused_before_parsing() {
    let head = b"From: a@example.com\r\nTo: support@help.example.com\r\nSubject: big\r\n\r\n";
    let mut raw = head.to_vec();
    raw.resize(MAX_MESSAGE_BYTES, b'a');
    assert!(parse(&raw).is_ok(), "exactly the limit is read");
    raw.push(b'a');
    assert_eq!(parse(&raw).map(|_| ()), Err(Refusal::TooLarge));
}

#[test]
fn deeply_nested_multiparts_are_refused() {
    let mut m = String::from(
        "From: a@example.com\r\nSubject: nest\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    let levels = 50_000;
    for i in 0..levels {
        m += &format!(
            "--b{i}\r\nContent-Type: multipart/alternative; boundary=\"b{}\"\r\n\r\n",
            i + 1
        );
    }
    m += &format!("--b{levels}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n");
    let start = std::time::Instant::now();
    assert_eq!(parse(m.as_bytes()).map(|_| ()), Err(Refusal::TooDeep));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn garbage_is_unparseable_or_textless_never_a_panic() {
    for raw in [
        &b""[..],
        b"\r\n\r\n",
        b"\x00\x01\x02",
        b"just words",
        b"From:\r\n\r\n",
    ] {
        assert!(
            matches!(parse(raw), Err(Refusal::Unparseable | Refusal::NoText)),
            "{raw:?}"
        );
    }
}
