//! The endpoint sections of the node page: the endpoints table, then per endpoint its DNS, TCP,
//! proxy, TLS (certificates, revocation) and HTTP details.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::Index;
use super::fmt::{badge, code_list, dl, esc, fmt_ms, fmt_time, mono, opt, parse_time, plural, slug, spaced};
use super::node::endpoint_link;
use super::waterfall::waterfall;
use crate::diagnose::Code;
use crate::diagnose::outcome::{self, CertValidity, NotReached};
use crate::probe::{DnsStatus, HttpStatus, Peer, Stage, TcpStatus, TlsStatus};
use crate::report::{EndpointReport, EndpointVerdict, HttpReport, Report, TlsReport};
use crate::trust::chain::CertFacts;

// ---------------------------------------------------------------------------------------------
// Endpoints

fn endpoint_codes(ix: &Index<'_>, e: &EndpointReport) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for f in ix.findings_of(&e.name) {
        if let Some(u) = f.usage_error {
            let s = u.as_str().to_string();
            if !codes.contains(&s) {
                codes.push(s);
            }
        }
    }
    codes
}

pub(super) fn endpoints(o: &mut String, r: &Report, ix: &Index<'_>) {
    o.push_str("<section id=\"endpoints\"><h2>Endpoints</h2>");
    if r.endpoints.is_empty() {
        o.push_str("<p>No endpoint was probed.</p></section>");
        return;
    }
    o.push_str(
        "<table class=\"endpoints\"><thead><tr><th>Endpoint</th><th>Role</th><th>Host</th><th>Stands for</th>\
         <th>Stage reached</th><th>Verdict</th><th>Portal codes</th></tr></thead><tbody>",
    );
    for (i, e) in r.endpoints.iter().enumerate() {
        let v = e.verdict.as_str();
        let codes = endpoint_codes(ix, e);
        let _ = write!(
            o,
            "<tr><td class=\"nw\">{}{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            endpoint_link(&e.name, Some(i)),
            if e.required { "" } else { "<br><span class=\"muted-text\">optional</span>" },
            esc(e.role.as_str()),
            mono(&format!("{}:{}", e.host, e.port)),
            e.represents.as_deref().map_or_else(|| "—".into(), mono),
            esc(&e.stage),
            badge(v, v),
            if codes.is_empty() { "—".into() } else { code_list(&codes) }
        );
    }
    o.push_str(
        "</tbody></table><p class=\"muted-text\">Per endpoint below: each stage as a bar from where it began to where it \
         ended, on one millisecond axis counted from the endpoint's DNS query (DNS, then the TCP attempts, which run in \
         parallel, or the proxy hop, then TLS and HTTP; a failed stage in red, labelled with its status), then each \
         stage's details.</p>",
    );
    let run_time = parse_time(&r.run.started_at);
    for (i, e) in r.endpoints.iter().enumerate() {
        endpoint(o, ix, e, i, run_time);
    }
    o.push_str("</section>");
}

