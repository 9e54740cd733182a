//! The remediation catalogue: data embedded in the binary, one TOML file per language (en, fr,
//! zh), covering every finding code and the portal's usage and CSP registration codes. A code
//! missing from a language falls back to English (and a unit test fails).
//!
//! Language is rendering: diagnose produces findings without remediation, and [`attach`] gives
//! every finding its remediation in one language once, when the report is built, its
//! placeholders filled from the report's own facts (endpoint, DNS, clock, platform, evidence).
//! The same report can so be rendered again in another language without probing
//! (`render --lang`).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use serde_json::Value;

use super::codes::Code;
use super::{Finding, listed};
use crate::clock::ClockEstimate;
use crate::config::Lang;
use crate::platform::Platform;

/// The five codes the portal shows when usage data cannot be sent.
pub const USAGE_CODES: [&str; 5] =
    ["NetworkError", "RequestTimedOut", "LoginError", "CertificateValidationError", "Unauthorized"];

/// The CSP registration codes: not observable from the network, explained only.
pub const CSP_CODES: [&str; 8] = [
    "RegistrationNotFound",
    "BadCustomerSubscriptionId",
    "InvalidCustomerSubscriptionId",
    "CustomerSubscriptionNotFound",
    "UnauthorizedCspRegistration",
    "CustomerSubscriptionsNotAllowed",
    "InvalidCSPSubscription",
    "MetadataResolverBadGatewayError",
];

/// What to do about a finding: text from the remediation catalogue (English, French, Chinese)
/// of the finding's code, with the finding's facts (host, port, proxy, addresses...) filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Remediation {
    /// What the finding means, in one sentence.
    pub summary: String,
    /// What to check or change, in order, with the commands to run.
    pub steps: Vec<String>,
    /// Documentation to read.
    #[serde(default)]
    pub references: Vec<String>,
}

type Catalogue = HashMap<String, Remediation>;

const EN: &str = include_str!("remediation/en.toml");
const FR: &str = include_str!("remediation/fr.toml");
const ZH: &str = include_str!("remediation/zh.toml");

fn parse(text: &str, lang: &str) -> Catalogue {
    toml::from_str(text).unwrap_or_else(|e| {
        // Compiled in and checked by unit tests; this cannot happen in a release.
        tracing::error!("embedded remediation catalogue ({lang}) is invalid: {e}");
        HashMap::new()
    })
}

fn catalogue(lang: Lang) -> &'static Catalogue {
    static EN_CAT: OnceLock<Catalogue> = OnceLock::new();
    static FR_CAT: OnceLock<Catalogue> = OnceLock::new();
    static ZH_CAT: OnceLock<Catalogue> = OnceLock::new();
    match lang {
        Lang::En => EN_CAT.get_or_init(|| parse(EN, "en")),
        Lang::Fr => FR_CAT.get_or_init(|| parse(FR, "fr")),
        Lang::Zh => ZH_CAT.get_or_init(|| parse(ZH, "zh")),
    }
}

/// Every code the catalogue explains: finding codes, then usage codes, then CSP codes.
pub fn all_codes() -> Vec<&'static str> {
    Code::ALL.iter().map(|c| c.as_str()).chain(USAGE_CODES).chain(CSP_CODES).collect()
}

/// The entry of a code (exact name) in a language, falling back to English; and the language used.
pub fn entry(code: &str, lang: Lang) -> Option<(&'static Remediation, Lang)> {
    catalogue(lang).get(code).map(|r| (r, lang)).or_else(|| catalogue(Lang::En).get(code).map(|r| (r, Lang::En)))
}

/// Fill `{name}` placeholders from `vars`; a name with no value is written `<name>`, as
/// `explain` writes every placeholder: a visible gap (a report from disk that lacks a fact),
/// never the bare name read as if it were the value ("port port").
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    fill_with(template, |key| vars.get(key).cloned().unwrap_or_else(|| format!("<{key}>")))
}

/// Replace each `{name}` placeholder (ASCII letters, digits and `_`) with `value(name)`.
pub fn fill_with(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The remediation of a code in a language, placeholders filled.
pub fn remediation(code: Code, lang: Lang, vars: &BTreeMap<String, String>) -> Remediation {
    match entry(code.as_str(), lang) {
        Some((r, _)) => Remediation {
            summary: fill(&r.summary, vars),
            steps: r.steps.iter().map(|s| fill(s, vars)).collect(),
            references: r.references.clone(),
        },
        None => Remediation { summary: code.as_str().to_string(), steps: Vec::new(), references: Vec::new() },
    }
}

/// The remediation of a code in one of its variants (a catalogue key `Code.variant`, e.g.
/// `ClockSkew.time_zone` for a whole-hour offset), placeholders filled; the code's own entry when
/// the catalogue has no such variant.
pub fn remediation_variant(code: Code, variant: &str, lang: Lang, vars: &BTreeMap<String, String>) -> Remediation {
    match entry(&format!("{}.{variant}", code.as_str()), lang) {
        Some((r, _)) => Remediation {
            summary: fill(&r.summary, vars),
            steps: r.steps.iter().map(|s| fill(s, vars)).collect(),
            references: r.references.clone(),
        },
        None => remediation(code, lang, vars),
    }
}

/// One endpoint's facts the placeholders of its findings' remediation are filled from (the
/// report's `endpoints[]`).
#[derive(Debug, Clone, Copy)]
pub struct EndpointFacts<'a> {
    /// The endpoint's name (`{endpoint}`).
    pub name: &'a str,
    /// Host name or address, without brackets (`{host}`).
    pub host: &'a str,
    /// `{port}`.
    pub port: u16,
    /// The DNS server(s) that answered (`{servers}`).
    pub dns_server: Option<&'a str>,
    /// The resolved addresses (`{addresses}`, listed short).
    pub addresses: &'a [String],
}

