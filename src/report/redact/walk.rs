//! The one walk over a report's strings: every string field of every part, free text and names
//! alike, never enum labels or numbers, each visited with a label saying where it is. `--redact`
//! and the removal of echoed proxy credentials both use it, so a field added to the report is
//! covered by both once it is listed here.

use serde_json::Value;

use crate::clock::{ClockEstimate, ClockSource};
use crate::diagnose::Finding;
use crate::report::{
    ConfigInfo, DnsReport, EndpointReport, HttpReport, Node, ProbeSetInfo, ProxyHop, ProxyInfo, Report, RunInfo,
    StoreSummary, Summary, TcpReport, TlsReport, Tool, TrustReport,
};
use crate::trust::chain::CertFacts;
use crate::trust::intercept::Interception;

/// Every string field of a report part, visited with a label saying where it is.
pub(super) trait Strings {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String));
}

impl Strings for String {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        f("string", self);
    }
}

impl<T: Strings> Strings for Option<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        if let Some(x) = self {
            x.strings(f);
        }
    }
}

impl<T: Strings> Strings for Vec<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        self.iter_mut().for_each(|x| x.strings(f));
    }
}

impl Strings for Value {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        match self {
            Value::String(s) => f("evidence", s),
            Value::Array(a) => a.iter_mut().for_each(|x| x.strings(f)),
            Value::Object(o) => o.values_mut().for_each(|x| x.strings(f)),
            _ => {}
        }
    }
}

/// Visit named fields: `fields!(f; "where" => self.a, ...)`.
macro_rules! fields {
    ($f:ident; $($label:literal => $e:expr),* $(,)?) => {
        $( $e.strings(&mut |_, s: &mut String| $f($label, s)); )*
    };
}

impl Strings for Report {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "schema_version" => self.schema_version);
        self.tool.strings(f);
        self.run.strings(f);
        self.node.strings(f);
        self.config.strings(f);
        self.clock.strings(f);
        self.endpoints.strings(f);
        self.findings.strings(f);
        self.summary.strings(f);
        if let Some(w) = &mut self.watch {
            // Codes, severities and verdicts there are labels: only the endpoint names are text.
            for x in w.findings.iter_mut().chain(w.intermittent.iter_mut()) {
                fields!(f; "watch.findings.endpoint" => x.endpoint);
            }
        }
    }
}

impl Strings for Tool {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "tool.name" => self.name, "tool.version" => self.version);
    }
}

impl Strings for RunInfo {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "run.id" => self.id, "run.started_at" => self.started_at, "run.finished_at" => self.finished_at);
    }
}

impl Strings for Node {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "node.hostname" => self.hostname,
            "node.os" => self.os,
            "node.local_time" => self.local_time,
            "node.timezone" => self.timezone,
        );
        self.platform.strings(f);
    }
}

impl Strings for crate::platform::Platform {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        for p in &mut self.proxies {
            fields!(f;
                "node.platform.proxies.proxy" => p.proxy,
                "node.platform.proxies.bypass" => p.bypass,
                "node.platform.proxies.pac_url" => p.pac_url,
                "node.platform.proxies.error" => p.error,
            );
        }
        let t = &mut self.time_service;
        fields!(f;
            "node.platform.time_service.configured" => t.configured,
            "node.platform.time_service.source" => t.source,
            "node.platform.time_service.detail" => t.detail,
            "node.platform.tls_client.detail" => self.tls_client.detail,
        );
    }
}

impl Strings for ConfigInfo {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "config.cloud" => self.cloud,
            "config.dns_servers" => self.dns_servers,
            "config.dns_source" => self.dns_source,
            "config.ntp_servers" => self.ntp_servers,
            "config.lang" => self.lang,
        );
        self.probe_set.strings(f);
        self.proxy.strings(f);
        self.trust.public.strings(f);
        self.trust.system.strings(f);
    }
}

impl Strings for ProbeSetInfo {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "config.probe_set.name" => self.name,
            "config.probe_set.version" => self.version,
            "config.probe_set.sha256" => self.sha256,
            "config.probe_set.source" => self.source,
            "config.probe_set.uncovered" => self.uncovered,
        );
    }
}

impl Strings for ProxyInfo {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "config.proxy.url" => self.url,
            "config.proxy.no_proxy" => self.no_proxy,
            "config.proxy.no_proxy_malformed" => self.no_proxy_malformed,
        );
    }
}

impl Strings for StoreSummary {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "config.trust.source" => self.source,
            "config.trust.path" => self.path,
            "config.trust.errors" => self.errors,
        );
    }
}

impl Strings for ClockEstimate {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        self.sources.strings(f);
    }
}

impl Strings for ClockSource {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "clock.sources.server" => self.server, "clock.sources.error" => self.error);
    }
}

impl Strings for EndpointReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.name" => self.name,
            "endpoints.url" => self.url,
            "endpoints.host" => self.host,
            "endpoints.represents" => self.represents,
            "endpoints.note" => self.note,
            "endpoints.stage" => self.stage,
        );
        self.dns.strings(f);
        self.tcp.strings(f);
        self.proxy.strings(f);
        self.tls.strings(f);
        self.http.strings(f);
        self.families.strings(f);
    }
}