fn endpoint(o: &mut String, ix: &Index<'_>, e: &EndpointReport, i: usize, run_time: Option<DateTime<Utc>>) {
    let v = e.verdict.as_str();
    let _ = write!(
        o,
        "<article class=\"ep\" id=\"{}\"><div class=\"ep-head\"><h3>{}</h3>{}<span class=\"muted-text\">{} · {}</span>",
        slug("ep", i, &e.name),
        esc(&e.name),
        badge(v, v),
        esc(e.role.as_str()),
        esc(&e.stage)
    );
    let codes = endpoint_codes(ix, e);
    if !codes.is_empty() {
        let _ = write!(o, "<span>{}</span>", code_list(&codes));
    }
    let _ = write!(o, "</div><div class=\"url mono\">{}</div>", esc(&e.url));
    if let Some(w) = &e.represents {
        let _ = write!(
            o,
            "<p class=\"note\">{} stands for the published wildcard {}: only a wildcard is published, so a concrete host of that domain is probed.</p>",
            mono(&e.host),
            mono(w)
        );
    }
    if let Some(n) = &e.note {
        let _ = write!(o, "<p class=\"muted-text\">{}</p>", esc(n));
    }
    let own = ix.findings_of(&e.name);
    waterfall(o, e, outcome::http_blamed(own));
    // Open the details of the stage the worst finding blames (else of the first failed stage).
    let failed = outcome::blamed_stage(e, own);
    let open = |stage: &str| if failed == Some(stage) { " open" } else { "" };

    // DNS
    let d = &e.dns;
    if not_reached_section(o, e, Stage::Dns, "dns", "DNS") {
        o.push_str("</article>");
        return;
    }
    let _ = write!(
        o,
        "<details class=\"dns\"{}><summary>DNS <span class=\"muted-text\">{} · {} · {}</span></summary>",
        open("dns"),
        esc(&spaced(d.status.as_str())),
        esc(&fmt_ms(d.duration_ms)),
        esc(&plural(d.addresses.len(), "address", "addresses"))
    );
    let mut rows = vec![
        ("Status", badge(dns_tone(d.status), &spaced(d.status.as_str()))),
        ("Server", opt(d.server.as_deref())),
        ("Duration", esc(&fmt_ms(d.duration_ms))),
        (
            "Addresses",
            if d.addresses.is_empty() {
                "—".into()
            } else {
                d.addresses.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" ")
            },
        ),
        (
            "CNAMEs",
            if d.cnames.is_empty() {
                "—".into()
            } else {
                d.cnames.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" → ")
            },
        ),
    ];
    if let Some(err) = &d.error {
        rows.push(("Error", format!("<span class=\"mono\">{}</span>", esc(err))));
    }
    dl(o, "kv", &rows);
    o.push_str("</details>");

    // TCP (or the proxy hop) in flight
    for (stage, class, name) in [(Stage::Tcp, "tcp", "TCP"), (Stage::Proxy, "proxy", "Proxy hop")] {
        if e.interrupted.is_some_and(|i| i.stage == stage) {
            not_reached_section(o, e, stage, class, name);
        }
    }

    // TCP
    if !e.tcp.is_empty() {
        let ok = e.tcp.iter().filter(|a| a.status == TcpStatus::Ok).count();
        let _ = write!(
            o,
            "<details class=\"tcp\"{}><summary>TCP <span class=\"muted-text\">{} of {} connected</span></summary>\
             <table><thead><tr><th>Address</th><th>To</th><th>Status</th><th class=\"num\">Duration</th><th>Error</th></tr></thead><tbody>",
            open("tcp"),
            ok,
            plural(e.tcp.len(), "attempt", "attempts")
        );
        for a in &e.tcp {
            let st = spaced(a.status.as_str());
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                mono(&a.address),
                if a.peer == Peer::Proxy { "proxy" } else { "endpoint" },
                badge(if a.status == TcpStatus::Ok { "ok" } else { "error" }, &st),
                esc(&fmt_ms(a.duration_ms)),
                opt(a.error.as_deref())
            );
        }
        o.push_str("</tbody></table></details>");
    }

    // Proxy
    if let Some(p) = &e.proxy {
        let st = spaced(p.status.as_str());
        let good = outcome::proxy_ok(p.status);
        let _ = write!(
            o,
            "<details class=\"proxy\"{}><summary>Proxy hop <span class=\"muted-text\">{}{} · {}</span></summary>",
            open("proxy"),
            esc(&st),
            p.http_status.map(|c| format!(" (HTTP {c})")).unwrap_or_default(),
            esc(&fmt_ms(p.duration_ms))
        );
        let mut rows = vec![
            ("Proxy", mono(&p.url)),
            ("Status", badge(if good { "ok" } else { "error" }, &st)),
            ("CONNECT answer", p.http_status.map_or_else(|| "—".into(), |c| format!("HTTP {c}"))),
            ("Address", opt(p.address.map(|a| a.to_string()).as_deref())),
            ("Duration", esc(&fmt_ms(p.duration_ms))),
            (
                "Authenticate",
                if p.authenticate.is_empty() {
                    "—".into()
                } else {
                    p.authenticate.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" ")
                },
            ),
            ("Credentials sent", if p.credentials_sent { "yes".into() } else { "no".into() }),
            ("Server", opt(p.server.as_deref())),
            ("Via", opt(p.via.as_deref())),
        ];
        if let Some(b) = &p.bypass_rule {
            rows.push(("NO_PROXY rule", mono(b)));
        }
        if let Some(err) = &p.error {
            rows.push(("Error", esc(err)));
        }
        if let Some(b) = &p.body_excerpt {
            rows.push(("Refusal page", format!("<pre>{}</pre>", esc(b))));
        }
        dl(o, "kv", &rows);
        o.push_str("</details>");
    }

    // TLS
    if let Some(t) = &e.tls
        && (t.status != TlsStatus::NotAttempted || !not_reached_section(o, e, Stage::Tls, "tls", "TLS"))
    {
        tls(o, t, open("tls"), run_time);
    }

    // HTTP
    if let Some(h) = &e.http {
        http(o, ix, e, h, open("http"));
    }
    o.push_str(&crate::report::families::html(e));
    o.push_str("</article>");
}

