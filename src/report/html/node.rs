//! The node page's header, its "What to do" (findings grouped into problems) and its clock section.

use std::fmt::Write as _;

use serde_json::Value;

use super::Index;
use super::fmt::{badge, code_list, dl, esc, fmt_ms, fmt_time, link, mono, opt, plural, slug, tone, value_html};
use crate::clock::SourceKind;
use crate::diagnose;
use crate::diagnose::problems::{self, Problem};
use crate::diagnose::{Finding, Severity};
use crate::report::Report;

pub(super) fn header(o: &mut String, r: &Report) {
    let s = &r.summary;
    let v = s.verdict.as_str();
    let _ = write!(
        o,
        "<header class=\"top {}\"><div class=\"verdict\"><span class=\"big {}\">{}</span>{}<h1>{}</h1></div>",
        tone(v),
        tone(v),
        v.to_uppercase(),
        badge(v, &format!("exit code {}", s.exit_code)),
        esc(&r.node.hostname)
    );
    let usage: Vec<String> = s.usage_errors.iter().map(|u| u.as_str().to_string()).collect();
    let _ = write!(
        o,
        "<p class=\"lede\">{} {}, {}, {} across {}. ",
        if s.counts.error + s.counts.warning == 0 { "No problems found:" } else { "Found" },
        plural(s.counts.error, "error", "errors"),
        plural(s.counts.warning, "warning", "warnings"),
        plural(s.counts.info, "note", "notes"),
        plural(r.endpoints.len(), "endpoint", "endpoints"),
    );
    if usage.is_empty() {
        o.push_str("The portal would show no error code from what this node sees.</p>");
    } else {
        let _ = write!(o, "The portal would show: {}</p>", code_list(&usage));
    }
    if r.run.interrupted {
        o.push_str(
            "<p class=\"note warning\"><strong>Interrupted:</strong> the run was stopped before every endpoint finished; \
             the results below are partial.</p>",
        );
    }
    let c = &r.config;
    let ps = &c.probe_set;
    let sha: String = ps.sha256.chars().take(12).collect();
    let proxy = match &c.proxy {
        None => "none (direct connections)".to_string(),
        Some(p) => {
            let mut t = format!("{} <span class=\"muted-text\">(from {})</span>", mono(&p.url), esc(p.source.as_str()));
            if !p.no_proxy.is_empty() {
                let _ = write!(t, "<br>NO_PROXY: {}", esc(&p.no_proxy.join(", ")));
            }
            t
        }
    };
    let dns_source = if c.dns_source == "flag" { "--dns-server" } else { c.dns_source.as_str() };
    let dns = if c.dns_servers.is_empty() {
        "<span class=\"muted-text\">none configured</span>".to_string()
    } else {
        format!(
            "{} <span class=\"muted-text\">(from {})</span>",
            c.dns_servers.iter().map(|d| mono(d)).collect::<Vec<_>>().join(" "),
            esc(dns_source)
        )
    };
    let store = |label: &str, st: &crate::trust::StoreSummary| {
        let mut t = format!("{label}: {} ({})", esc(&st.source), plural(st.anchors, "anchor", "anchors"));
        if let Some(p) = &st.path {
            let _ = write!(t, " {}", mono(p));
        }
        if st.engine == crate::trust::TrustEngine::WindowsChainEngine {
            t.push_str(", judged by the Windows chain engine");
        }
        if !st.errors.is_empty() {
            let _ = write!(
                t,
                " <span class=\"badge warning\">{}</span>",
                esc(&plural(st.errors.len(), "unloadable certificate", "unloadable certificates"))
            );
        }
        t
    };
    let rows = vec![
        ("Node", esc(&r.node.hostname)),
        ("OS", esc(&r.node.os)),
        (
            "Run",
            format!(
                "{} · took {}<br><span class=\"muted-text\">node local time {} ({})</span>",
                esc(&fmt_time(&r.run.started_at)),
                esc(&fmt_ms(r.run.duration_ms)),
                esc(&r.node.local_time),
                esc(&r.node.timezone)
            ),
        ),
        ("Tool", format!("{} {}", esc(&r.tool.name), esc(&r.tool.version))),
        ("Cloud", esc(&c.cloud)),
        (
            "Probe set",
            format!(
                "{} version {} · sha256 {}<br><span class=\"muted-text\">{}</span>",
                esc(&ps.name),
                esc(&ps.version),
                mono(&sha),
                esc(&ps.source)
            ),
        ),
        ("Proxy", proxy),
        ("DNS servers", dns),
        ("Trust stores", format!("{}<br>{}", store("public", &c.trust.public), store("system", &c.trust.system))),
        ("Stage timeout", esc(&fmt_ms(c.timeout_ms))),
        (
            "NTP servers",
            if c.ntp_servers.is_empty() {
                "<span class=\"muted-text\">none</span>".into()
            } else {
                c.ntp_servers.iter().map(|n| mono(n)).collect::<Vec<_>>().join(" ")
            },
        ),
    ];
    dl(o, "facts", &rows);
    if !ps.uncovered.is_empty() {
        o.push_str("<p class=\"note\"><strong>Not probed</strong> (only a wildcard is published, no concrete host): ");
        o.push_str(&ps.uncovered.iter().map(|u| esc(u)).collect::<Vec<_>>().join("; "));
        o.push_str("</p>");
    }
    o.push_str("</header>");
}

