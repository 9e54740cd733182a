//! Interception, decided from evidence (shared/DESIGN.md): both stores' verdicts, the issuer,
//! the known inspection products, the endpoint's expected issuers, a proxy in the path, and the
//! leaf's own facts (SCTs, age). Pure functions: no I/O, the time is given.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::{Regex, RegexBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::chain::CertFacts;
use super::{AnchorName, TrustVerdict};

/// What the chain analysis concluded about interception (reported as `tls.interception`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Interception {
    /// Something in the path re-signs this connection's TLS (a TlsInterception finding).
    pub detected: bool,
    /// The inspection product the issuer names, when it matches one.
    pub product: Option<String>,
    /// The issuer of the leaf (CN, else the whole DN).
    pub issuer: Option<String>,
    /// The node's OS store trusts the re-signing CA.
    pub trusted_by_system: bool,
    /// Each fact the verdict rests on, as a sentence.
    pub evidence: Vec<String>,
}

/// What else is known about the connection the chain came over.
#[derive(Debug, Clone, Default)]
pub struct PathFacts<'a> {
    /// The configured proxy (redacted URL), when the connection went through one.
    pub proxy: Option<&'a str>,
    /// Proxy headers seen on the HTTP response (Via, X-Cache, ...).
    pub proxy_headers: &'a [String],
    /// The OS-store anchor whose subject is the issuer of the chain's top certificate (the root
    /// that completed the path), when the store holds one.
    pub system_anchor: Option<&'a AnchorName>,
}

#[derive(Deserialize)]
struct ProductFile {
    product: Vec<ProductEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    name: String,
    #[serde(default)]
    issuer_cn: Vec<String>,
    #[serde(default)]
    issuer_o: Vec<String>,
    #[serde(default)]
    chain_cn: Vec<String>,
    note: Option<String>,
}

struct Product {
    name: String,
    cn: Vec<Regex>,
    o: Vec<Regex>,
    chain_cn: Vec<Regex>,
    note: Option<String>,
}

/// One issuer name as products are matched on it: its common name and every O value.
#[derive(Debug, Clone, Copy)]
pub struct IssuerName<'a> {
    /// The issuer's first CN (common name) value.
    pub cn: Option<&'a str>,
    /// Every O (organisation) value of the issuer.
    pub orgs: &'a [String],
}

/// A product named by a chain, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductMatch {
    /// The product's name, as in the table of inspection products (`products.toml`).
    pub name: &'static str,
    /// Which name matched, e.g. `issuer of certificate 0: Zscaler Intermediate Root CA (Zscaler Inc.)`.
    pub matched: String,
    /// What the product's certificate says beyond its name (Cisco WSA's warning certificate).
    pub note: Option<&'static str>,
}

const PRODUCTS: &str = include_str!("products.toml");

fn whole(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})$")).case_insensitive(true).build().ok()
}

fn products() -> &'static [Product] {
    static CELL: OnceLock<Vec<Product>> = OnceLock::new();
    CELL.get_or_init(|| {
        let file: ProductFile = match toml::from_str(PRODUCTS) {
            Ok(f) => f,
            Err(e) => {
                // Compiled in and checked by a unit test.
                tracing::error!("embedded product catalogue is invalid: {e}");
                return Vec::new();
            }
        };
        file.product
            .into_iter()
            .map(|p| Product {
                name: p.name,
                cn: p.issuer_cn.iter().filter_map(|r| whole(r)).collect(),
                o: p.issuer_o.iter().filter_map(|r| whole(r)).collect(),
                chain_cn: p.chain_cn.iter().filter_map(|r| whole(r)).collect(),
                note: p.note,
            })
            .collect()
    })
}

