//! The text rules every free-text field shares (SPEC §1 "Text fields"): one-line fields
//! (`name`, `title`) refuse every control character and the bidirectional controls, and must
//! show at least one visible character; multi-line fields (`description`, comment bodies)
//! may also hold line breaks and tabs. Characters that SQS cannot carry in a message body
//! (U+FFFE, U+FFFF) are refused everywhere, so any accepted text can be mailed.

use super::Invalid;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};

/// Whether a field is one header-safe line or free text with line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// The bidirectional embedding, override and isolate controls: they can make one id read as
/// another in mail text.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters outside the set SQS accepts in a message body (#x9 | #xA | #xD | #x20-#xD7FF
/// | #xE000-#xFFFD | #x10000-#x10FFFF; surrogates cannot occur in a Rust string):
/// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
pub fn sqs_refuses(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Why this character may not stand in a field of this kind, if it may not.
fn refused(c: char, lines: Lines) -> Option<&'static str> {
    let allowed_break = lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    if c.is_control() && !allowed_break {
        return Some(match lines {
            Lines::One => "must be a single line without control characters",
            Lines::Many => "must not contain control characters other than line breaks and tabs",
        });
    }
    if lines == Lines::One && matches!(c, '\u{2028}' | '\u{2029}') {
        return Some("must be a single line without control characters");
    }
    if is_bidi_control(c) {
        return Some("must not contain bidirectional control characters");
    }
    if sqs_refuses(c) {
        return Some("must not contain the non-characters U+FFFE or U+FFFF");
    }
    None
}

/// Characters that show nothing although Unicode does not class them as ignorable: U+2800
/// BRAILLE PATTERN BLANK is a symbol (So) whose glyph is an empty cell. (The Hangul fillers
/// U+115F, U+1160, U+3164 and U+FFA0, letters by category, are Default_Ignorable_Code_Point.)
const BLANK_LOOKALIKES: &[char] = &['\u{2800}'];

/// A character someone reading the text can see: a letter, number, punctuation or symbol (or
/// a private-use or unassigned one, which may be), unless Unicode says it is ignored when
/// rendered (Default_Ignorable_Code_Point: U+200B, the Hangul fillers, variation selectors and
/// the like) or it is a blank look-alike. Never whitespace, a format character or a combining
/// mark standing alone.
fn is_visible(c: char) -> bool {
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || BLANK_LOOKALIKES.contains(&c)
    {
        return false;
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    [
        GeneralCategoryGroup::Letter,
        GeneralCategoryGroup::Number,
        GeneralCategoryGroup::Punctuation,
        GeneralCategoryGroup::Symbol,
        GeneralCategoryGroup::PrivateUse,
        GeneralCategoryGroup::Unassigned,
    ]
    .iter()
    .any(|g| g.contains(category))
}

/// Trims `raw` and checks it: no refused character, at least one visible character, at most
/// `max` characters.
pub fn parse_text(
    field: &'static str,
    raw: &str,
    max: usize,
    lines: Lines,
) -> Result<String, Invalid> {
    let s = raw.trim();
    if let Some(why) = s.chars().find_map(|c| refused(c, lines)) {
        return Err(Invalid::new(field, format!("{field} {why}.")));
    }
    if !s.chars().any(is_visible) {
        return Err(Invalid::new(field, format!("{field} must not be empty.")));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("{field} must be at most {max} characters."),
        ));
    }
    Ok(s.to_owned())
}

