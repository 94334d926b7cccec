//! The new text of a reply (SPEC §9): the quoted part is cut from the first line that starts
//! it — an attribution `On … wrote:` (also wrapped over two lines, as Gmail does, and its
//! common translations), Outlook's `-----Original Message-----` or its `From:` header block
//! after a blank line or a rule of underscores, or a run of `>` lines — and a signature after
//! `-- ` is cut too. When nothing is written above the quote (bottom-posting, Thunderbird's
//! default, or answers between the quoted lines), the unquoted lines below it are the reply.

/// Attribution lines: a first word, a verb somewhere in the line, and a final `:`.
const ATTRIBUTIONS: &[(&str, &str)] = &[
    ("On ", " wrote"),
    ("Am ", " schrieb "),
    ("Le ", " a écrit"),
    ("El ", " escribió"),
    ("Op ", " schreef "),
    ("Il ", " ha scritto"),
    ("Em ", " escreveu"),
];
/// The longest attribution: a longer line is prose.
const MAX_ATTRIBUTION: usize = 400;
/// Outlook's separator line, in the languages it ships most.
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
];
/// The first field of Outlook's reply header, and the fields that follow it.
const HEADER_FROM: &[&str] = &["from:", "von:", "de:", "de :"];
const HEADER_NEXT: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "cc:",
    "subject:",
    "gesendet:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "à :",
    "objet :",
    "enviado:",
    "para:",
    "asunto:",
];
/// Signatures mobile clients add without a `-- ` line, dropped when they end the text.
const MOBILE_SIGNATURES: &[&str] = &[
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "sent from my mobile",
    "get outlook for ios",
    "get outlook for android",
    "sent from mail for windows",
    "sent from outlook",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// An attribution of one or two lines, then (usually) `>` lines.
    Attribution(usize),
    /// A run of `>` lines.
    Quote,
    /// Outlook's separator or header block: everything below is the old message.
    Outlook,
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// A line without the `*…*` of bold text and surrounding blanks (Outlook's plain text writes
/// its header labels in bold).
fn bare(line: &str) -> String {
    line.trim().replace('*', "").to_lowercase()
}

fn is_attribution(text: &str) -> bool {
    let t = text.trim();
    t.len() <= MAX_ATTRIBUTION
        && t.ends_with(':')
        && ATTRIBUTIONS
            .iter()
            .any(|(first, verb)| starts_with_ci(t, first) && t.contains(verb))
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 8 && t.chars().all(|c| c == '_')
}

fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Outlook's header block starting at `i`: `From:` after a blank line, a rule or nothing,
/// with another header field within the next four lines.
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    let from = bare(lines[i]);
    let after_gap = i == 0 || lines[i - 1].trim().is_empty() || is_rule(lines[i - 1]);
    after_gap
        && HEADER_FROM.iter().any(|f| from.starts_with(f))
        && lines[i + 1..]
            .iter()
            .take(4)
            .any(|l| HEADER_NEXT.iter().any(|f| bare(l).starts_with(f)))
}

/// Where the quoted part starts, if there is one, and of which kind.
fn find_cut(lines: &[&str]) -> Option<(usize, Cut)> {
    for (i, line) in lines.iter().enumerate() {
        if is_attribution(line) {
            return Some((i, Cut::Attribution(1)));
        }
        if let Some(next) = lines.get(i + 1)
            && ATTRIBUTIONS
                .iter()
                .any(|(first, _)| starts_with_ci(line.trim(), first))
            && is_attribution(&format!("{} {}", line.trim(), next.trim()))
        {
            return Some((i, Cut::Attribution(2)));
        }
        let b = bare(line);
        if b.starts_with("-----") && ORIGINAL_MESSAGE.iter().any(|m| b.contains(m)) {
            return Some((i, Cut::Outlook));
        }
        if is_outlook_header(lines, i) {
            let at = if i > 0 && is_rule(lines[i - 1]) {
                i - 1
            } else {
                i
            };
            return Some((at, Cut::Outlook));
        }
        if is_quote(line) {
            return Some((i, Cut::Quote));
        }
    }
    None
}

/// `lines` up to a signature line (`-- `, or `--` where a client trimmed the space), without
/// a mobile client's signature at the end.
fn without_signature<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let end = lines
        .iter()
        .position(|l| *l == "-- " || l.trim_end() == "--")
        .unwrap_or(lines.len());
    let mut kept: Vec<&str> = lines[..end].to_vec();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    if kept
        .last()
        .is_some_and(|l| MOBILE_SIGNATURES.contains(&l.trim().to_lowercase().as_str()))
    {
        kept.pop();
    }
    kept
}