/// For a stage that observed nothing: its summary and a sentence saying why
/// ([`outcome::not_reached`]). None when the stage ran.
fn not_reached(e: &EndpointReport, stage: Stage) -> Option<(String, String)> {
    Some(match outcome::not_reached(e, stage)? {
        NotReached::InFlight { after_ms } => (
            esc(&format!("interrupted after {}", fmt_ms(after_ms))),
            esc(&format!("In flight when the run was stopped, after {}: nothing was observed yet.", fmt_ms(after_ms))),
        ),
        NotReached::StoppedEarlier => {
            ("not attempted".into(), "Not attempted: the run was stopped during an earlier stage.".into())
        }
        NotReached::NotStarted => {
            ("not attempted".into(), "Not attempted: the run was stopped before this endpoint started.".into())
        }
        NotReached::EarlierStageFailed => ("not attempted".into(), "Not attempted: an earlier stage failed.".into()),
    })
}

/// The section of a stage that observed nothing, saying why ([`not_reached`]), open when it is
/// the stage in flight; false (nothing written) when the stage ran.
fn not_reached_section(o: &mut String, e: &EndpointReport, stage: Stage, class: &str, name: &str) -> bool {
    let Some((summary, text)) = not_reached(e, stage) else { return false };
    let open = if e.interrupted.is_some_and(|i| i.stage == stage) { " open" } else { "" };
    let _ = write!(
        o,
        "<details class=\"{class}\"{open}><summary>{name} <span class=\"muted-text\">{summary}</span></summary>\
         <p class=\"muted-text\">{text}</p></details>"
    );
    true
}

fn http(o: &mut String, ix: &Index<'_>, e: &EndpointReport, h: &HttpReport, open: &str) {
    let st = spaced(h.status.as_str());
    if h.status == HttpStatus::NotAttempted && not_reached_section(o, e, Stage::Http, "http", "HTTP") {
        return;
    }
    let _ = write!(
        o,
        "<details class=\"http\"{}><summary>HTTP <span class=\"muted-text\">{}{} · {}</span></summary>",
        open,
        esc(&st),
        h.status_code.map(|c| format!(" {c}")).unwrap_or_default(),
        esc(&fmt_ms(h.duration_ms))
    );
    let code_tone = match (e.verdict, h.status_code) {
        (_, None) => "muted",
        (EndpointVerdict::Ok, _) => "ok",
        _ if ix.findings_of(&e.name).iter().any(|f| f.code == Code::HttpUnexpectedStatus) => "error",
        _ => "ok",
    };
    let mut rows = vec![
        ("Status", badge(if h.status == HttpStatus::Ok { "ok" } else { "error" }, &st)),
        ("Status code", h.status_code.map_or_else(|| "—".into(), |c| badge(code_tone, &c.to_string()))),
        ("Duration", esc(&fmt_ms(h.duration_ms))),
        ("Server", opt(h.server.as_deref())),
        ("Via", opt(h.via.as_deref())),
        (
            "Proxy headers",
            if h.proxy_headers.is_empty() {
                "none".into()
            } else {
                h.proxy_headers.iter().map(|x| mono(x)).collect::<Vec<_>>().join("<br>")
            },
        ),
        ("Date", opt(h.date.as_deref())),
    ];
    if let Some(err) = &h.error {
        rows.push(("Error", esc(err)));
    }
    dl(o, "kv", &rows);
    o.push_str("</details>");
}

fn dns_tone(s: DnsStatus) -> &'static str {
    if outcome::dns_ok(s) { "ok" } else { "error" }
}