/// Makes any stored text one line for a mail subject (items written before these rules
/// included): every control, line or paragraph separator and bidi control becomes a space.
/// Text the rules accept comes back unchanged.
pub fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| {
            if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}')
                || is_bidi_control(c)
                || sqs_refuses(c)
            {
                ' '
            } else {
                c
            }
        })
        .collect();
    flat.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hostile strings of issue 20, each with whether a one-line and a multi-line field
    /// accept it (embedded in ordinary text, so only the character itself is judged).
    const HOSTILE: &[(&str, bool, bool)] = &[
        ("a\rb", false, true),
        ("a\nb", false, true),
        ("a\r\nBcc: evil@x.com", false, true),
        ("a\tb", false, true),
        ("a\u{0}b", false, false),
        ("a\u{7}b", false, false),
        ("a\u{1b}[31mb", false, false),
        ("a\u{7f}b", false, false),
        ("a\u{85}b", false, false),
        ("a\u{9b}b", false, false),
        ("a\u{2028}b", false, true),
        ("a\u{2029}b", false, true),
        ("a\u{202E}b", false, false),
        ("a\u{202A}b", false, false),
        ("a\u{2066}b", false, false),
        ("a\u{2069}b", false, false),
        ("a\u{FFFE}b", false, false),
        ("a\u{FFFF}b", false, false),
        ("a\u{200B}b", true, true),
        ("a\u{301}b", true, true),
        ("Printer 254 🖨", true, true),
        ("日本語のチケット", true, true),
    ];

    #[test]
    fn hostile_characters_are_refused_by_field_kind() {
        for (s, one, many) in HOSTILE {
            assert_eq!(
                parse_text("title", s, 200, Lines::One).is_ok(),
                *one,
                "one-line {s:?}"
            );
            assert_eq!(
                parse_text("description", s, 5000, Lines::Many).is_ok(),
                *many,
                "multi-line {s:?}"
            );
        }
    }

    #[test]
    fn text_without_a_visible_character_is_empty() {
        for s in [
            "",
            "   ",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{301}\u{302}",
            "\u{FE0F}",
            "\u{3000}",
            " \u{00A0} ",
        ] {
            for lines in [Lines::One, Lines::Many] {
                let err = parse_text("title", s, 200, lines).expect_err(s);
                assert_eq!(err.field, "title");
                assert!(err.message.contains("empty"), "{s:?}: {}", err.message);
            }
        }
        assert!(parse_text("description", "\n\n", 10, Lines::Many).is_err());
    }

    /// Issue 26 item 5: text of blank-rendering characters that are letters or symbols by
    /// category (the Hangul fillers, the braille blank) showed nothing yet counted as visible.
    #[test]
    fn blank_fillers_and_other_ignorables_count_as_empty() {
        for s in [
            "\u{3164}",
            "\u{115F}",
            "\u{1160}",
            "\u{FFA0}",
            "\u{2800}",
            "\u{3164}\u{2800} \u{FFA0}",
            "\u{115F}\u{1160}\u{200B}",
            "\u{180E}",
            "\u{034F}",
            "\u{E0020}",
        ] {
            for lines in [Lines::One, Lines::Many] {
                let err = parse_text("title", s, 200, lines).expect_err(s);
                assert!(err.message.contains("empty"), "{s:?}: {}", err.message);
            }
        }
        // Beside a visible character they are kept as sent.
        assert_eq!(
            parse_text("name", "\u{3164}Kim", 100, Lines::One).unwrap(),
            "\u{3164}Kim"
        );
        assert!(parse_text("name", "\u{2801}", 100, Lines::One).is_ok());
        assert!(parse_text("name", "\u{1100}", 100, Lines::One).is_ok());
    }

    #[test]
    fn refusal_names_the_field_and_says_why() {
        let e = parse_text("name", "John\nDoe", 100, Lines::One).unwrap_err();
        assert_eq!(e.field, "name");
        assert!(e.message.contains("single line"), "{}", e.message);
        let e = parse_text("title", "x\u{202E}y", 200, Lines::One).unwrap_err();
        assert!(e.message.contains("bidirectional"), "{}", e.message);
    }

    #[test]
    fn trims_then_counts_characters() {
        assert_eq!(
            parse_text("title", "  hi  ", 2, Lines::One).unwrap(),
            "hi".to_owned()
        );
        assert!(parse_text("title", "héé", 3, Lines::One).is_ok());
        assert!(parse_text("title", "héél", 3, Lines::One).is_err());
    }

    #[test]
    fn one_line_flattens_breaks_and_controls() {
        assert_eq!(
            one_line("line1\r\nBcc: evil@x.com"),
            "line1  Bcc: evil@x.com"
        );
        assert_eq!(one_line("a\u{2028}b\u{85}c\u{202E}d\n"), "a b c d");
        assert_eq!(one_line("ok"), "ok");
    }

    proptest! {
        #[test]
        fn one_line_never_holds_a_line_break_or_control(s in any::<String>()) {
            let out = one_line(&s);
            let breaks = out.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c));
            prop_assert!(!breaks, "{:?}", out);
        }

        #[test]
        fn accepted_text_can_always_be_pushed_to_sqs(s in any::<String>()) {
            for lines in [Lines::One, Lines::Many] {
                if let Ok(t) = parse_text("f", &s, 10_000, lines) {
                    prop_assert!(!t.chars().any(sqs_refuses));
                    if lines == Lines::One {
                        prop_assert_eq!(one_line(&t), t.clone());
                    }
                }
            }
        }
    }
}
