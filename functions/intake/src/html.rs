//! HTML-only mail as text. mail-parser's own converter breaks lines only at `<br>` and `</p>`,
//! so list items, table cells and `<div>` lines (which is how Outlook and Gmail write every
//! line) run together, and a space after a closing tag is lost (`<b>From:</b> X` reads
//! `From:X`). This one breaks lines at block elements, leaves a blank line around paragraphs
//! and rules (so Outlook's reply header reads as `From:` after a blank line), prefixes
//! `<blockquote>` lines with `> ` (so the quote cutter sees them), and skips head, style,
//! script and comments. Entities are decoded with mail-parser's table.

use mail_parser::decoders::html::add_html_token;

/// Elements whose content is not text.
const SKIPPED: &[&str] = &["head", "style", "script", "title", "template", "noscript"];
/// Elements that start and end on a line of their own.
const BLOCKS: &[&str] = &[
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "dl",
    "dt",
    "dd",
    "address",
    "center",
    "form",
    "pre",
    "figure",
    "figcaption",
    "caption",
];
/// Elements set apart by a blank line.
const PARAGRAPHS: &[&str] = &["p", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"];
/// The longest entity name looked up; longer `&…;` runs stay as they are.
const MAX_ENTITY: usize = 32;

struct Out {
    text: String,
    /// Spaces seen since the last word: one is written before the next word.
    space: bool,
    quote_depth: usize,
    in_pre: usize,
}

impl Out {
    fn at_line_start(&self) -> bool {
        self.text.is_empty() || self.text.ends_with('\n')
    }

    fn word(&mut self, s: &str) {
        if self.at_line_start() {
            for _ in 0..self.quote_depth {
                self.text.push_str("> ");
            }
        } else if self.space {
            self.text.push(' ');
        }
        self.space = false;
        self.text.push_str(s);
    }

    fn newline(&mut self) {
        self.text.push('\n');
        self.space = false;
    }

    /// Ends the current line, if one is open.
    fn end_line(&mut self) {
        if !self.at_line_start() {
            self.newline();
        }
    }

    /// Ends the current line and leaves one blank line (never two).
    fn blank_line(&mut self) {
        self.end_line();
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.newline();
        }
    }
}

/// The decoded text of one entity (`name` between `&` and `;`), or `None` to keep it as is.
fn entity(name: &str) -> Option<String> {
    if name.is_empty()
        || name.len() > MAX_ENTITY
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#')
    {
        return None;
    }
    let mut out = String::new();
    add_html_token(&mut out, format!("&{name};").as_bytes(), false);
    // mail-parser writes the token back unchanged when it does not know it.
    (out != format!("&{name};")).then_some(out)
}

/// The tag at the start of `rest` (just after `<`): its lower-case name, whether it closes,
/// and the byte length up to and including its `>` (quoted attribute values may hold `>`).
fn tag(rest: &str) -> (String, bool, usize) {
    let closing = rest.starts_with('/');
    let name: String = rest
        .trim_start_matches('/')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut quote = None;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return (name, closing, i + 1),
            _ => {}
        }
    }
    (name, closing, rest.len())
}

/// The byte length from `rest` to just after `</name …>`, or to the end. Linear: one pass
/// to the closing tag, however many elements a hostile document skips.
fn skip_element(rest: &str, name: &str) -> usize {
    for (at, _) in rest.match_indices("</") {
        let after = at + 2;
        if rest
            .get(after..after + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            let end = after + name.len();
            return end + rest[end..].find('>').map_or(rest.len() - end, |g| g + 1);
        }
    }
    rest.len()
}