/// The TLS section of a handshake that was attempted (see [`not_reached_section`] otherwise).
fn tls(o: &mut String, t: &TlsReport, open: &str, run_time: Option<DateTime<Utc>>) {
    let st = spaced(t.status.as_str());
    let _ = write!(
        o,
        "<details class=\"tls\"{open}><summary>TLS <span class=\"muted-text\">{}{} · {}</span></summary>",
        esc(&st),
        t.version.as_deref().map(|v| format!(" · {v}")).map(|v| esc(&v)).unwrap_or_default(),
        esc(&fmt_ms(t.duration_ms))
    );
    let mut rows = vec![
        ("Status", badge(if t.status == TlsStatus::Ok { "ok" } else { "error" }, &st)),
        ("Version", opt(t.version.as_deref())),
        ("Cipher suite", opt(t.cipher_suite.as_deref())),
        ("SNI", opt(t.sni.as_deref())),
        ("ALPN", opt(t.alpn.as_deref())),
        ("Address", opt(t.address.as_deref())),
        ("Duration", esc(&fmt_ms(t.duration_ms))),
    ];
    if let Some(a) = &t.alert {
        rows.push(("Alert", esc(a)));
    }
    if let Some(l) = &t.legacy_version {
        rows.push((
            "Legacy version",
            format!("{} <span class=\"muted-text\">(answered when offered only TLS 1.0/1.1)</span>", esc(l)),
        ));
    }
    if let Some(err) = &t.error {
        rows.push(("Error", esc(err)));
    }
    let basic = rows.len();
    if let Some(tr) = &t.trust {
        let verdict = |v: crate::trust::TrustVerdict, detail: &Option<String>| {
            let mut s = badge(if v.is_trusted() { "ok" } else { "error" }, v.as_str());
            if let Some(d) = detail {
                let _ = write!(s, " <span class=\"muted-text\">{}</span>", esc(d));
            }
            s
        };
        rows.push(("Public roots", verdict(tr.public, &tr.public_detail)));
        let mut system = verdict(tr.system, &tr.system_detail);
        if tr.system_engine == crate::trust::TrustEngine::WindowsChainEngine {
            // Said only when it is not webpki: the verdict is then Schannel's own engine's.
            system.push_str(" <span class=\"muted-text\">(the Windows chain engine's verdict)</span>");
        }
        rows.push(("OS trust store", system));
    }
    if let Some(i) = &t.interception {
        let mut s =
            if i.detected { badge("error", "interception detected") } else { badge("ok", "no interception detected") };
        if let Some(p) = &i.product {
            let _ = write!(s, " product: <strong>{}</strong>", esc(p));
        }
        if let Some(iss) = &i.issuer {
            let _ = write!(s, " · issuer: {}", esc(iss));
        }
        if i.detected {
            let _ = write!(
                s,
                " · {}",
                if i.trusted_by_system {
                    "the node's OS store trusts this CA"
                } else {
                    "not trusted by the node's OS store"
                }
            );
        }
        if !i.evidence.is_empty() {
            s.push_str("<ul class=\"plain\">");
            for ev in &i.evidence {
                let _ = write!(s, "<li>{}</li>", esc(ev));
            }
            s.push_str("</ul>");
        }
        rows.push(("Interception", s));
    }
    let verdicts = rows.split_off(basic);
    dl(o, "kv cols", &rows);
    dl(o, "kv wide", &verdicts);
    revocation_table(o, t);
    if !t.chain.is_empty() {
        let dated = t
            .chain
            .iter()
            .filter(|c| run_time.and_then(|t| outcome::cert_validity(c, t)).is_some_and(CertValidity::outside))
            .count();
        let leaf_issuer = t.chain[0].issuer_cn.as_deref().unwrap_or(&t.chain[0].issuer);
        let _ = write!(
            o,
            "<details class=\"chain-view\"><summary>Certificate chain <span class=\"muted-text\">({} presented, leaf first; leaf issued by {}{})</span></summary><div class=\"chain\">",
            t.chain.len(),
            esc(leaf_issuer),
            if dated > 0 {
                format!("; <strong class=\"bad-text\">{} outside its validity at run time</strong>", dated)
            } else {
                String::new()
            }
        );
        for (n, c) in t.chain.iter().enumerate() {
            cert(o, n, t.chain.len(), c, run_time);
        }
        o.push_str("</div></details>");
    }
    o.push_str("</details>");
}

