//! Self-contained HTML pages of a report and of a fleet report, for support tickets.
//!
//! One file, no external assets: inline CSS, inline SVG, no JavaScript (expandable parts are
//! `<details>`). Every string that comes from a report is treated as hostile (block pages,
//! headers and certificate subjects are server-controlled) and escaped, attributes included.
//! Elements are always closed explicitly, so the output is also well-formed as a tag tree.
//!
//! The pages only read the report's decisions: problems come from [`crate::diagnose::problems`],
//! stage failures, blame and certificate validity from [`crate::diagnose::outcome`]. Here: the
//! page frame and CSS; `node` (header, "What to do", clock), `endpoint` (the endpoints table and
//! each endpoint's DNS/TCP/proxy/TLS/certificate/revocation/HTTP details), `waterfall` (stage
//! timings as SVG), `fleet` (the fleet page) and `fmt` (escaping and formatting helpers).

mod endpoint;
mod fleet;
mod fmt;
mod node;
mod waterfall;

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{EndpointReport, Report};
use crate::diagnose::Finding;

pub use fleet::render_fleet;
pub(crate) use fmt::esc;

/// The pages' one stylesheet, inlined in `<style>` (light and dark, print).
const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1d2330;--muted:#5f6b7a;--line:#d8dde4;--panel:#f5f7f9;--code:#eef1f4;
--ok:#1f7a3d;--ok-bg:#e3f3e8;--warning:#8a5a00;--warning-bg:#fdf1d6;--error:#b42318;--error-bg:#fde7e5;--info:#2458a6;--info-bg:#e4edfa;
--muted-bg:#eceff2;--bar:#6b87b5;--bar-proxy:#8a73b8;--link:#1f5fbf}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e3e7ec;--muted:#9aa5b1;--line:#323943;--panel:#1b2027;--code:#252b33;
--ok:#6fcf8e;--ok-bg:#17301f;--warning:#f0b94a;--warning-bg:#3a2c0d;--error:#ff8a80;--error-bg:#3d1a17;--info:#8ab4f8;--info-bg:#17263d;
--muted-bg:#262c34;--bar:#7f9bd0;--bar-proxy:#a996d6;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 28px 40px}
a{color:var(--link)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:0}
.problem h3 code{font-size:14.5px;padding:2px 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
code{background:var(--code);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
pre{background:var(--code);padding:8px 10px;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0;font-size:12px}
.muted-text{color:var(--muted)}.bad-text{color:var(--error)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap;border:1px solid transparent}
.badge.ok{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}
.badge.warning{color:var(--warning);background:var(--warning-bg);border-color:var(--warning)}
.badge.error{color:var(--error);background:var(--error-bg);border-color:var(--error)}
.badge.info{color:var(--info);background:var(--info-bg);border-color:var(--info)}
.badge.muted{color:var(--muted);background:var(--muted-bg);border-color:var(--line)}
code.portal{background:var(--error-bg);color:var(--error);font-weight:600;white-space:nowrap;overflow-wrap:normal}
.nw{white-space:nowrap}table.kvt th{width:190px;text-transform:none;letter-spacing:0;white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:600;font-size:12px}
table.kvt td{font-size:12.5px}
table.kvt.per th{width:auto}
.top{border:1px solid var(--line);border-left-width:8px;border-radius:6px;padding:16px 20px;background:var(--panel)}
.top.ok{border-left-color:var(--ok)}.top.warning{border-left-color:var(--warning)}.top.error{border-left-color:var(--error)}.top.muted{border-left-color:var(--muted)}
.verdict{display:flex;align-items:center;gap:14px;flex-wrap:wrap;margin-bottom:8px}
.verdict .big{font-size:24px;font-weight:700;letter-spacing:.02em}
.verdict .big.ok{color:var(--ok)}.verdict .big.warning{color:var(--warning)}.verdict .big.error{color:var(--error)}.verdict .big.muted{color:var(--muted)}
.lede{margin:6px 0 12px;font-size:15px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:0 28px;margin:0}
.kv.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:0 28px}
.facts>div,.kv>div{display:grid;grid-template-columns:120px 1fr;gap:8px;padding:3px 0;border-bottom:1px dotted var(--line)}
.facts dt,.kv dt{color:var(--muted);font-weight:600}
.facts dd,.kv dd{margin:0;overflow-wrap:anywhere}
.kv{margin:4px 0 8px}
.kv.wide>div{grid-template-columns:170px 1fr}
.note{border-left:4px solid var(--info);background:var(--info-bg);padding:8px 12px;border-radius:4px;margin:10px 0}
.note.warning{border-left-color:var(--warning);background:var(--warning-bg)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{white-space:nowrap;background:var(--panel);font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;white-space:nowrap}
.problem{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:12px 16px;margin:12px 0;background:var(--bg)}
.problem.error{border-left-color:var(--error)}.problem.warning{border-left-color:var(--warning)}.problem.info{border-left-color:var(--info)}
.problem-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.problem .where{color:var(--muted);margin:6px 0}
.problem .msg{font-size:14.5px;margin:6px 0 8px}
.fix{background:var(--panel);border-radius:5px;padding:8px 14px;margin:8px 0}
.fix ol{margin:6px 0;padding-left:22px}.fix li{margin:3px 0}
.fix .refs{margin:4px 0 2px;font-size:13px}
details{margin:6px 0}
summary{cursor:pointer;font-weight:600;padding:3px 0}
summary .muted-text{font-weight:400}
details.group>summary{font-size:15px}
.ep{border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:14px 0}
.ep-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.ep .url{color:var(--muted);margin:4px 0 8px;overflow-wrap:anywhere}
.ep details{border-top:1px solid var(--line);padding-top:4px}
.wf{width:100%;max-width:900px;height:auto;display:block;margin:6px 0 4px}
.wf text{fill:var(--fg);font-size:11px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.wf .lbl{fill:var(--fg)}.wf .dim{fill:var(--muted)}
.wf .axis{stroke:var(--line);stroke-width:1}
.wf .grid{stroke:var(--line);stroke-width:1;stroke-dasharray:2 3}
.wf .b-ok{fill:var(--bar)}.wf .b-proxy{fill:var(--bar-proxy)}.wf .b-fail{fill:var(--error)}.wf .b-open{fill:var(--muted-bg);stroke:var(--muted);stroke-dasharray:4 3}
.wf text.t-fail{fill:var(--error);font-weight:700}.wf text.t-skip{fill:var(--muted);font-style:italic}
.chain{display:grid;gap:10px;margin:6px 0}
.cert{border:1px solid var(--line);border-radius:6px;padding:8px 12px;background:var(--panel);break-inside:avoid}
.cert.bad{border-color:var(--error)}
.cert-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.cert .kv>div{grid-template-columns:150px 1fr}
.fp{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;overflow-wrap:anywhere}
ul.plain{margin:4px 0;padding-left:20px}
.clock-big{font-size:22px;font-weight:700}
.diffs{border:2px solid var(--warning);background:var(--warning-bg);border-radius:6px;padding:10px 16px;margin:12px 0}
.diffs.none{border-color:var(--ok);background:var(--ok-bg)}
.diffs h2{border:0;margin:4px 0 6px;padding:0}
.diffs li{margin:4px 0;font-size:14.5px}
th.w-cause{width:17%}th.w-nodes{width:16%}
th.node{text-align:center;text-transform:none;font-size:12.5px;color:var(--fg)}
td.cell{text-align:center;font-weight:600;font-size:12px;text-transform:uppercase;white-space:nowrap}
td.cell.ok{color:var(--ok);background:var(--ok-bg)}td.cell.warning{color:var(--warning);background:var(--warning-bg)}
td.cell.error{color:var(--error);background:var(--error-bg)}td.cell.muted{color:var(--muted);background:var(--muted-bg)}
td.cell .stage{display:block;font-weight:400;text-transform:none;font-size:11px}
footer{margin-top:36px;padding-top:10px;border-top:1px solid var(--line);color:var(--muted);font-size:12.5px}
@media print{body{font-size:11.5px;background:#fff;color:#000}main{max-width:none;padding:0}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none}.cert,.wf,tr{break-inside:avoid}.ep,.problem{break-inside:auto}a{color:inherit}
table{font-size:10.5px}code,.mono{font-size:10px}.badge{font-size:9.5px;padding:0 5px}code.portal{white-space:normal;overflow-wrap:anywhere}
h2{break-after:avoid}}
"#;

/// The page up to `<main>`: doctype, head with the inline CSS, titled `title`.
fn head(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <meta name=\"generator\" content=\"{} {}\">\
         <title>{}</title><style>{CSS}</style></head><body><main>",
        esc(crate::TOOL_NAME),
        esc(crate::TOOL_VERSION),
        esc(title)
    );
}

/// The end of the page after `</main>`.
fn tail(o: &mut String) {
    o.push_str("</main></body></html>\n");
}

// ---------------------------------------------------------------------------------------------
// Node report

/// What the page looks up per endpoint and per finding, indexed once so that a page of many
/// thousand endpoints is built in linear time.
struct Index<'a> {
    /// Endpoint name → its position in the report and the endpoint.
    endpoints: HashMap<&'a str, (usize, &'a EndpointReport)>,
    /// Endpoint name → its findings, in report order.
    findings: HashMap<&'a str, Vec<&'a Finding>>,
}

impl<'a> Index<'a> {
    fn new(r: &'a Report) -> Self {
        let mut endpoints = HashMap::with_capacity(r.endpoints.len());
        for (i, e) in r.endpoints.iter().enumerate() {
            // The first of a name wins, as a search from the start would.
            endpoints.entry(e.name.as_str()).or_insert((i, e));
        }
        let mut findings: HashMap<&str, Vec<&Finding>> = HashMap::new();
        for f in &r.findings {
            if let Some(e) = f.endpoint.as_deref() {
                findings.entry(e).or_default().push(f);
            }
        }
        Index { endpoints, findings }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.endpoints.get(name).map(|(i, _)| *i)
    }

    fn endpoint(&self, name: &str) -> Option<&'a EndpointReport> {
        self.endpoints.get(name).map(|(_, e)| *e)
    }

    /// The findings of one endpoint.
    fn findings_of(&self, name: &str) -> &[&'a Finding] {
        self.findings.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The report as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let ix = Index::new(report);
    let verdict = report.summary.verdict.as_str();
    head(&mut o, &format!("azs-netprobe: {} on {}", verdict.to_uppercase(), report.node.hostname));
    node::header(&mut o, report);
    node::what_to_do(&mut o, report, &ix);
    endpoint::endpoints(&mut o, report, &ix);
    node::clock(&mut o, report);
    let _ = write!(
        o,
        "<footer>Report schema version {} · run id <code>{}</code> · generated by {} {}</footer>",
        esc(&report.schema_version),
        esc(&report.run.id),
        esc(&report.tool.name),
        esc(&report.tool.version)
    );
    tail(&mut o);
    o
}
