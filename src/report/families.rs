//! The address families of each endpoint (`families[]`) in the text summary and the HTML
//! page: which family the node tries first, and how TLS and HTTP went over each. Renderers
//! only: every verdict was decided in diagnose.

use std::fmt::Write as _;

use super::text::printable;
use super::{EndpointReport, FamilyReport, HttpReport, Report};
use crate::probe::{HttpStatus, TlsStatus};

fn http_text(h: &HttpReport) -> String {
    match (h.status, h.status_code) {
        (HttpStatus::Ok, Some(code)) => code.to_string(),
        (s, _) => s.as_str().to_string(),
    }
}

/// One family in words: `IPv6 [2001:db8::2]:443 (tried first): TLS timeout, HTTP not_attempted`.
fn line(f: &FamilyReport) -> String {
    let name = f.family.name();
    let first = if f.first { " (tried first)" } else { "" };
    let mut s =
        format!("{name} {}{first}: TLS {}, HTTP {}", printable(&f.address), f.tls.status.as_str(), http_text(&f.http));
    if let Some(r) = &f.tls.mss_retry {
        let _ = write!(s, " (retry with MSS {}: {})", r.mss, r.status.as_str());
    }
    s
}

/// Does the endpoint's outcome differ between its families (worth showing)?
fn differs(e: &EndpointReport) -> bool {
    let ok = |f: &FamilyReport| f.tls.status == TlsStatus::Ok && f.http.status == HttpStatus::Ok;
    e.families.len() > 1 && e.families.iter().any(|f| ok(f) != ok(&e.families[0]))
}

/// The text summary's lines for the endpoints with more than one family (empty when none).
pub fn text(report: &Report) -> String {
    let rows: Vec<&EndpointReport> = report.endpoints.iter().filter(|e| e.families.len() > 1).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nAddress families (TLS and HTTP over each; the node's order per RFC 6724):\n");
    for e in rows {
        let mark = if differs(e) { " [families differ]" } else { "" };
        let _ = writeln!(out, "  {}{mark}", printable(&e.name));
        for f in &e.families {
            let _ = writeln!(out, "    {}", line(f));
        }
    }
    out
}

fn esc(s: &str) -> String {
    printable(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML section of one endpoint's families (empty when it has none).
pub fn html(e: &EndpointReport) -> String {
    if e.families.is_empty() {
        return String::new();
    }
    let open = if differs(e) { " open" } else { "" };
    let mut o = format!(
        "<details class=\"families\"{open}><summary>Address families ({})</summary><table><thead><tr>\
         <th>Family</th><th>Address</th><th>Node order</th><th>TLS</th><th>Bytes received</th><th>MSS retry</th><th>HTTP</th>\
         </tr></thead><tbody>",
        e.families.len()
    );
    for f in &e.families {
        let retry = f
            .tls
            .mss_retry
            .as_ref()
            .map_or_else(|| "-".to_string(), |r| format!("{} ({} bytes)", r.status.as_str(), r.mss));
        let _ = write!(
            o,
            "<tr class=\"family-{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.family.as_str(),
            f.family.name(),
            esc(&f.address),
            if f.first { "tried first" } else { "tried later" },
            esc(f.tls.status.as_str()),
            f.tls.bytes_received.map_or_else(|| "-".to_string(), |b| b.to_string()),
            esc(&retry),
            esc(&http_text(&f.http)),
        );
    }
    o.push_str("</tbody></table></details>");
    o
}