/// The inspection product an issuer names, if any, as Chromium matches its list: an entry with
/// CN and O patterns needs both to match (any of the issuer's O values), an entry with one kind
/// needs that one; an entry with neither (only `chain_cn`) never matches an issuer.
pub fn product_for(issuer: IssuerName<'_>) -> Option<&'static str> {
    products().iter().find(|p| issuer_matches(p, issuer)).map(|p| p.name.as_str())
}

fn issuer_matches(p: &Product, issuer: IssuerName<'_>) -> bool {
    if p.cn.is_empty() && p.o.is_empty() {
        return false;
    }
    let cn = p.cn.is_empty() || issuer.cn.is_some_and(|cn| p.cn.iter().any(|r| r.is_match(cn)));
    let o = p.o.is_empty() || issuer.orgs.iter().any(|o| p.o.iter().any(|r| r.is_match(o)));
    cn && o
}

fn name_label(cn: Option<&str>, orgs: &[String], dn: &str) -> String {
    match (cn, orgs.first()) {
        (Some(cn), Some(o)) if cn != o => format!("{cn} ({})", orgs.join(", ")),
        (Some(cn), _) => cn.to_string(),
        (None, Some(_)) => orgs.join(", "),
        (None, None) => dn.to_string(),
    }
}

/// The product a chain names: the common names of its certificates (`chain_cn` entries), then
/// the issuer of every presented certificate, leaf first, then the OS-store anchor's subject.
pub fn product_in_chain(chain: &[CertFacts], anchor: Option<&AnchorName>) -> Option<ProductMatch> {
    let products = products();
    for (i, c) in chain.iter().enumerate() {
        for name in [c.subject_cn.as_deref(), c.issuer_cn.as_deref()].into_iter().flatten() {
            if let Some(p) = products.iter().find(|p| p.chain_cn.iter().any(|r| r.is_match(name))) {
                return Some(ProductMatch {
                    name: p.name.as_str(),
                    matched: format!("certificate {i} is named \"{name}\""),
                    note: p.note.as_deref(),
                });
            }
        }
    }
    let mut names: Vec<(String, IssuerName<'_>)> = chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let orgs: &[String] = if c.issuer_orgs.is_empty() { c.issuer_o.as_slice() } else { &c.issuer_orgs };
            (
                format!("issuer of certificate {i}: {}", name_label(c.issuer_cn.as_deref(), orgs, &c.issuer)),
                IssuerName { cn: c.issuer_cn.as_deref(), orgs },
            )
        })
        .collect();
    if let Some(a) = anchor {
        names.push((
            format!("the OS-store anchor {}", name_label(a.cn.as_deref(), &a.orgs, &a.subject)),
            IssuerName { cn: a.cn.as_deref(), orgs: &a.orgs },
        ));
    }
    names.into_iter().find_map(|(label, name)| {
        products.iter().find(|p| issuer_matches(p, name)).map(|p| ProductMatch {
            name: p.name.as_str(),
            matched: label,
            note: p.note.as_deref(),
        })
    })
}

/// The root issuer of a chain, as Firefox names it when no product matches: the OS-store anchor
/// that completed the path, else the issuer of the top presented certificate.
pub fn root_issuer(chain: &[CertFacts], anchor: Option<&AnchorName>) -> Option<String> {
    if let Some(a) = anchor {
        return Some(name_label(a.cn.as_deref(), &a.orgs, &a.subject));
    }
    let top = chain.last()?;
    let orgs: &[String] = if top.issuer_orgs.is_empty() { top.issuer_o.as_slice() } else { &top.issuer_orgs };
    Some(name_label(top.issuer_cn.as_deref(), orgs, &top.issuer))
}

/// Glob match (`*` any run of characters), case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first) || !t[first.len()..].ends_with(last) || t.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the leaf's issuer is one the endpoint is known to use (true when none are listed).
pub fn issuer_expected(expected: &[String], leaf: &CertFacts) -> bool {
    let name = leaf.issuer_cn.as_deref().unwrap_or(&leaf.issuer);
    expected.is_empty() || expected.iter().any(|p| glob_match(p, name))
}