fn cert(o: &mut String, n: usize, len: usize, c: &CertFacts, run_time: Option<DateTime<Utc>>) {
    let position = if n == 0 {
        "leaf"
    } else if c.is_ca && c.subject == c.issuer {
        "root"
    } else if n + 1 == len && c.is_ca {
        "top of chain"
    } else {
        "intermediate"
    };
    let (marker, bad) = match run_time.and_then(|t| outcome::cert_validity(c, t)) {
        Some(CertValidity::Expired) => (badge("error", "expired at run time"), true),
        Some(CertValidity::NotYetValid) => (badge("error", "not yet valid at run time"), true),
        Some(CertValidity::ExpiresSoon { days }) => (badge("warning", &format!("expires in {days} days")), false),
        Some(CertValidity::Valid) => (badge("ok", "valid at run time"), false),
        None => (String::new(), false),
    };
    let title = c.subject_cn.as_deref().unwrap_or(&c.subject);
    let _ = write!(
        o,
        "<div class=\"cert{}\"><div class=\"cert-head\">{}<strong>{}</strong>{}{}</div>",
        if bad { " bad" } else { "" },
        badge("muted", &format!("#{n} {position}")),
        esc(title),
        if c.is_ca { badge("info", "CA") } else { String::new() },
        marker
    );
    let mut rows = vec![
        ("Subject", esc(&c.subject)),
        ("Issuer", esc(&c.issuer)),
        ("Validity", format!("{} → {}", esc(&fmt_time(&c.not_before)), esc(&fmt_time(&c.not_after)))),
    ];
    if !c.sans.is_empty() {
        rows.push(("SANs", c.sans.iter().map(|s| mono(s)).collect::<Vec<_>>().join(" ")));
    }
    rows.push(("Key", esc(&c.key)));
    rows.push(("Signature", esc(&c.signature_algorithm)));
    rows.push((
        "SCTs",
        if c.sct_count == 0 && n == 0 {
            "0 <span class=\"muted-text\">(publicly trusted CAs log their leaves)</span>".into()
        } else {
            c.sct_count.to_string()
        },
    ));
    if let Some(pl) = c.path_len {
        rows.push(("Path length", pl.to_string()));
    }
    rows.push(("Serial", format!("<span class=\"fp\">{}</span>", esc(&c.serial))));
    rows.push(("SHA-256", format!("<span class=\"fp\">{}</span>", esc(&c.sha256))));
    rows.push(("SPKI SHA-256", format!("<span class=\"fp\">{}</span>", esc(&c.spki_sha256))));
    if !c.aia.is_empty() {
        rows.push(("AIA", c.aia.iter().map(|a| mono(a)).collect::<Vec<_>>().join("<br>")));
    }
    if let Some(pe) = &c.parse_error {
        rows.push(("Parse error", esc(pe)));
    }
    dl(o, "kv", &rows);
    o.push_str("</div>");
}

/// The endpoint's revocation checks: the status, then one row per CRL, OCSP and caIssuers URL
/// of each presented certificate.
fn revocation_table(o: &mut String, t: &TlsReport) {
    use crate::report::{CheckStatus, RevocationStatus};
    let Some(r) = &t.revocation else { return };
    let tone = match r.status {
        RevocationStatus::Good => "ok",
        RevocationStatus::Revoked | RevocationStatus::Invalid | RevocationStatus::Unreachable => "error",
        RevocationStatus::Unknown | RevocationStatus::NotChecked => "muted",
    };
    let _ = write!(
        o,
        "<details class=\"revocation\"{}><summary>Revocation {} <span class=\"muted-text\">{}</span></summary>",
        if tone == "error" { " open" } else { "" },
        badge(tone, r.status.as_str()),
        esc(&plural(r.checks.len(), "check", "checks"))
    );
    if let Some(d) = &r.detail {
        let _ = write!(o, "<p class=\"muted-text\">{}</p>", esc(d));
    }
    if !r.checks.is_empty() {
        o.push_str(
            "<table><thead><tr><th>Certificate</th><th>Kind</th><th>URL</th><th>Via</th><th>Status</th><th>HTTP</th>\
             <th>Content-Type</th><th class=\"num\">Duration</th><th>Detail</th></tr></thead><tbody>",
        );
        for c in &r.checks {
            let tone = match c.status {
                CheckStatus::Ok => "ok",
                CheckStatus::Unknown => "muted",
                CheckStatus::Stale => "warning",
                _ => "error",
            };
            let _ = write!(
                o,
                "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                c.certificate,
                esc(c.kind.as_str()),
                mono(&c.url),
                esc(c.via.map_or("-", |v| v.as_str())),
                badge(tone, c.status.as_str()),
                c.http_status.map_or_else(|| "-".to_string(), |s| s.to_string()),
                opt(c.content_type.as_deref()),
                esc(&fmt_ms(c.duration_ms)),
                esc(&c.detail)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</details>");
}
