//! The fleet page: where nodes differ, the nodes, the endpoint × node matrix and the problems.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::fmt::{badge, code_list, dl, esc, fmt_time, mono, opt, plural, tone};
use super::{head, tail};
use crate::report::fleet::{FleetCell, FleetReport};

/// The fleet report as one self-contained HTML page.
pub fn render_fleet(fleet: &FleetReport) -> String {
    let mut o = String::with_capacity(32 * 1024);
    let s = &fleet.summary;
    let v = s.verdict.as_str();
    let word = match v {
        "ok" | "warning" | "error" => v.to_string(),
        _ => "unknown".to_string(),
    };
    head(&mut o, &format!("azs-netprobe fleet: {} across {} nodes", word.to_uppercase(), s.nodes));
    let _ = write!(
        o,
        "<header class=\"top {}\"><div class=\"verdict\"><span class=\"big {}\">{}</span>{}<h1>Fleet of {}</h1></div>",
        tone(&word),
        tone(&word),
        esc(&word.to_uppercase()),
        badge(&word, &format!("exit code {}", s.exit_code)),
        esc(&plural(s.nodes, "node", "nodes"))
    );
    let _ = write!(
        o,
        "<p class=\"lede\">{} of {} with errors. The portal would show: {}</p>",
        s.nodes_with_errors,
        plural(s.nodes, "node", "nodes"),
        code_list(&s.usage_errors)
    );
    let rows = vec![
        ("Nodes", s.nodes.to_string()),
        ("With errors", s.nodes_with_errors.to_string()),
        ("Merged", esc(&fmt_time(&fleet.generated_at))),
        ("Tool", format!("{} {}", esc(&fleet.tool.name), esc(&fleet.tool.version))),
    ];
    dl(&mut o, "facts", &rows);
    o.push_str("</header>");

    // Where nodes differ.
    if s.differences.is_empty() {
        o.push_str(
            "<section class=\"diffs none\" id=\"differences\"><h2>Where nodes differ</h2>\
             <p>Nowhere: every problem below is shared by all nodes (look for a common cause: DNS, proxy, firewall).</p></section>",
        );
    } else {
        o.push_str("<section class=\"diffs\" id=\"differences\"><h2>Where nodes differ</h2><ul>");
        for d in &s.differences {
            let _ = write!(o, "<li>{}</li>", esc(d));
        }
        o.push_str(
            "</ul><p class=\"muted-text\">Problems only some nodes have point at those nodes' own configuration \
             (proxy settings, trust store, clock, DNS).</p></section>",
        );
    }

    // Nodes.
    o.push_str(
        "<section id=\"nodes\"><h2>Nodes</h2><table><thead><tr><th>Hostname</th><th>Verdict</th><th class=\"num\">Exit</th>\
         <th>Portal codes</th><th class=\"num\">Errors</th><th class=\"num\">Warnings</th><th class=\"num\">Clock offset</th>\
         <th>Proxy</th><th>Source file</th></tr></thead><tbody>",
    );
    for n in &fleet.nodes {
        let clock = match (n.clock_offset_seconds, n.clock_verdict.as_deref()) {
            (Some(x), Some(cv)) if cv != "ok" => format!("{x:+.1} s {}", badge(cv, cv)),
            (Some(x), _) => format!("{x:+.1} s"),
            (None, Some(cv)) => badge(cv, cv),
            (None, None) => "—".into(),
        };
        let _ = write!(
            o,
            "<tr><td><strong>{}</strong>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(&n.hostname),
            if n.interrupted { " <span class=\"badge warning\">interrupted</span>" } else { "" },
            badge(&n.verdict, &n.verdict),
            n.exit_code,
            if n.usage_errors.is_empty() { "—".into() } else { code_list(&n.usage_errors) },
            n.errors,
            n.warnings,
            clock,
            n.proxy.as_deref().map_or_else(|| "direct".into(), mono),
            esc(&n.source)
        );
    }
    o.push_str("</tbody></table></section>");

    // Endpoint x node matrix.
    o.push_str("<section id=\"matrix\"><h2>Endpoints by node</h2>");
    if fleet.endpoints.is_empty() {
        o.push_str("<p>No endpoint was probed.</p>");
    } else {
        o.push_str("<table class=\"matrix\"><thead><tr><th>Endpoint</th>");
        for n in &fleet.nodes {
            let _ = write!(o, "<th class=\"node\">{}</th>", esc(&n.hostname));
        }
        o.push_str("</tr></thead><tbody>");
        for e in &fleet.endpoints {
            let _ = write!(
                o,
                "<tr><td><strong>{}</strong><br><span class=\"muted-text\">{}{}</span></td>",
                esc(&e.name),
                esc(e.role.as_deref().unwrap_or("")),
                e.host.as_deref().map(|h| format!(" · {}", esc(h))).unwrap_or_default()
            );
            // One lookup per cell: a fleet of many nodes stays linear in its cells.
            let mut by_node: HashMap<&str, &FleetCell> = HashMap::with_capacity(e.results.len());
            for c in &e.results {
                by_node.entry(c.node.as_str()).or_insert(c);
            }
            for n in &fleet.nodes {
                match by_node.get(n.hostname.as_str()).copied() {
                    Some(c) => {
                        let stage = c.stage.as_deref().unwrap_or("");
                        let _ = write!(
                            o,
                            "<td class=\"cell {}\" title=\"{}\">{}<span class=\"stage\">{}</span></td>",
                            tone(&c.verdict),
                            esc(&format!("{} on {}: {} ({})", e.name, n.hostname, c.verdict, stage)),
                            esc(&c.verdict),
                            esc(stage)
                        );
                    }
                    None => o.push_str("<td class=\"cell muted\" title=\"not probed\">—</td>"),
                }
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Problems.
    o.push_str("<section id=\"problems\"><h2>Problems</h2>");
    if fleet.problems.is_empty() {
        o.push_str("<p>No findings on any node.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th>Code</th><th>Severity</th><th>Endpoint</th><th class=\"w-cause\">Cause</th><th class=\"w-nodes\">Nodes</th><th class=\"w-msg\">Message (one node's)</th></tr></thead><tbody>",
        );
        for p in &fleet.problems {
            let nodes = if p.all_nodes {
                format!("<strong>all {}</strong>", fleet.nodes.len())
            } else {
                format!(
                    "<strong>{} of {}</strong><br><span class=\"muted-text\">{}</span>",
                    p.nodes.len(),
                    fleet.nodes.len(),
                    esc(&p.nodes.join(", "))
                )
            };
            let _ = write!(
                o,
                "<tr><td>{}{}</td><td>{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                mono(&p.code),
                p.usage_error
                    .as_deref()
                    .map(|u| format!("<br><code class=\"portal\">{}</code>", esc(u)))
                    .unwrap_or_default(),
                badge(&p.severity, &p.severity),
                p.endpoint.as_deref().map_or_else(|| "node".into(), esc),
                opt(p.cause.as_deref()),
                nodes,
                esc(&p.message)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");
    let _ = write!(
        o,
        "<footer>Fleet report schema version {} · generated by {} {} · {}</footer>",
        esc(&fleet.schema_version),
        esc(&fleet.tool.name),
        esc(&fleet.tool.version),
        esc(&fleet.generated_at)
    );
    tail(&mut o);
    o
}
