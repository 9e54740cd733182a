//! Making hostile text printable before it reaches a terminal, a log or an HTML page.
//!
//! Certificate names, headers, block pages, probe files and reports given to `merge` are written
//! by others. Sent raw to a terminal, an ESC sequence can clear the screen and paint a fake line;
//! in a page, a right-to-left override reorders what the reader sees. [`printable`] turns every
//! such character into a visible `\u{..}` escape; the JSON report itself stays faithful (JSON
//! escapes control characters already).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal or a page as itself: C0 and C1 controls, DEL, bidi
/// embedding/override/isolate marks (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), line
/// and paragraph separators, and the other invisible format characters (zero-width spaces and
/// joiners, word joiner and invisible operators, BOM, soft hyphen, interlinear annotation, tags).
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_hidden(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_hidden(c) && !keep(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every hidden character ([`is_hidden`]), line breaks and tabs included, written as
/// a visible `\u{..}` escape (ESC becomes `\u{1b}`, U+202E `\u{202e}`). For one value quoted on
/// one line: a summary cell, a log field. Borrowed when nothing needed escaping.
pub fn printable(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// Like [`printable`], but `\n` and `\t` are kept: for text that is ours and may span lines
/// (an error message, an HTML text node) while the values quoted in it are not.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// A tracing field formatter that makes every field (the message included) printable, so that
/// peer data logged at any level cannot drive the terminal. Use with
/// `tracing_subscriber::fmt().fmt_fields(report::text::log_fields())`.
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(
        |w: &mut tracing_subscriber::fmt::format::Writer<'_>,
         field: &tracing::field::Field,
         value: &dyn std::fmt::Debug| {
            let text = format!("{value:?}");
            if field.name() == "message" {
                write!(w, "{}", printable(&text))
            } else {
                write!(w, "{field}={}", printable(&text))
            }
        },
    )
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_become_visible() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\u{202e}y\u{2066}\u{200f}\u{61c}"), "x\\u{202e}y\\u{2066}\\u{200f}\\u{61c}");
        assert_eq!(printable("l1\nl2\t\r\u{7f}\u{85}\u{9b}"), "l1\\u{a}l2\\u{9}\\u{d}\\u{7f}\\u{85}\\u{9b}");
        assert_eq!(printable_lines("l1\nl2\t\u{1b}"), "l1\nl2\t\\u{1b}");
        assert_eq!(printable("\u{feff}\u{200b}\u{2028}\u{e0041}"), "\\u{feff}\\u{200b}\\u{2028}\\u{e0041}");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "CN=Zscaler Root CA, O=Zscaler Inc. é 中文 \\u{1b}";
        assert!(matches!(printable(s), Cow::Borrowed(_)));
        assert_eq!(printable(s), s);
    }
}
