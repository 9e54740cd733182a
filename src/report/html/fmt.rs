//! Escaping and formatting helpers shared by the pages (and `esc` by the diff page).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

// Small helpers

/// Escape text for HTML content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls, bidi overrides and invisible format characters shown as `\u{..}`.
            c if crate::report::text::is_hidden(c) && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A stable label for display: `not_attempted` as `not attempted`.
pub(super) fn spaced(label: &str) -> String {
    label.replace('_', " ")
}

/// A value suitable for an `id` attribute (letters, digits, `-`, `_` only).
pub(super) fn slug(prefix: &str, i: usize, s: &str) -> String {
    let cleaned: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).take(48).collect();
    format!("{prefix}{i}-{cleaned}")
}

pub(super) fn fmt_ms(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.2} s", ms as f64 / 1000.0) }
}

pub(super) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// An RFC 3339 time as `2026-11-21 23:56:01 UTC` (the original text when it does not parse).
pub(super) fn fmt_time(s: &str) -> String {
    parse_time(s).map_or_else(|| s.to_string(), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// A JSON value as plain text: strings bare, arrays joined, objects as `k=v` pairs.
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(value_text).collect();
            // Sentences read better apart; names and addresses as a list.
            let sep = if items.iter().any(|i| i.contains(' ')) { "; " } else { ", " };
            items.join(sep)
        }
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Text of an arrays-of-objects value, one object per line.
pub(super) fn value_html(v: &Value) -> String {
    match v {
        Value::Array(a) if a.iter().any(Value::is_object) => {
            a.iter().map(|x| esc(&value_text(x))).collect::<Vec<_>>().join("<br>")
        }
        v => esc(&value_text(v)),
    }
}

/// CSS class for a severity-like word (never the raw word: class names are whitelisted).
pub(super) fn tone(word: &str) -> &'static str {
    match word {
        "ok" | "trusted" => "ok",
        "warning" => "warning",
        "error" => "error",
        "info" => "info",
        _ => "muted",
    }
}

pub(super) fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", tone(class), esc(text))
}

pub(super) fn code_list(codes: &[String]) -> String {
    if codes.is_empty() {
        return "<span class=\"muted-text\">none</span>".into();
    }
    codes.iter().map(|c| format!("<code class=\"portal\">{}</code>", esc(c))).collect::<Vec<_>>().join(" ")
}

/// An `<a>` for http(s) URLs; anything else is shown as text.
pub(super) fn link(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        format!("<a href=\"{0}\" rel=\"noreferrer noopener\">{0}</a>", esc(url))
    } else {
        esc(url)
    }
}

/// `<div><dt>label</dt><dd>html</dd></div>` rows of a definition list; `html` is already escaped.
pub(super) fn dl(o: &mut String, class: &str, rows: &[(&str, String)]) {
    let _ = write!(o, "<dl class=\"{class}\">");
    for (k, v) in rows {
        let _ = write!(o, "<div><dt>{}</dt><dd>{v}</dd></div>", esc(k));
    }
    o.push_str("</dl>");
}

pub(super) fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "<span class=\"muted-text\">—</span>".into(), esc)
}

pub(super) fn mono(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_five() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn escapes_controls_and_bidi_visibly() {
        assert_eq!(esc("a\u{202e}b\u{1b}[2J\nc"), "a\\u{202e}b\\u{1b}[2J\nc");
    }

    #[test]
    fn slugs_are_safe_ids() {
        assert_eq!(slug("ep", 3, "a b\"<c>"), "ep3-a-b--c-");
    }
}