// ---------------------------------------------------------------------------------------------
// What to do: findings grouped by root cause

pub(super) fn what_to_do(o: &mut String, r: &Report, ix: &Index<'_>) {
    o.push_str("<section id=\"what-to-do\"><h2>What to do</h2>");
    if r.findings.is_empty() {
        o.push_str("<p>No findings: every endpoint answered as expected and the clock is fine.</p></section>");
        return;
    }
    let problems = problems::group(&r.findings);
    let n_main = problems.iter().filter(|p| p.severity != Severity::Info).count();
    if n_main > 0 {
        let _ = write!(
            o,
            "<p class=\"muted-text\">{} grouped into {}: one entry per root cause, listing every endpoint it affects. \
             Errors first.</p>",
            plural(r.findings.len(), "finding", "findings"),
            plural(problems.len(), "problem", "problems")
        );
    }
    let mut idx = 0;
    for p in problems.iter().filter(|p| p.severity != Severity::Info) {
        idx += 1;
        problem(o, p, idx, ix);
    }
    let infos: Vec<&Problem<'_>> = problems.iter().filter(|p| p.severity == Severity::Info).collect();
    if !infos.is_empty() {
        let _ = write!(
            o,
            "<details class=\"group\"><summary>{} <span class=\"muted-text\">(not problems by themselves; context for the above)</span></summary>",
            plural(infos.len(), "informational note", "informational notes")
        );
        for p in infos {
            idx += 1;
            problem(o, p, idx, ix);
        }
        o.push_str("</details>");
    }
    o.push_str("</section>");
}

pub(super) fn endpoint_link(name: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("<a href=\"#{}\">{}</a>", slug("ep", i, name), esc(name)),
        None => esc(name),
    }
}