impl Strings for crate::report::FamilyReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "endpoints.families.address" => self.address);
        self.tls.strings(f);
        self.http.strings(f);
    }
}

impl Strings for DnsReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.dns.server" => self.server,
            "endpoints.dns.addresses" => self.addresses,
            "endpoints.dns.cnames" => self.cnames,
            "endpoints.dns.error" => self.error,
        );
    }
}

impl Strings for TcpReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f; "endpoints.tcp.address" => self.address, "endpoints.tcp.error" => self.error);
    }
}

impl Strings for ProxyHop {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.proxy.url" => self.url,
            "endpoints.proxy.authenticate" => self.authenticate,
            "endpoints.proxy.server" => self.server,
            "endpoints.proxy.via" => self.via,
            "endpoints.proxy.reason" => self.reason,
            "endpoints.proxy.body_excerpt" => self.body_excerpt,
            "endpoints.proxy.bypass_rule" => self.bypass_rule,
            "endpoints.proxy.error" => self.error,
        );
        for r in &mut self.bypass_readings {
            fields!(f; "endpoints.proxy.bypass_readings.rule" => r.rule);
        }
    }
}

impl Strings for TlsReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.tls.address" => self.address,
            "endpoints.tls.version" => self.version,
            "endpoints.tls.cipher_suite" => self.cipher_suite,
            "endpoints.tls.alpn" => self.alpn,
            "endpoints.tls.sni" => self.sni,
            "endpoints.tls.alert" => self.alert,
            "endpoints.tls.legacy_version" => self.legacy_version,
            "endpoints.tls.error" => self.error,
        );
        if let Some(r) = &mut self.mss_retry {
            fields!(f; "endpoints.tls.mss_retry.error" => r.error);
        }
        self.chain.strings(f);
        self.trust.strings(f);
        self.interception.strings(f);
        if let Some(r) = &mut self.revocation {
            fields!(f; "endpoints.tls.revocation.detail" => r.detail);
            for c in &mut r.checks {
                fields!(f;
                    "endpoints.tls.revocation.checks.url" => c.url,
                    "endpoints.tls.revocation.checks.content_type" => c.content_type,
                    "endpoints.tls.revocation.checks.detail" => c.detail,
                    "endpoints.tls.revocation.checks.next_update" => c.next_update,
                );
            }
        }
    }
}

impl Strings for CertFacts {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.tls.chain.subject" => self.subject,
            "endpoints.tls.chain.issuer" => self.issuer,
            "endpoints.tls.chain.subject_cn" => self.subject_cn,
            "endpoints.tls.chain.issuer_cn" => self.issuer_cn,
            "endpoints.tls.chain.issuer_o" => self.issuer_o,
            "endpoints.tls.chain.serial" => self.serial,
            "endpoints.tls.chain.not_before" => self.not_before,
            "endpoints.tls.chain.not_after" => self.not_after,
            "endpoints.tls.chain.sha256" => self.sha256,
            "endpoints.tls.chain.spki_sha256" => self.spki_sha256,
            "endpoints.tls.chain.sans" => self.sans,
            "endpoints.tls.chain.key" => self.key,
            "endpoints.tls.chain.signature_algorithm" => self.signature_algorithm,
            "endpoints.tls.chain.aia" => self.aia,
            "endpoints.tls.chain.parse_error" => self.parse_error,
        );
    }
}

impl Strings for TrustReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.tls.trust.public_detail" => self.public_detail,
            "endpoints.tls.trust.system_detail" => self.system_detail,
        );
    }
}

impl Strings for Interception {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.tls.interception.product" => self.product,
            "endpoints.tls.interception.issuer" => self.issuer,
            "endpoints.tls.interception.evidence" => self.evidence,
        );
    }
}

impl Strings for HttpReport {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "endpoints.http.date" => self.date,
            "endpoints.http.server" => self.server,
            "endpoints.http.via" => self.via,
            "endpoints.http.proxy_headers" => self.proxy_headers,
            "endpoints.http.edge_ref" => self.edge_ref,
            "endpoints.http.body_excerpt" => self.body_excerpt,
            "endpoints.http.error" => self.error,
        );
    }
}

impl Strings for Finding {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        fields!(f;
            "findings.endpoint" => self.endpoint,
            "findings.message" => self.message,
            "findings.evidence" => self.evidence,
            "findings.remediation.summary" => self.remediation.summary,
            "findings.remediation.steps" => self.remediation.steps,
            "findings.remediation.references" => self.remediation.references,
        );
    }
}

impl Strings for serde_json::Map<String, Value> {
    fn strings(&mut self, f: &mut dyn FnMut(&'static str, &mut String)) {
        self.values_mut().for_each(|v| v.strings(f));
    }
}

impl Strings for Summary {
    fn strings(&mut self, _f: &mut dyn FnMut(&'static str, &mut String)) {
        // Verdict, exit code, portal codes and counts: labels and numbers only.
    }
}

/// Apply `f` to every string field of `report`, free text and names alike (never to enum labels
/// or numbers). The one walk over the report that both `--redact` and the removal of echoed proxy
/// credentials use, so a field added to the report is covered by both once it is listed here.
pub fn for_each_string(report: &mut Report, f: &mut dyn FnMut(&mut String)) {
    report.strings(&mut |_, s| f(s));
}