fn issuer_label(c: &CertFacts) -> String {
    match (&c.issuer_cn, &c.issuer_o) {
        (Some(cn), Some(o)) if cn != o => format!("{cn} ({o})"),
        (Some(cn), _) => cn.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => c.issuer.clone(),
    }
}

/// Certificates below the root signed with SHA-1 or MD5: (position in the chain, algorithm).
pub fn weak_signatures(chain: &[CertFacts]) -> Vec<(usize, String)> {
    chain
        .iter()
        .enumerate()
        .filter(|(_, c)| c.subject != c.issuer || c.subject.is_empty())
        .filter(|(_, c)| {
            let a = c.signature_algorithm.to_ascii_lowercase();
            a.contains("sha1") || a.contains("md5") || a.contains("sha-1") || a.contains("md2")
        })
        .map(|(i, c)| (i, c.signature_algorithm.clone()))
        .collect()
}

/// The server sent a chain that stops short of its issuer: the top certificate is not
/// self-issued and no presented certificate is its issuer.
pub fn chain_stops_short(chain: &[CertFacts]) -> bool {
    let Some(top) = chain.last() else {
        return false;
    };
    top.subject != top.issuer && !chain.iter().any(|c| c.subject == top.issuer)
}

/// A public chain with a missing intermediate (TlsIncompleteChain) rather than an unknown root:
/// the leaf comes from an issuer the endpoint uses (or one that publishes its certificate by
/// AIA), and the server did not send that issuer.
pub fn incomplete_chain(chain: &[CertFacts], expected: &[String]) -> bool {
    let Some(leaf) = chain.first() else {
        return false;
    };
    let known_issuer = (!expected.is_empty() && issuer_expected(expected, leaf))
        || chain.last().is_some_and(|top| top.aia.iter().any(|u| u.starts_with("http")));
    known_issuer && chain_stops_short(chain)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// Decide interception for one presented chain.
pub fn analyse(
    chain: &[CertFacts],
    public: TrustVerdict,
    system: TrustVerdict,
    expected: &[String],
    path: &PathFacts<'_>,
    now: DateTime<Utc>,
) -> Interception {
    let Some(leaf) = chain.first() else {
        return Interception::default();
    };
    let mut out = Interception { issuer: Some(issuer_label(leaf)), ..Interception::default() };
    // A publicly trusted chain is what the real service presents: never interception.
    if public.is_trusted() {
        return out;
    }
    // Date and name errors alone are not evidence of interception (a clock off, a stale or
    // misdirected certificate); only an issuer the public anchors do not know is.
    if public != TrustVerdict::UnknownIssuer {
        return out;
    }
    let ev = &mut out.evidence;
    ev.push(format!("the public trust anchors reject the chain: {}", public.as_str()));
    let trusted_by_system = system.is_trusted();
    if trusted_by_system {
        ev.push("this node's OS trust store accepts the chain: a CA installed on the node signs it".into());
    } else {
        ev.push(format!("this node's OS trust store rejects it too: {}", system.as_str()));
    }
    ev.push(format!("issuer of the leaf: {}", leaf.issuer));
    let found = product_in_chain(chain, path.system_anchor);
    let product = found.as_ref().map(|m| m.name);
    match &found {
        Some(m) => {
            ev.push(format!("{} matches the inspection product {}", m.matched, m.name));
            if let Some(note) = m.note {
                ev.push(note.to_string());
            }
        }
        None => {
            if let Some(root) = root_issuer(chain, path.system_anchor) {
                ev.push(format!("no known inspection product matches; the chain's root issuer is {root}"));
            }
        }
    }
    let unexpected = !expected.is_empty() && !issuer_expected(expected, leaf);
    if unexpected {
        ev.push(format!("the endpoint's certificates come from {}, not from this issuer", expected.join(", ")));
    }
    if let Some(proxy) = path.proxy {
        ev.push(format!("the connection goes through the proxy {proxy}"));
    }
    if !path.proxy_headers.is_empty() {
        ev.push(format!("the response carries proxy headers: {}", path.proxy_headers.join("; ")));
    }
    if leaf.sct_count == 0 {
        ev.push("the leaf carries no signed certificate timestamps (publicly trusted CAs log theirs)".into());
    }
    if let Some(nb) = parse_time(&leaf.not_before) {
        let age = now - nb;
        if age >= chrono::Duration::zero() && age < chrono::Duration::hours(72) {
            let mins = age.num_minutes();
            let text = if mins < 120 { format!("{mins} minutes") } else { format!("{} hours", age.num_hours()) };
            ev.push(format!("the leaf became valid {text} before the connection (minted on the fly?)"));
        }
    }
    if leaf.subject == leaf.issuer {
        ev.push("the leaf is self-signed".into());
    }
    let in_path = path.proxy.is_some() || !path.proxy_headers.is_empty();
    let missing_intermediate = !trusted_by_system && incomplete_chain(chain, expected) && product.is_none();
    out.detected = !missing_intermediate
        && leaf.subject != leaf.issuer
        && (trusted_by_system || product.is_some() || unexpected || in_path);
    out.trusted_by_system = out.detected && trusted_by_system;
    out.product = if out.detected { product.map(str::to_string) } else { None };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject_cn: &str, issuer_cn: &str, issuer_o: Option<&str>) -> CertFacts {
        CertFacts {
            subject: format!("CN={subject_cn}"),
            issuer: format!("CN={issuer_cn}"),
            subject_cn: Some(subject_cn.into()),
            issuer_cn: Some(issuer_cn.into()),
            issuer_o: issuer_o.map(str::to_string),
            issuer_orgs: issuer_o.map(str::to_string).into_iter().collect(),
            serial: "01".into(),
            not_before: "2026-11-21T10:00:00Z".into(),
            not_after: "2027-11-21T10:00:00Z".into(),
            sha256: String::new(),
            spki_sha256: String::new(),
            sans: vec![],
            is_ca: false,
            path_len: None,
            key: "EC 256".into(),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            sct_count: 0,
            aia: vec![],
            parse_error: None,
        }
    }

    fn now() -> DateTime<Utc> {
        parse_time("2026-11-21T10:30:00Z").unwrap()
    }

    const MS: &[&str] = &["Microsoft Azure * TLS Issuing CA *"];

    fn expected() -> Vec<String> {
        MS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn product_catalogue_loads_and_names_products() {
        let file: ProductFile = toml::from_str(PRODUCTS).unwrap();
        for p in &file.product {
            for r in p.issuer_cn.iter().chain(&p.issuer_o) {
                assert!(whole(r).is_some(), "{}: bad pattern {r}", p.name);
            }
        }
        let orgs = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let named = |cn: Option<&str>, o: &[&str]| product_for(IssuerName { cn, orgs: &orgs(o) });
        assert_eq!(named(None, &["Zscaler Inc."]), Some("Zscaler"));
        assert_eq!(named(Some("FortiGate CA"), &["Fortinet"]), Some("Fortinet FortiGate"));
        assert_eq!(named(Some("FortiGate CA"), &["Fortinet Ltd."]), Some("Fortinet FortiGate"));
        assert_eq!(named(Some("Cisco Umbrella Primary SubCA"), &["Cisco"]), Some("Cisco Umbrella"));
        assert_eq!(named(Some("mitmproxy"), &["mitmproxy"]), Some("mitmproxy"));
        assert_eq!(named(Some("Sophos SSL CA_C123456"), &["Sophos"]), Some("Sophos"));
        assert_eq!(
            named(Some("ContentKeeper Appliance CA (12)"), &["ContentKeeper Technologies"]),
            Some("ContentKeeper")
        );
        assert_eq!(named(Some("Microsoft Azure RSA TLS Issuing CA 03"), &["Microsoft Corporation"]), None);
        assert_eq!(named(Some("DigiCert Global Root G2"), &["DigiCert Inc"]), None);
    }

    /// Chromium's semantics: CN and O both when an entry has both; any O value of the issuer.
    #[test]
    fn cn_and_o_must_both_match_and_any_o_may() {
        let orgs = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let named = |cn: Option<&str>, o: &[&str]| product_for(IssuerName { cn, orgs: &orgs(o) });
        // CN alone, or O alone, of a two-pattern entry names nothing.
        assert_eq!(named(Some("FortiGate CA"), &[]), None);
        assert_eq!(named(Some("FortiGate CA"), &["Example Corp"]), None);
        assert_eq!(named(Some("Sophos SSL CA_C4F2E1"), &["Example Corp"]), None);
        assert_eq!(named(Some("Example Inspection CA"), &["Sophos"]), None);
        // Loose O-only names of other vendors' CAs name nothing.
        assert_eq!(named(Some("Cisco Systems Root CA"), &["Cisco"]), None);
        assert_eq!(named(Some("Cisco Basic Assurance Root CA"), &["Cisco Systems, Inc."]), None);
        assert_eq!(named(Some("Kaspersky Lab Root"), &["Kaspersky Lab"]), None);
        assert_eq!(named(Some("Fortinet Root"), &["Fortinet"]), None);
        assert_eq!(named(Some("Corporate Root"), &["Palo Alto Networks"]), None);
        // Any O value: the second of two O attributes matches.
        assert_eq!(named(Some("Sophos Web Appliance"), &["Example Corp", "Sophos Plc"]), Some("Sophos Web Appliance"));
        assert_eq!(named(Some("Cisco Umbrella Root CA"), &["Umbrella", "Cisco"]), Some("Cisco Umbrella"));
        // Every entry of Chromium's list (shared/REFERENCE.md) is present, plus Sophos Web Appliance.
        for (cn, o, product) in [
            (Some("avast! Web/Mail Shield Root"), &["avast! Web/Mail Shield"][..], "Avast"),
            (Some("Bitdefender Personal CA.Net-Defender"), &["Bitdefender"], "Bitdefender"),
            (Some("Cisco Umbrella Root CA"), &["Cisco"], "Cisco Umbrella"),
            (Some("ContentKeeper Appliance CA (3)"), &["ContentKeeper Technologies"], "ContentKeeper"),
            (None, &["Cyberoam Certificate Authority"], "Cyberoam"),
            (Some("Forcepoint Cloud CA"), &["Forcepoint LLC"], "Forcepoint"),
            (Some("FortiGate CA"), &["Fortinet"], "Fortinet FortiGate"),
            (Some("Kaspersky Anti-Virus Personal Root Certificate"), &[], "Kaspersky"),
            (Some("McAfee Web Gateway"), &[], "McAfee Web Gateway"),
            (Some("www.netspark.com"), &["NetSpark"], "NetSpark"),
            (Some("Smoothwall-default-root-certificate-authority"), &[], "Smoothwall"),
            (None, &["HTTPS Management Certificate for SonicWALL"], "SonicWall"),
            (Some("Sophos_CA_ABC123"), &["Sophos"], "Sophos"),
            (Some("sophosutm Proxy CA"), &["sophosutm"], "Sophos UTM"),
            (Some("Sophos Web Appliance"), &["Sophos Plc"], "Sophos Web Appliance"),
            (None, &["Blue Coat Systems, Inc."], "Symantec Blue Coat"),
            (Some("IWSS.TREND"), &[], "Trend Micro IWSS"),
            (None, &["Zscaler Inc."], "Zscaler"),
            (Some("mitmproxy"), &["mitmproxy"], "mitmproxy"),
        ] {
            assert_eq!(named(cn, o), Some(product), "{cn:?} {o:?}");
        }
    }

    #[test]
    fn the_whole_chain_and_the_os_anchor_are_walked() {
        // The leaf's issuer is an operator-named intermediate; the product's root is above it.
        let leaf = cert("login.example", "Contoso Issuing CA 1", Some("Contoso"));
        let mut inter = cert("Contoso Issuing CA 1", "Zscaler Root CA", Some("Zscaler Inc."));
        inter.is_ca = true;
        let m = product_in_chain(&[leaf.clone(), inter], None).unwrap();
        assert_eq!(m.name, "Zscaler");
        assert!(m.matched.contains("certificate 1"), "{}", m.matched);
        // Only the leaf presented: the OS-store anchor that completed the path names it.
        let anchor = AnchorName {
            subject: "CN=Contoso Issuing CA 1".into(),
            cn: Some("Sophos Web Appliance".into()),
            orgs: vec!["Sophos Plc".into()],
        };
        let m = product_in_chain(std::slice::from_ref(&leaf), Some(&anchor)).unwrap();
        assert_eq!(m.name, "Sophos Web Appliance");
        assert!(m.matched.contains("OS-store anchor"), "{}", m.matched);
        // No product: the root issuer is named, the anchor first.
        assert_eq!(product_in_chain(std::slice::from_ref(&leaf), None), None);
        assert_eq!(root_issuer(std::slice::from_ref(&leaf), None).as_deref(), Some("Contoso Issuing CA 1 (Contoso)"));
        let i = analyse(&[leaf], TrustVerdict::UnknownIssuer, TrustVerdict::Trusted, &[], &PathFacts::default(), now());
        assert!(
            i.evidence.iter().any(|e| e.contains("root issuer is Contoso Issuing CA 1 (Contoso)")),
            "{:?}",
            i.evidence
        );
    }

    #[test]
    fn cisco_wsa_warning_certificate_names_the_product_and_what_it_means() {
        let leaf = cert("Untrusted Certificate Warning", "Cisco WSA Untrusted Root", Some("Example Corp"));
        let i = analyse(
            &[leaf],
            TrustVerdict::UnknownIssuer,
            TrustVerdict::UnknownIssuer,
            &[],
            &PathFacts::default(),
            now(),
        );
        assert!(i.detected);
        assert_eq!(i.product.as_deref(), Some("Cisco WSA"));
        assert!(
            i.evidence.iter().any(|e| e.contains("the proxy itself failed to validate the real server")),
            "{:?}",
            i.evidence
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("Microsoft Azure * TLS Issuing CA *", "Microsoft Azure RSA TLS Issuing CA 03"));
        assert!(glob_match("DigiCert *", "digicert global g2 tls rsa sha256 2020 ca1"));
        assert!(!glob_match("Microsoft Azure * TLS Issuing CA *", "Zscaler Intermediate Root CA"));
        assert!(glob_match("exact", "EXACT"));
        assert!(!glob_match("a*b*c", "ab"));
    }

    #[test]
    fn public_trust_is_never_interception() {
        let chain = vec![cert("login.example", "Zscaler Root", Some("Zscaler Inc."))];
        let i = analyse(
            &chain,
            TrustVerdict::Trusted,
            TrustVerdict::UnknownIssuer,
            &expected(),
            &PathFacts::default(),
            now(),
        );
        assert!(!i.detected);
    }

    #[test]
    fn os_store_trust_without_public_trust_is_interception() {
        let chain = vec![cert("login.example", "Corp Inspection CA", Some("Corp"))];
        let i = analyse(&chain, TrustVerdict::UnknownIssuer, TrustVerdict::Trusted, &[], &PathFacts::default(), now());
        assert!(i.detected && i.trusted_by_system);
        assert_eq!(i.product, None);
        assert!(i.evidence.iter().any(|e| e.contains("OS trust store accepts")));
        assert!(i.evidence.iter().any(|e| e.contains("30 minutes")), "{:?}", i.evidence);
        assert!(i.evidence.iter().any(|e| e.contains("no signed certificate timestamps")));
    }

    #[test]
    fn untrusted_everywhere_needs_a_sign_of_interception() {
        let chain = vec![cert("login.example", "Unknown CA", None)];
        let none = analyse(
            &chain,
            TrustVerdict::UnknownIssuer,
            TrustVerdict::UnknownIssuer,
            &[],
            &PathFacts::default(),
            now(),
        );
        assert!(!none.detected, "no proxy, no product, no expectation: an untrusted root");
        let proxy = PathFacts { proxy: Some("http://proxy:3128"), ..PathFacts::default() };
        assert!(analyse(&chain, TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer, &[], &proxy, now()).detected);
        let unexpected = analyse(
            &chain,
            TrustVerdict::UnknownIssuer,
            TrustVerdict::UnknownIssuer,
            &expected(),
            &PathFacts::default(),
            now(),
        );
        assert!(unexpected.detected);
        let headers = vec!["Via: 1.1 squid".to_string()];
        let transparent = PathFacts { proxy_headers: &headers, ..PathFacts::default() };
        assert!(
            analyse(&chain, TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer, &[], &transparent, now())
                .detected
        );
        let zs = vec![cert("login.example", "Zscaler Intermediate Root CA", Some("Zscaler Inc."))];
        let z =
            analyse(&zs, TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer, &[], &PathFacts::default(), now());
        assert!(z.detected);
        assert_eq!(z.product.as_deref(), Some("Zscaler"));
    }

    #[test]
    fn date_errors_and_self_signed_are_not_interception() {
        let chain = vec![cert("login.example", "Unknown CA", None)];
        for v in [TrustVerdict::Expired, TrustVerdict::NotYetValid, TrustVerdict::NameMismatch] {
            assert!(!analyse(&chain, v, v, &expected(), &PathFacts::default(), now()).detected);
        }
        let mut selfsigned = cert("login.example", "login.example", None);
        selfsigned.issuer = selfsigned.subject.clone();
        let i = analyse(
            &[selfsigned],
            TrustVerdict::UnknownIssuer,
            TrustVerdict::UnknownIssuer,
            &expected(),
            &PathFacts::default(),
            now(),
        );
        assert!(!i.detected);
        assert!(i.evidence.iter().any(|e| e == "the leaf is self-signed"));
    }

    #[test]
    fn missing_intermediate_of_an_expected_issuer_is_an_incomplete_chain() {
        let chain = vec![cert("login.example", "Microsoft Azure RSA TLS Issuing CA 03", Some("Microsoft Corporation"))];
        assert!(incomplete_chain(&chain, &expected()));
        let proxy = PathFacts { proxy: Some("http://proxy:3128"), ..PathFacts::default() };
        let i = analyse(&chain, TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer, &expected(), &proxy, now());
        assert!(!i.detected, "a proxy in the path does not make a missing intermediate an interception");
        let mut with_issuer = chain.clone();
        let mut inter = cert("Microsoft Azure RSA TLS Issuing CA 03", "Some Root", None);
        inter.subject = "CN=Microsoft Azure RSA TLS Issuing CA 03".into();
        with_issuer.push(inter);
        assert!(incomplete_chain(&with_issuer, &expected()), "the intermediate's own issuer is missing");
    }

    #[test]
    fn weak_signatures_below_the_root() {
        let mut leaf = cert("a", "b", None);
        leaf.signature_algorithm = "sha1WithRSAEncryption".into();
        let mut root = cert("b", "b", None);
        root.issuer = root.subject.clone();
        root.signature_algorithm = "sha1WithRSAEncryption".into();
        assert_eq!(weak_signatures(&[leaf, root]), vec![(0, "sha1WithRSAEncryption".to_string())]);
    }
}
