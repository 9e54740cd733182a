#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The HTML pages of reports and fleet reports: valid HTML5 (parsed with html5ever through
//! scraper, and checked by a strict tag-balance check), self-contained, complete, escaped.

use std::path::{Path, PathBuf};

use azs_netprobe::report::{Report, fleet, html, summary};
use scraper::{ElementRef, Html, Selector};
use serde_json::{Value, json};

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTR: &str = "\"><img src=x onerror=alert(1)>";

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example reports in {}", dir.display());
    files
}

fn example_value(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn report(v: Value) -> Report {
    serde_json::from_value(v).unwrap()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<String>()
}

/// Strict well-formedness: every element is closed explicitly and in order, attributes are
/// double-quoted, text and attribute values hold no raw `<`, `>` or `"` and only known entities.
/// Returns the number of elements.
fn check_well_formed(doc: &str) -> usize {
    const VOID: [&str; 13] =
        ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];
    let check_text = |t: &str, at: usize| {
        assert!(!t.contains('>'), "raw '>' in text at byte {at}: {t:?}");
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            rest = &rest[i + 1..];
            let end = rest.find(';').unwrap_or_else(|| panic!("unterminated entity at byte {at}: {t:?}"));
            let ent = &rest[..end];
            let known = matches!(ent, "amp" | "lt" | "gt" | "quot" | "#39")
                || (ent.starts_with('#') && ent[1..].chars().all(|c| c.is_ascii_digit()) && ent.len() > 1);
            assert!(known, "unknown entity &{ent}; at byte {at}");
        }
    };
    let rest = doc.trim_start();
    let rest = rest.strip_prefix("<!DOCTYPE html>").expect("starts with <!DOCTYPE html>");
    let offset = doc.len() - rest.len();
    let bytes = rest;
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(lt) = bytes[i..].find('<') else {
            check_text(&bytes[i..], offset + i);
            break;
        };
        check_text(&bytes[i..i + lt], offset + i);
        let start = i + lt;
        let gt =
            bytes[start..].find('>').unwrap_or_else(|| panic!("unterminated tag at byte {}", offset + start)) + start;
        let tag = &bytes[start + 1..gt];
        i = gt + 1;
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("</{name}> closes nothing at byte {}", offset + start));
            assert_eq!(open, name, "</{name}> closes <{open}> at byte {}", offset + start);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let name = &tag[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad tag name {name:?} at byte {}",
            offset + start
        );
        // Attributes: name="value" pairs, nothing else.
        let mut attrs = tag[name_end..].trim();
        while !attrs.is_empty() {
            let an_end = attrs.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(attrs.len());
            if !attrs[an_end..].trim_start().starts_with('=') {
                // A boolean attribute: only `open` (of <details>) is written.
                assert_eq!(&attrs[..an_end], "open", "attribute without value in <{tag}>");
                attrs = attrs[an_end..].trim_start();
                continue;
            }
            let eq = attrs.find('=').unwrap_or_default();
            let an = attrs[..eq].trim();
            assert!(an.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'), "bad attribute {an:?}");
            let after = &attrs[eq + 1..];
            assert!(after.starts_with('"'), "unquoted attribute {an} in <{name}>");
            let close = after[1..].find('"').unwrap_or_else(|| panic!("unterminated attribute {an} in <{name}>"));
            let value = &after[1..1 + close];
            assert!(!value.contains('<'), "raw '<' in attribute {an} of <{name}>");
            check_text(value, offset + start);
            attrs = after[close + 2..].trim_start();
        }
        count += 1;
        if name == "style" {
            let end = bytes[i..].find("</style>").expect("</style>") + i;
            assert!(!bytes[i..end].contains('<'), "markup inside <style>");
            i = end + "</style>".len();
            continue;
        }
        if !self_closing && !VOID.contains(&name) {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    count
}

/// Everything the page shows comes from the page: no external scripts, styles, fonts, images.
/// (Checked on the markup: report text such as an escaped `&lt;img src=x&gt;` is only text.)
fn assert_self_contained(doc: &str, parsed: &Html) {
    let lower = doc.to_ascii_lowercase();
    for tag in ["<script", "<link", "<img", "<iframe", "<object", "<embed", "<video", "<audio", "<source", "<base"] {
        assert!(!lower.contains(tag), "the page contains a {tag}> element");
    }
    let styles: Vec<String> = parsed.select(&sel("style")).map(text).collect();
    assert_eq!(styles.len(), 1, "one inline <style>");
    for css in &styles {
        assert!(!css.contains("url(") && !css.contains("@import"), "the CSS loads something");
    }
    for el in parsed.root_element().descendants().filter_map(ElementRef::wrap) {
        let tag = el.value().name();
        for (attr, value) in el.value().attrs() {
            assert!(
                !matches!(attr, "src" | "srcset" | "data" | "poster" | "background" | "href" | "xlink:href")
                    || (tag == "a" && attr == "href"),
                "<{tag} {attr}=...> loads something"
            );
            assert!(!(attr == "style" && value.contains("url(")), "an inline style loads something");
            // The only URLs: documentation links (<a href>) and the SVG namespace.
            if value.contains("://") {
                assert!(
                    (tag == "a" && attr == "href") || (tag == "svg" && attr == "xmlns"),
                    "<{tag} {attr}=\"{value}\"> refers to something external"
                );
            }
        }
    }
}

/// Parse with html5ever and check everything both ways; the parsed document.
fn parse_checked(doc: &str) -> Html {
    let elements = check_well_formed(doc);
    let parsed = Html::parse_document(doc);
    assert!(parsed.errors.is_empty(), "HTML5 parse errors: {:?}", parsed.errors);
    // The parser built exactly the elements written: nothing implied, nothing closed early.
    let parsed_elements = parsed.root_element().descendants().filter(|n| n.value().is_element()).count();
    assert_eq!(parsed_elements, elements, "the parser saw a different tree than the one written");
    assert_self_contained(doc, &parsed);
    parsed
}

#[test]
fn examples_render_as_complete_self_contained_pages() {
    for path in examples() {
        let r: Report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let doc = html::render(&r);
        let page = parse_checked(&doc);
        let shown = path.display();

        // Sections in order.
        let order: Vec<usize> = ["<header", "id=\"what-to-do\"", "id=\"endpoints\"", "id=\"clock\"", "<footer"]
            .iter()
            .map(|s| doc.find(s).unwrap_or_else(|| panic!("{shown}: no {s}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{shown}: sections out of order");

        let header = text(page.select(&sel("header")).next().unwrap());
        assert!(header.contains(&r.node.hostname));
        assert!(header.contains(&r.node.os));
        assert!(header.contains(&format!("exit code {}", r.summary.exit_code)));
        assert!(header.contains(&r.config.probe_set.sha256[..12]));
        for u in &r.summary.usage_errors {
            assert!(header.contains(u.as_str()), "{shown}: portal code {} not in the header", u.as_str());
        }
        for d in &r.config.dns_servers {
            assert!(header.contains(d.as_str()));
        }

        // Every endpoint: in the table, with its own section and waterfall.
        let table = text(page.select(&sel("table.endpoints")).next().unwrap());
        let sections: Vec<ElementRef<'_>> = page.select(&sel("article.ep")).collect();
        assert_eq!(sections.len(), r.endpoints.len(), "{shown}");
        for (e, section) in r.endpoints.iter().zip(&sections) {
            assert!(table.contains(&e.name), "{shown}: {} not in the table", e.name);
            assert_eq!(text(section.select(&sel("h3")).next().unwrap()), e.name);
            let svg =
                section.select(&sel("svg.wf")).next().unwrap_or_else(|| panic!("{shown}: no waterfall for {}", e.name));
            assert!(svg.select(&sel("rect")).next().is_some(), "{shown}: empty waterfall for {}", e.name);
            let svg_text = text(svg);
            assert!(svg_text.contains("DNS"));
            // The stage that failed is drawn in the failure colour and labelled with its status.
            if e.verdict == azs_netprobe::report::EndpointVerdict::Error && e.stage.starts_with("dns") {
                assert!(svg.select(&sel("rect.b-fail")).next().is_some(), "{shown}: {} failure not marked", e.name);
                let status = e.stage.split(": ").nth(1).unwrap();
                assert!(svg_text.contains(status), "{shown}: {status} not labelled");
            }
        }

        // Every finding code, in "What to do".
        let todo = text(page.select(&sel("#what-to-do")).next().unwrap());
        for f in &r.findings {
            assert!(todo.contains(f.code.as_str()), "{shown}: {} missing", f.code.as_str());
            if let Some(step) = f.remediation.steps.first()
                && r.findings.iter().filter(|g| g.code == f.code).count() == 1
            {
                assert!(todo.contains(step.as_str()), "{shown}: remediation step missing");
            }
        }

        // Clock sources and the footer.
        let clock = text(page.select(&sel("#clock")).next().unwrap());
        for s in &r.clock.sources {
            assert!(clock.contains(&s.server));
        }
        let footer = text(page.select(&sel("footer")).next().unwrap());
        assert!(footer.contains(&r.run.id) && footer.contains(&r.tool.version) && footer.contains(&r.schema_version));
    }
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let mut v = example_value("lab-untrusted-chain.json");
    v["node"]["hostname"] = json!(format!("node{SCRIPT}{ATTR}"));
    v["node"]["os"] = json!(ATTR);
    v["findings"][0]["message"] = json!(format!("message {SCRIPT} {ATTR}"));
    v["findings"][0]["evidence"]["issuer"] = json!(format!("{ATTR}{SCRIPT}"));
    v["findings"][0]["remediation"]["steps"][0] = json!(SCRIPT);
    v["findings"][0]["remediation"]["references"] =
        json!(["javascript:alert(1)", format!("https://example.com/{ATTR}")]);
    v["endpoints"][0]["tls"]["chain"][0]["subject"] = json!(format!("CN={SCRIPT}, O={ATTR}"));
    v["endpoints"][0]["tls"]["chain"][0]["subject_cn"] = json!(SCRIPT);
    v["endpoints"][0]["tls"]["chain"][0]["sans"] = json!([ATTR]);
    v["endpoints"][0]["http"]["server"] = json!(SCRIPT);
    v["endpoints"][0]["tls"]["interception"]["evidence"][0] = json!(ATTR);
    // The endpoint name lands in ids, hrefs, titles and the SVG.
    let name = format!("ep{ATTR}");
    v["endpoints"][0]["name"] = json!(name);
    v["findings"][0]["endpoint"] = json!(name);
    v["endpoints"][3]["proxy"] = json!({"url": ATTR, "status": "denied", "http_status": 403, "duration_ms": 5,
        "address": null, "authenticate": [SCRIPT], "credentials_sent": false, "server": ATTR, "via": null,
        "body_excerpt": format!("<html><body>{SCRIPT}<a href='x'>blocked</a></body></html>"), "bypass_rule": null, "error": null});
    v["clock"]["sources"][0]["server"] = json!(SCRIPT);
    let r = report(v);
    let doc = html::render(&r);
    let page = parse_checked(&doc);

    assert!(!doc.contains(SCRIPT), "raw <script> in the page");
    assert!(!doc.contains(ATTR), "raw attribute break-out in the page");
    assert!(!doc.contains("<img"), "an injected element");
    assert!(doc.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(doc.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(doc.contains("&#39;x&#39;"), "single quotes are escaped");
    assert_eq!(page.select(&sel("script, img, iframe")).count(), 0);
    // No attribute carries the payload's event handler, and javascript: is never a link.
    for el in page.root_element().descendants().filter_map(ElementRef::wrap) {
        for (attr, value) in el.value().attrs() {
            assert!(!attr.starts_with("on"), "an event handler attribute {attr}");
            assert!(!value.trim_start().to_ascii_lowercase().starts_with("javascript:"), "a javascript: URL");
        }
    }
    // The text is still shown, as text.
    let shown = text(page.root_element());
    assert!(shown.contains(&format!("message {SCRIPT} {ATTR}")));
    assert!(shown.contains(&format!("CN={SCRIPT}, O={ATTR}")));
    assert!(text(page.select(&sel("header")).next().unwrap()).contains(&format!("node{SCRIPT}{ATTR}")));
    assert!(text(page.select(&sel("title")).next().unwrap()).contains(SCRIPT));
    assert!(shown.contains("javascript:alert(1)"));
    // Ids stay valid, and the endpoint link still points at its section.
    let link = page.select(&sel("table.endpoints a")).next().unwrap();
    let target = link.value().attr("href").unwrap().trim_start_matches('#');
    assert!(target.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{target}");
    assert_eq!(page.select(&sel(&format!("article#{target}"))).count(), 1);
}

/// One intercepted endpoint of the untrusted-chain example, renamed and re-hosted.
fn intercepted_endpoint(base: &Value, name: &str, host: &str, product: &str) -> (Value, Value) {
    let mut e = base["endpoints"][0].clone();
    e["name"] = json!(name);
    e["host"] = json!(host);
    e["url"] = json!(format!("https://{host}/"));
    e["tls"]["interception"] = json!({"detected": true, "product": product, "issuer": format!("{product} Intermediate CA"),
        "trusted_by_system": true, "evidence": ["the public trust anchors reject the chain: unknown_issuer"]});
    let f = json!({"code": "TlsInterception", "severity": "error", "endpoint": name, "usage_error": "CertificateValidationError",
        "message": format!("the connection to {host} is intercepted by {product}"),
        "evidence": {"host": host, "product": product, "issuer": format!("{product} Intermediate CA"), "trusted_by_system": true},
        "remediation": {"summary": format!("Exempt {host} from TLS inspection."), "steps": [format!("Add {host} to the SSL bypass list.")],
            "references": ["https://learn.microsoft.com/azure-stack/operator/azure-stack-integrate-endpoints"]}});
    (e, f)
}

fn problems_with_code<'a>(page: &'a Html, code: &str) -> Vec<ElementRef<'a>> {
    page.select(&sel("article.problem"))
        .filter(|p| p.select(&sel("h3")).next().is_some_and(|h| text(h) == code))
        .collect()
}

#[test]
fn one_cause_on_many_endpoints_is_one_problem() {
    let base = example_value("lab-untrusted-chain.json");
    let mut v = base.clone();
    let mut endpoints = Vec::new();
    let mut findings = Vec::new();
    for (name, host) in [("login", "login.example"), ("usage", "usage.example"), ("graph", "graph.example")] {
        let (e, f) = intercepted_endpoint(&base, name, host, "Zscaler");
        endpoints.push(e);
        findings.push(f);
    }
    v["endpoints"] = json!(endpoints);
    v["findings"] = json!(findings);
    let page = parse_checked(&html::render(&report(v.clone())));
    let problems = problems_with_code(&page, "TlsInterception");
    assert_eq!(problems.len(), 1, "one interception across 3 endpoints is one problem");
    let p = problems[0];
    let where_ = text(p.select(&sel(".where")).next().unwrap());
    assert!(where_.contains("3 endpoints"), "{where_}");
    for name in ["login", "usage", "graph"] {
        assert!(where_.contains(name));
    }
    assert_eq!(p.select(&sel("table.affected tbody tr")).count(), 3);
    assert!(text(p).contains("Zscaler"));
    assert_eq!(page.select(&sel("article.problem")).count(), 1);

    // Another product on one endpoint is another cause: two problems.
    let (e, f) = intercepted_endpoint(&base, "arm", "arm.example", "Blue Coat");
    v["endpoints"].as_array_mut().unwrap().push(e);
    v["findings"].as_array_mut().unwrap().push(f);
    let page = parse_checked(&html::render(&report(v)));
    assert_eq!(problems_with_code(&page, "TlsInterception").len(), 2);
}

#[test]
fn dns_failures_group_by_server_with_the_worst_severity_first() {
    let v = example_value("lab-no-internet-default-set.json");
    let r = report(v);
    let dns: Vec<_> = r.findings.iter().filter(|f| f.code.as_str() == "DnsNameNotFound").collect();
    assert!(dns.len() > 1);
    let page = parse_checked(&html::render(&r));
    let problems = problems_with_code(&page, "DnsNameNotFound");
    assert_eq!(problems.len(), 1, "one DNS server failing every name is one problem");
    let p = problems[0];
    assert!(p.value().attr("class").unwrap().contains("error"), "the group takes its worst severity");
    assert_eq!(p.select(&sel("table.affected tbody tr")).count(), dns.len());
    // Errors before warnings.
    let classes: Vec<String> =
        page.select(&sel("article.problem")).map(|p| p.value().attr("class").unwrap().to_string()).collect();
    let rank = |c: &str| {
        if c.contains("error") {
            0
        } else if c.contains("warning") {
            1
        } else {
            2
        }
    };
    assert!(classes.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "{classes:?}");
}

/// The text summary and the HTML page list the same problems (one grouping, decided in
/// diagnose): the same codes, severities and endpoint counts, in the same order. Before, the
/// summary split a code and cause by severity (the DNS failures of the no-internet example
/// were two problems in the summary and one on the page).
#[test]
fn the_summary_and_the_page_list_the_same_problems() {
    for path in examples() {
        let shown = path.display();
        let r: Report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let page = parse_checked(&html::render(&r));
        let on_page: Vec<(String, String, usize)> = page
            .select(&sel("article.problem"))
            .map(|p| {
                let code = text(p.select(&sel("h3")).next().unwrap());
                let severity = text(p.select(&sel(".problem-head .badge")).next().unwrap()).to_uppercase();
                let where_ = text(p.select(&sel(".where")).next().unwrap());
                let endpoints = if where_.starts_with("Node-wide") {
                    0
                } else if where_.starts_with("Endpoint:") {
                    1
                } else {
                    where_.split(' ').next().unwrap().parse().unwrap()
                };
                (code, severity, endpoints)
            })
            .collect();
        let summary = summary::render(&r, "report.json");
        let lines: Vec<&str> = summary.lines().collect();
        let mut in_summary: Vec<(String, String, usize)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let mut words = line.split_whitespace();
            let (Some(n), Some(sev), Some(code)) = (words.next(), words.next(), words.next()) else { continue };
            if !(n.ends_with('.') && n[..n.len() - 1].parse::<usize>().is_ok()) {
                continue;
            }
            let sev = if sev == "WARN" { "WARNING" } else { sev };
            // "on N endpoints: ..." follows when there are several; a node-wide one names none.
            let endpoints = match lines.get(i + 1).and_then(|l| l.trim().strip_prefix("on ")) {
                Some(rest) => rest.split(' ').next().unwrap().parse().unwrap(),
                None => {
                    let f = r.findings.iter().find(|f| f.code.as_str() == code).unwrap();
                    usize::from(f.endpoint.is_some())
                }
            };
            in_summary.push((code.to_string(), sev.to_string(), endpoints));
        }
        assert!(!on_page.is_empty() || r.findings.is_empty(), "{shown}: no problem on the page");
        assert_eq!(in_summary, on_page, "{shown}: the summary and the page group findings differently");
    }
}

#[test]
fn info_is_collapsed_and_dates_are_checked_against_the_run() {
    let mut v = example_value("lab-untrusted-chain.json");
    let mut info = v["findings"][0].clone();
    info["code"] = json!("DnsPrivateAddress");
    info["severity"] = json!("info");
    info["message"] = json!("resolves to a private address; the proxy resolves it");
    v["findings"].as_array_mut().unwrap().push(info);
    // A leaf that expired before the run, an intermediate not valid until after it.
    v["endpoints"][0]["tls"]["chain"][0]["not_after"] = json!("2020-01-01T00:00:00Z");
    let mut future = v["endpoints"][0]["tls"]["chain"][0].clone();
    future["not_before"] = json!("2099-01-01T00:00:00Z");
    future["not_after"] = json!("2100-01-01T00:00:00Z");
    future["is_ca"] = json!(true);
    v["endpoints"][0]["tls"]["chain"].as_array_mut().unwrap().push(future);
    let page = parse_checked(&html::render(&report(v)));

    let info = problems_with_code(&page, "DnsPrivateAddress");
    assert_eq!(info.len(), 1);
    let group = page.select(&sel("#what-to-do details.group")).next().expect("info notes are in a collapsed group");
    assert!(group.value().attr("open").is_none(), "info is collapsed by default");
    assert!(text(group).contains("DnsPrivateAddress"));

    let ep = page.select(&sel("article.ep")).next().unwrap();
    // The untrusted chain fails TLS; the HTTP answer after it (200) is not a failure.
    let failed: Vec<String> = ep.select(&sel("svg.wf rect.b-fail title")).map(text).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("TLS: ok · untrusted"), "{failed:?}");
    let cards: Vec<ElementRef<'_>> = ep.select(&sel(".cert")).collect();
    assert_eq!(cards.len(), 2);
    assert!(text(cards[0]).contains("expired at run time"));
    assert!(text(cards[1]).contains("not yet valid at run time"));
    let leaf = text(cards[0]);
    for fact in
        ["SHA-256", "SPKI SHA-256", "SANs", "EC 256", "ecdsa-with-SHA256", "SCTs", "CN=Lab Root CA, O=Lab Root CA"]
    {
        assert!(leaf.contains(fact), "{fact} missing from the certificate card");
    }
    // The other endpoint's cards are fine.
    let graph = page.select(&sel("article.ep")).nth(3).unwrap();
    assert!(text(graph).contains("valid at run time") && !text(graph).contains("expired"));
}

#[test]
fn proxy_hop_and_tcp_attempts_are_shown_and_drawn() {
    let mut v = example_value("lab-mixed-failures.json");
    v["config"]["proxy"] = json!({"url": "http://***@proxy.corp.example:3128", "source": "env", "no_proxy": []});
    v["endpoints"][1]["proxy"] = json!({"url": "http://***@proxy.corp.example:3128", "status": "auth_required",
        "http_status": 407, "duration_ms": 30, "address": "10.1.2.3:3128", "authenticate": ["Negotiate", "NTLM"],
        "credentials_sent": true, "server": "squid/5.7", "via": null, "body_excerpt": "Cache Access Denied",
        "bypass_rule": null, "error": null});
    v["endpoints"][1]["tcp"] =
        json!([{"address": "10.1.2.3:3128", "status": "ok", "duration_ms": 4, "error": null, "peer": "proxy"}]);
    v["endpoints"][1]["stage"] = json!("proxy: auth_required");
    assert_eq!(v["findings"][0]["endpoint"], "arm-metadata");
    v["findings"][0]["code"] = json!("ProxyAuthenticationRequired");
    v["findings"][0]["message"] = json!("the proxy requires authentication (Negotiate, NTLM)");
    v["findings"][0]["evidence"] = json!({"proxy": "http://***@proxy.corp.example:3128", "http_status": 407});
    let page = parse_checked(&html::render(&report(v)));
    assert!(text(page.select(&sel("header")).next().unwrap()).contains("http://***@proxy.corp.example:3128"));
    let ep = page.select(&sel("article.ep")).nth(1).unwrap();
    let proxy = text(ep.select(&sel("details.proxy")).next().unwrap());
    for fact in ["407", "Negotiate", "NTLM", "squid/5.7", "Cache Access Denied"] {
        assert!(proxy.contains(fact), "{fact} missing from the proxy hop");
    }
    let svg = ep.select(&sel("svg.wf")).next().unwrap();
    let svg_text = text(svg);
    assert!(svg_text.contains("Proxy CONNECT") && svg_text.contains("auth required 407"), "{svg_text}");
    assert!(svg_text.contains("TCP proxy 10.1.2.3:3128"));
    // The open details is the one of the failed stage.
    assert!(ep.select(&sel("details.proxy")).next().unwrap().value().attr("open").is_some());
    assert!(ep.select(&sel("details.dns")).next().unwrap().value().attr("open").is_none());
}

/// The interrupted run of tests/interrupt.rs: each endpoint's stage in flight is an open bar
/// as long as it ran and an open section that says so; the stages after it say the run was
/// stopped (not that an earlier stage failed); what finished is shown as in any run.
#[test]
fn interrupted_endpoints_show_the_stage_in_flight() {
    let v = example_value("lab-interrupted-run.json");
    assert_eq!(v["run"]["interrupted"], true);
    let page = parse_checked(&html::render(&report(v.clone())));
    let cards: Vec<ElementRef<'_>> = page.select(&sel("article.ep")).collect();
    assert_eq!(cards.len(), v["endpoints"].as_array().unwrap().len());
    let mut seen = 0;
    for (card, e) in cards.iter().zip(v["endpoints"].as_array().unwrap()) {
        let name = e["name"].as_str().unwrap();
        let all = text(*card);
        if let Some(stage) = e["interrupted"]["stage"].as_str() {
            seen += 1;
            let class = format!("details.{stage}");
            let section = card.select(&sel(&class)).next().unwrap_or_else(|| panic!("{name}: no {class}"));
            assert!(section.value().attr("open").is_some(), "{name}: the stage in flight is open");
            assert!(text(section).contains("In flight when the run was stopped"), "{name}: {}", text(section));
            let bar = card.select(&sel("svg.wf rect.b-open")).next().unwrap_or_else(|| panic!("{name}: no open bar"));
            let title = text(bar);
            assert!(title.starts_with(&format!("{}: interrupted (", bar_label(stage))), "{name}: {title}");
            assert!(!all.contains("an earlier stage failed"), "{name}: {all}");
        } else if e["verdict"] == "skipped" {
            assert!(all.contains("the run was stopped before this endpoint started"), "{name}: {all}");
            assert!(card.select(&sel("svg.wf rect.b-open")).next().is_none(), "{name}");
        } else {
            assert!(card.select(&sel("svg.wf rect.b-open")).next().is_none(), "{name}: finished");
        }
    }
    assert!(seen >= 4, "the example has endpoints stopped in DNS, TCP, TLS and HTTP");
    // Endpoints that began are drawn on their own timeline: the stage starts are in the report.
    let titles: Vec<String> = page.select(&sel("svg.wf > title")).map(text).collect();
    assert!(titles.iter().any(|t| t.contains("from its DNS query,") && t.contains("into the run")), "{titles:?}");
    // The finding of the endpoint whose handshake finished before the stop is on the page.
    let problems = problems_with_code(&page, "TlsUntrustedRoot");
    assert_eq!(problems.len(), 1);
}

fn bar_label(stage: &str) -> &str {
    match stage {
        "dns" => "DNS",
        "tcp" => "TCP",
        "proxy" => "Proxy CONNECT",
        "tls" => "TLS",
        _ => "HTTP",
    }
}

fn fleet_of(nodes: &[(&str, &str)]) -> fleet::FleetReport {
    let reports: Vec<(String, Value)> = nodes
        .iter()
        .map(|(host, file)| {
            let mut v = example_value(file);
            v["node"]["hostname"] = json!(host);
            // Each node its own run: one report merged twice is a duplicate, not a node.
            v["run"]["id"] = json!(format!("run-{host}"));
            (format!("{host}.json"), v)
        })
        .collect();
    fleet::merge(&reports, "2026-11-22T00:00:00Z".into()).unwrap()
}

#[test]
fn fleet_page_shows_differences_nodes_and_the_matrix() {
    let f = fleet_of(&[
        ("xrp01", "lab-mixed-failures.json"),
        ("xrp02", "lab-untrusted-chain.json"),
        ("xrp03", "lab-mixed-failures.json"),
    ]);
    assert!(!f.summary.differences.is_empty());
    let doc = html::render_fleet(&f);
    let page = parse_checked(&doc);

    let header = text(page.select(&sel("header")).next().unwrap());
    assert!(header.contains(&format!("exit code {}", f.summary.exit_code)));
    assert!(header.contains("3 nodes"));
    for u in &f.summary.usage_errors {
        assert!(header.contains(u.as_str()));
    }
    // Differences come right after the header, one item each.
    assert!(doc.find("id=\"differences\"").unwrap() < doc.find("id=\"nodes\"").unwrap());
    let diffs: Vec<String> = page.select(&sel("#differences li")).map(text).collect();
    assert_eq!(diffs, f.summary.differences);
    assert!(diffs.iter().any(|d| d.contains("xrp02")));

    let nodes = text(page.select(&sel("#nodes")).next().unwrap());
    for n in &f.nodes {
        assert!(nodes.contains(&n.hostname) && nodes.contains(&n.source));
    }

    // The matrix: one row per endpoint, one cell per node, the stage as the tooltip.
    let rows: Vec<ElementRef<'_>> = page.select(&sel("table.matrix tbody tr")).collect();
    assert_eq!(rows.len(), f.endpoints.len());
    let heads: Vec<String> = page.select(&sel("table.matrix thead th.node")).map(text).collect();
    assert_eq!(heads, ["xrp01", "xrp02", "xrp03"]);
    for (row, e) in rows.iter().zip(&f.endpoints) {
        let cells: Vec<ElementRef<'_>> = row.select(&sel("td.cell")).collect();
        assert_eq!(cells.len(), 3);
        for (cell, result) in cells.iter().zip(&e.results) {
            let class = cell.value().attr("class").unwrap();
            assert!(class.contains(if result.verdict == "ok" { "ok" } else { "error" }), "{class}");
            assert!(cell.value().attr("title").unwrap().contains(result.stage.as_deref().unwrap()));
            assert!(text(*cell).contains(&result.verdict));
        }
    }
    // entra-login: ok on xrp01, error on xrp02 (the untrusted chain).
    let login = text(rows[0]);
    assert!(login.contains("ok") && login.contains("error"));

    let problems = page.select(&sel("#problems tbody tr")).count();
    assert_eq!(problems, f.problems.len());
    assert!(text(page.select(&sel("#problems")).next().unwrap()).contains("TlsUntrustedRoot"));
    assert!(text(page.select(&sel("footer")).next().unwrap()).contains(&f.schema_version));
}

#[test]
fn fleet_page_of_identical_nodes_says_so_and_escapes() {
    let mut f = fleet_of(&[("xrp01", "lab-mixed-failures.json"), ("xrp02", "lab-mixed-failures.json")]);
    assert!(f.summary.differences.is_empty());
    f.nodes[0].hostname = format!("{SCRIPT}{ATTR}");
    f.nodes[0].proxy = Some(ATTR.into());
    f.problems[0].message = SCRIPT.into();
    f.endpoints[0].results[0].node = f.nodes[0].hostname.clone();
    f.endpoints[0].results[0].stage = Some(ATTR.into());
    let doc = html::render_fleet(&f);
    let page = parse_checked(&doc);
    assert!(text(page.select(&sel("#differences")).next().unwrap()).contains("Nowhere"));
    assert!(!doc.contains(SCRIPT) && !doc.contains(ATTR));
    let cell = page.select(&sel("table.matrix td.cell")).next().unwrap();
    assert!(cell.value().attr("title").unwrap().contains(ATTR), "the hostile stage is in the tooltip, as text");
}

#[test]
fn the_windows_chain_engine_is_named_where_it_gave_the_verdict() {
    let base = example_value("lab-untrusted-chain.json");
    let page = html::render(&report(base.clone()));
    assert!(!page.contains("Windows chain engine"), "webpki verdicts are not labelled");

    let mut v = base;
    v["config"]["trust"]["system"]["engine"] = json!("windows_chain_engine");
    let endpoint = v["endpoints"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["tls"]["trust"].is_object())
        .expect("an endpoint with a trust verdict");
    endpoint["tls"]["trust"]["system_engine"] = json!("windows_chain_engine");
    let page = html::render(&report(v));
    assert!(page.contains("judged by the Windows chain engine"), "the store line names the engine");
    assert!(page.contains("(the Windows chain engine's verdict)"), "the endpoint's OS-store row names the engine");
}