fn problem(o: &mut String, p: &Problem<'_>, idx: usize, ix: &Index<'_>) {
    let endpoint_index = |n: &str| ix.position(n);
    let sev = p.severity.as_str();
    let first = p.first();
    let portal: Vec<String> = p.usage_errors.iter().map(|u| u.as_str().to_string()).collect();
    let eps = &p.endpoints;
    let _ = write!(
        o,
        "<article class=\"problem {}\" id=\"problem-{idx}\"><div class=\"problem-head\">{}<h3><code>{}</code></h3>",
        tone(sev),
        badge(sev, sev),
        esc(p.code.as_str())
    );
    if !portal.is_empty() {
        let _ = write!(o, "<span>portal: {}</span>", code_list(&portal));
    }
    o.push_str("</div><p class=\"where\">");
    if eps.is_empty() {
        o.push_str("Node-wide");
    } else {
        let _ = write!(
            o,
            "{}: {}",
            if eps.len() == 1 { "Endpoint".to_string() } else { format!("{} endpoints", eps.len()) },
            eps.iter().map(|e| endpoint_link(e, endpoint_index(e))).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(c) = &p.cause {
        let _ = write!(o, " · cause {}", esc(&c.to_string()));
    }
    let _ = write!(o, "</p><p class=\"msg\">{}</p>", esc(&first.message));
    if p.findings.len() > 1 {
        let host_of = |f: &Finding| {
            f.endpoint
                .as_deref()
                .and_then(|e| ix.endpoint(e))
                .map(|x| x.host.clone())
                .or_else(|| f.evidence.get("host").and_then(Value::as_str).map(str::to_string))
        };
        // Messages that differ only by the host name say nothing new: show the host instead.
        let generic = |f: &Finding| match host_of(f) {
            Some(h) if !h.is_empty() => f.message.replace(&h, "\u{0}"),
            _ => f.message.clone(),
        };
        let first_generic = generic(first);
        let same_message = p.findings.iter().all(|f| generic(f) == first_generic);
        let _ = write!(
            o,
            "<table class=\"affected\"><thead><tr><th>Endpoint</th><th>Host</th><th>Severity</th><th>Portal code</th>{}</tr></thead><tbody>",
            if same_message { "" } else { "<th>What was seen</th>" }
        );
        for f in &p.findings {
            let ep = f.endpoint.as_deref().map_or_else(|| "node".to_string(), |e| endpoint_link(e, endpoint_index(e)));
            let _ = write!(
                o,
                "<tr><td class=\"nw\">{ep}</td><td>{}</td><td>{}</td><td>{}</td>",
                host_of(f).as_deref().map_or_else(|| "—".into(), mono),
                badge(f.severity.as_str(), f.severity.as_str()),
                f.usage_error.map_or_else(|| "—".into(), |u| format!("<code class=\"portal\">{}</code>", u.as_str())),
            );
            if !same_message {
                let _ = write!(o, "<td>{}</td>", esc(&f.message));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    let rem = &first.remediation;
    o.push_str("<div class=\"fix\">");
    let _ = write!(o, "<p><strong>What to do:</strong> {}</p>", esc(&rem.summary));
    if !rem.steps.is_empty() {
        o.push_str("<ol>");
        for s in &rem.steps {
            let _ = write!(o, "<li>{}</li>", esc(s));
        }
        o.push_str("</ol>");
    }
    let differs = p.findings.iter().any(|f| f.remediation != *rem);
    if differs && let Some(e) = first.endpoint.as_deref() {
        let host = ix.endpoint(e).map(|x| x.host.as_str()).unwrap_or(e);
        let _ = write!(
            o,
            "<p class=\"muted-text\">Steps as written for {} ({}); apply them to each endpoint listed above with its own host name.</p>",
            esc(e),
            esc(host)
        );
    }
    if !rem.references.is_empty() {
        let _ = write!(
            o,
            "<p class=\"refs\">References: {}</p>",
            rem.references.iter().map(|u| link(u)).collect::<Vec<_>>().join(" · ")
        );
    }
    o.push_str("</div>");
    evidence(o, p);
    o.push_str("</article>");
}

/// The evidence as a key/value table of what the endpoints share, and a table per endpoint of
/// what differs between them (host, timings, error texts), collapsed.
fn evidence(o: &mut String, p: &Problem<'_>) {
    // First-seen order; the set keeps this linear in the evidence (a report is hostile input:
    // a finding with 100,000 evidence keys took minutes with a linear `contains`).
    let mut keys: Vec<&str> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in &p.findings {
        for (k, v) in &f.evidence {
            if !v.is_null() && seen.insert(k.as_str()) {
                keys.push(k);
            }
        }
    }
    if keys.is_empty() {
        return;
    }
    let get = |f: &Finding, k: &str| f.evidence.get(k).cloned().unwrap_or(Value::Null);
    let (shared, varying): (Vec<&str>, Vec<&str>) =
        keys.iter().partition(|k| p.findings.windows(2).all(|w| get(w[0], k) == get(w[1], k)));
    let open = if p.severity == Severity::Info { "" } else { " open" };
    let _ = write!(
        o,
        "<details class=\"evidence\"{open}><summary>Evidence <span class=\"muted-text\">({})</span></summary>",
        plural(keys.len(), "fact", "facts")
    );
    if !shared.is_empty() {
        o.push_str("<table class=\"kvt\"><tbody>");
        for k in &shared {
            let _ =
                write!(o, "<tr><th>{}</th><td class=\"mono\">{}</td></tr>", esc(k), value_html(&get(p.findings[0], k)));
        }
        o.push_str("</tbody></table>");
    }
    if !varying.is_empty() {
        let _ = write!(
            o,
            "<details class=\"varying\"><summary>Per endpoint <span class=\"muted-text\">({} that differ: {})</span></summary>\
             <table class=\"kvt per\"><thead><tr><th>endpoint</th>",
            plural(varying.len(), "fact", "facts"),
            esc(&varying.join(", "))
        );
        for k in &varying {
            let _ = write!(o, "<th>{}</th>", esc(k));
        }
        o.push_str("</tr></thead><tbody>");
        for f in &p.findings {
            let _ = write!(o, "<tr><td>{}</td>", esc(f.endpoint.as_deref().unwrap_or("node")));
            for k in &varying {
                let _ = write!(o, "<td class=\"mono\">{}</td>", value_html(&get(f, k)));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></details>");
    }
    o.push_str("</details>");
}

// ---------------------------------------------------------------------------------------------
// Clock

pub(super) fn clock(o: &mut String, r: &Report) {
    let c = &r.clock;
    let v = c.verdict.as_str();
    o.push_str("<section id=\"clock\"><h2>Clock</h2><p>");
    let explain = match c.offset_seconds {
        Some(off) => {
            let _ = write!(
                o,
                "<span class=\"clock-big\">{off:+.3} s</span> ± {:.3} s ",
                c.uncertainty_seconds.unwrap_or(0.0)
            );
            format!(
                "The node's clock is {:.1} s {} the time sources. Sign-in tokens tolerate {} s of skew; more than {} s is a warning.",
                off.abs(),
                if off >= 0.0 { "ahead of" } else { "behind" },
                diagnose::clock::SKEW_SECONDS,
                diagnose::clock::DRIFT_SECONDS,
            )
        }
        None => {
            o.push_str("<span class=\"clock-big\">not verified</span> ");
            "No time source answered, so the node's clock could not be checked.".to_string()
        }
    };
    let _ = write!(o, "{} <span class=\"muted-text\">{}</span></p>", badge(v, v), esc(&explain));
    if c.sources.is_empty() {
        o.push_str("<p class=\"muted-text\">No time source was consulted.</p></section>");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>Kind</th><th>Server</th><th class=\"num\">Offset</th><th class=\"num\">Uncertainty</th>\
         <th class=\"num\">RTT</th><th class=\"num\">Stratum</th><th>Outlier</th><th>Error</th></tr></thead><tbody>",
    );
    for s in &c.sources {
        let _ = write!(
            o,
            "<tr><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            match s.kind {
                SourceKind::HttpDate => "HTTP Date",
                SourceKind::Ntp => "NTP",
            },
            mono(&s.server),
            s.offset_seconds.map_or_else(|| "—".into(), |x| format!("{x:+.3} s")),
            s.uncertainty_seconds.map_or_else(|| "—".into(), |x| format!("± {x:.3} s")),
            s.rtt_ms.map_or_else(|| "—".into(), fmt_ms),
            s.stratum.map_or_else(|| "—".into(), |x| x.to_string()),
            if s.outlier { badge("warning", "outlier") } else { "no".into() },
            opt(s.error.as_deref())
        );
    }
    o.push_str("</tbody></table></section>");
}