/// HTML as readable text; see the module comment.
pub fn to_text(html: &str) -> String {
    let mut out = Out {
        text: String::with_capacity(html.len() / 2),
        space: false,
        quote_depth: 0,
        in_pre: 0,
    };
    let mut i = 0;
    let mut word = String::new();
    let flush = |out: &mut Out, word: &mut String| {
        if !word.is_empty() {
            out.word(word);
            word.clear();
        }
    };
    while let Some(c) = html[i..].chars().next() {
        let rest = &html[i..];
        match c {
            '<' if rest.starts_with("<!--") => {
                flush(&mut out, &mut word);
                i += rest.find("-->").map_or(rest.len(), |e| e + 3);
            }
            '<' if rest[1..].starts_with(['!', '?']) => {
                flush(&mut out, &mut word);
                i += rest.find('>').map_or(rest.len(), |e| e + 1);
            }
            '<' if rest[1..].starts_with(|n: char| n.is_ascii_alphabetic() || n == '/') => {
                flush(&mut out, &mut word);
                let (name, closing, len) = tag(&rest[1..]);
                i += 1 + len;
                let name = name.as_str();
                if !closing && SKIPPED.contains(&name) {
                    i += skip_element(&html[i..], name);
                } else if name == "br" {
                    out.newline();
                } else if PARAGRAPHS.contains(&name) {
                    out.blank_line();
                    if name == "blockquote" {
                        out.quote_depth = if closing {
                            out.quote_depth.saturating_sub(1)
                        } else {
                            out.quote_depth + 1
                        };
                    }
                } else if BLOCKS.contains(&name) {
                    out.end_line();
                    if name == "pre" {
                        out.in_pre = if closing {
                            out.in_pre.saturating_sub(1)
                        } else {
                            out.in_pre + 1
                        };
                    }
                } else if matches!(name, "td" | "th") && !closing {
                    out.space = true;
                }
            }
            '&' => {
                // Only the next few bytes: a `;` far away is no entity's end.
                let end = rest[1..]
                    .bytes()
                    .take(MAX_ENTITY + 1)
                    .position(|b| b == b';');
                match end.and_then(|e| entity(&rest[1..1 + e]).map(|t| (e, t))) {
                    Some((e, text)) => {
                        word.push_str(&text.replace('\u{a0}', " "));
                        i += e + 2;
                    }
                    None => {
                        word.push('&');
                        i += 1;
                    }
                }
            }
            '\n' if out.in_pre > 0 => {
                flush(&mut out, &mut word);
                out.newline();
                i += 1;
            }
            '\r' if out.in_pre > 0 => i += 1,
            c if c.is_whitespace() && out.in_pre > 0 => {
                word.push(c);
                i += c.len_utf8();
            }
            c if c.is_whitespace() => {
                flush(&mut out, &mut word);
                out.space = true;
                i += c.len_utf8();
            }
            c => {
                word.push(c);
                i += c.len_utf8();
            }
        }
    }
    flush(&mut out, &mut word);
    // Trailing spaces off, at most one blank line in a row.
    let mut text = String::with_capacity(out.text.len());
    let mut blank = false;
    for line in out.text.lines().map(str::trim_end) {
        if line.is_empty() && blank {
            continue;
        }
        blank = line.is_empty();
        text.push_str(line);
        text.push('\n');
    }
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_paragraphs_breaks_and_entities() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head><body><div dir=\"ltr\">Hello&nbsp;there &amp; welcome &lt;3 &#39;quoted&#39; &eacute;t&eacute; &hellip;<br>Second line<br/><p>Para one.</p><p>Para two with <a href=\"https://x.example/?a=1&b=2\">a link</a> and <b>bold</b>.</p><ul><li>item one</li><li>item two</li></ul><div>div line</div><table><tr><td>c1</td><td>c2</td></tr></table><!-- a <div> in a comment --> <script>alert('<p>')</script>End &unknownentity; &#x1F600; AT&T</div></body></html>";
        assert_eq!(
            to_text(html),
            "Hello there & welcome <3 'quoted' été …\nSecond line\n\nPara one.\n\nPara two with a link and bold.\n\nitem one\nitem two\ndiv line\nc1 c2\nEnd &unknownentity; 😀 AT&T"
        );
    }

    #[test]
    fn a_space_after_a_closing_tag_stays() {
        assert_eq!(to_text("<b>From:</b> CRM Support"), "From: CRM Support");
        assert_eq!(to_text("a<b>b</b>c"), "abc");
    }

    #[test]
    fn blockquotes_become_quoted_lines() {
        let html = "<div>Thanks!</div><div><br></div><div class=\"gmail_quote\">On Mon, Jan 6, 2025 at 10:00 AM Support &lt;support@help.example.com&gt; wrote:<br><blockquote class=\"gmail_quote\"><div>Ticket updated.</div><blockquote>older</blockquote><div>after</div></blockquote></div>";
        assert_eq!(
            to_text(html),
            "Thanks!\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <support@help.example.com> wrote:\n\n> Ticket updated.\n\n> > older\n\n> after"
        );
    }

    #[test]
    fn pre_keeps_its_lines_and_broken_html_ends() {
        assert_eq!(to_text("<pre>a  b\n  c</pre>d"), "a  b\n  c\nd");
        for broken in [
            "<",
            "<div",
            "<a href=\"x>",
            "&",
            "&#;",
            "&#xFFFFFFFF;",
            "<!--",
            "<style>",
            "</",
            "<!",
            "&#0;",
        ] {
            let _ = to_text(broken);
        }
    }
}