/// Everything of a report that remediation placeholders are filled from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The report's endpoints (findings name theirs).
    pub endpoints: &'a [EndpointFacts<'a>],
    /// The node's settings (`node.platform`): the platform findings' values and ClockSkew's
    /// time source.
    pub platform: &'a Platform,
    /// The clock estimate (`clock`): the offset of the clock findings.
    pub clock: &'a ClockEstimate,
}

/// The placeholders of a finding's remediation and its catalogue variant (e.g.
/// `ClockSkew.time_zone`): the endpoint's facts, then the stage's own values (clock, platform),
/// then the finding's evidence (strings and numbers) for names not yet given.
#[cfg(test)]
pub(crate) fn placeholders(f: &Finding, facts: &Facts<'_>) -> (BTreeMap<String, String>, Option<&'static str>) {
    let endpoint = f.endpoint.as_deref().and_then(|name| facts.endpoints.iter().find(|e| e.name == name));
    placeholders_of(f, endpoint, facts)
}

fn placeholders_of(
    f: &Finding,
    endpoint: Option<&EndpointFacts<'_>>,
    facts: &Facts<'_>,
) -> (BTreeMap<String, String>, Option<&'static str>) {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    if f.endpoint.is_none() {
        // Node-wide findings: the clock's and the platform's own values only.
        let (mut vars, variant) = super::clock::placeholders(f, facts.clock);
        for (k, v) in super::platform::placeholders(f, facts.platform, facts.clock) {
            vars.insert(k.to_string(), v);
        }
        return (vars, variant);
    }
    if let Some(e) = endpoint {
        vars.insert("host".into(), e.host.to_string());
        vars.insert("port".into(), e.port.to_string());
        vars.insert("endpoint".into(), e.name.to_string());
        if let Some(s) = e.dns_server {
            vars.insert("servers".into(), s.to_string());
        }
        if !e.addresses.is_empty() {
            vars.insert("addresses".into(), listed(e.addresses));
        }
    }
    for (k, v) in &f.evidence {
        if let Value::String(s) = v {
            vars.entry(k.clone()).or_insert_with(|| s.clone());
        } else if let Value::Number(n) = v {
            vars.entry(k.clone()).or_insert_with(|| n.to_string());
        }
    }
    (vars, None)
}

/// Give every finding its remediation in `lang`, placeholders filled from `facts` (replacing
/// any it had): the one place remediation text is attached, when the report is built and when
/// it is rendered in another language. ClockSkew's remediation also names the node's
/// configured time source. Linear in findings and endpoints (the endpoints are indexed once).
pub fn attach(findings: &mut [Finding], facts: &Facts<'_>, lang: Lang) {
    let mut index: HashMap<&str, &EndpointFacts<'_>> = HashMap::with_capacity(facts.endpoints.len());
    for e in facts.endpoints {
        index.entry(e.name).or_insert(e);
    }
    for f in findings.iter_mut() {
        let endpoint = f.endpoint.as_deref().and_then(|name| index.get(name).copied());
        let (vars, variant) = placeholders_of(f, endpoint, facts);
        f.remediation = match variant {
            Some(v) => remediation_variant(f.code, v, lang, &vars),
            None => remediation(f.code, lang, &vars),
        };
    }
    super::platform::name_time_source(findings, facts.platform);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    out.push(after[..close].to_string());
                    rest = &after[close + 1..];
                }
                None => break,
            }
        }
        out.sort();
        out
    }

    /// The variant entries (`Code.variant`) the diagnosis uses.
    const VARIANTS: [&str; 1] = ["ClockSkew.time_zone"];

    #[test]
    fn every_code_has_an_entry_in_every_language() {
        for (lang, text) in [("en", EN), ("fr", FR), ("zh", ZH)] {
            let cat: Catalogue = toml::from_str(text).unwrap_or_else(|e| panic!("{lang}: {e}"));
            for code in all_codes().into_iter().chain(VARIANTS) {
                let r = cat.get(code).unwrap_or_else(|| panic!("{lang}: no entry for {code}"));
                assert!(!r.summary.is_empty() && !r.steps.is_empty(), "{lang}: {code}");
            }
            assert_eq!(cat.len(), all_codes().len() + VARIANTS.len(), "{lang}: an entry for an unknown code");
        }
    }

    #[test]
    fn translations_keep_the_placeholders_and_references() {
        let en: Catalogue = toml::from_str(EN).unwrap();
        for (lang, text) in [("fr", FR), ("zh", ZH)] {
            let cat: Catalogue = toml::from_str(text).unwrap();
            for (code, e) in &en {
                let t = &cat[code];
                let all = |r: &Remediation| {
                    let mut v = placeholders(&r.summary);
                    for s in &r.steps {
                        v.extend(placeholders(s));
                    }
                    v.sort();
                    v.dedup();
                    v
                };
                assert_eq!(all(t), all(e), "{lang}: {code} placeholders");
                assert_eq!(t.references, e.references, "{lang}: {code} references");
            }
        }
    }

    #[test]
    fn english_fallback_and_fill() {
        assert_eq!(entry("ClockSkew", Lang::En).map(|(_, l)| l), Some(Lang::En));
        assert!(entry("NoSuchCode", Lang::Fr).is_none());
        let vars = BTreeMap::from([("host".to_string(), "a.example".to_string())]);
        assert_eq!(fill("{host} at {port} {", &vars), "a.example at <port> {");
    }
}