fn joined(lines: &[&str]) -> String {
    lines.join("\n").trim().to_owned()
}

/// The new text of a reply body: see the module comment. Empty if the reply adds nothing.
pub fn new_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let Some((cut, kind)) = find_cut(&lines) else {
        return joined(&without_signature(&lines));
    };
    let above = joined(&without_signature(&lines[..cut]));
    if !above.is_empty() {
        return above;
    }
    // Nothing above: the reply is below or between the quoted lines (never below Outlook's
    // header block, which is the old message unquoted).
    let skip = match kind {
        Cut::Attribution(n) => n,
        Cut::Quote => 0,
        Cut::Outlook => return String::new(),
    };
    let below: Vec<&str> = lines[cut + skip..]
        .iter()
        .copied()
        .filter(|l| !is_quote(l))
        .collect();
    joined(&without_signature(&below))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_by_kind() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "nothing to cut",
                "Just text.\nTwo lines.",
                "Just text.\nTwo lines.",
            ),
            (
                "attribution",
                "Fixed, thanks.\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <s@x.example> wrote:\n> old",
                "Fixed, thanks.",
            ),
            (
                "wrapped attribution",
                "Fixed.\n\nOn Mon, Jan 6, 2025 at 10:00 AM CRM Support <\nsupport+tok@help.example.com> wrote:\n\n> old",
                "Fixed.",
            ),
            (
                "german",
                "Danke.\n\nAm 06.01.2025 um 10:00 schrieb CRM Support <s@x.example>:\n> alt",
                "Danke.",
            ),
            (
                "french",
                "Merci.\n\nLe lun. 6 janv. 2025 à 10:00, CRM Support <s@x.example> a écrit :\n> ancien",
                "Merci.",
            ),
            (
                "outlook separator",
                "Yes.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nold",
                "Yes.",
            ),
            (
                "outlook header after a blank line",
                "Yes.\n\nFrom: CRM Support <s@x.example>\nSent: Monday, January 6, 2025 10:00 AM\nTo: Jane\nSubject: x\n\nold",
                "Yes.",
            ),
            (
                "outlook header after a rule, bold labels",
                "Yes.\n________________________________\n*From:* CRM Support <s@x.example>\n*Sent:* Monday\n\nold",
                "Yes.",
            ),
            ("quote run", "Top.\n> old\n> older", "Top."),
            ("signature", "Text.\n-- \nJane Doe\nACME", "Text."),
            ("signature, trimmed space", "Text.\n--\nJane", "Text."),
            (
                "signature before the quote",
                "Text.\n\n-- \nJane\n\nOn Mon, Jan 6, 2025, Support wrote:\n> old",
                "Text.",
            ),
            (
                "mobile signature",
                "Ok.\n\nSent from my iPhone\n\n> On x, S wrote:\n> old",
                "Ok.",
            ),
            (
                "bottom-posted",
                "On 1/6/25 10:00 AM, CRM Support wrote:\n> old\n> lines\n\nMy answer below.\n\n-- \nJane",
                "My answer below.",
            ),
            ("interleaved", "> q1\na1\n> q2\na2", "a1\na2"),
            ("only a quote", "On x, S wrote:\n> old", ""),
            (
                "only outlook's block",
                "From: S\nSent: Monday\n\nold text",
                "",
            ),
        ];
        for (name, body, want) in cases {
            assert_eq!(new_text(body), *want, "{name}");
            assert_eq!(
                new_text(&body.replace('\n', "\r\n")),
                *want,
                "{name} (CRLF)"
            );
        }
    }

    #[test]
    fn prose_that_looks_like_a_cut_is_kept() {
        let cases: &[&str] = &[
            // From: mid-paragraph, or without a header field after it.
            "The error comes\nFrom: the printer driver.",
            "Some notes.\n\nFrom: my point of view it is broken.\nPlease check.",
            // A long line that starts with On and ends with a colon is prose.
            &format!("On {} wrote:", "x".repeat(500)),
            // A dash line that is not a signature.
            "Steps:\n---\n1. open",
            "Use -- to end options.",
        ];
        for body in cases {
            assert_eq!(new_text(body), body.trim(), "{body}");
        }
    }

    #[test]
    fn any_text_is_cut_without_panic() {
        for body in [
            "",
            "\n",
            ">",
            "-- ",
            "On",
            "On\n",
            "________\nFrom:",
            "é\u{301}>",
        ] {
            let _ = new_text(body);
        }
    }
}
