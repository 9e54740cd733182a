#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Certificate chains: interception proven or ruled out, products named, every chain fault
//! classified, with the right portal code and the evidence.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use common::{Run, probe_file, run};
use lab::{DnsAnswer, DnsServer, Leaf, TestCa, TlsServer, ok_response};
use serde_json::json;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const EXPECTED: &str = r#"expected_issuers = ["Microsoft Azure * TLS Issuing CA *"]"#;

/// A stand-in for the public PKI: a root in the "public" store and Microsoft's issuing CA under it.
struct PublicPki {
    root: TestCa,
    issuing: TestCa,
}

fn public_pki() -> PublicPki {
    let root = TestCa::new_with("Lab Global Root G2", "Lab Public CA Inc");
    let issuing = root.intermediate("Microsoft Azure RSA TLS Issuing CA 03");
    PublicPki { root, issuing }
}

/// One endpoint `name` (role, extra probe-file lines) served by `leaf`, judged against the given
/// public and system stores (PEM text).
fn probe_one(dir: &Path, role: &str, extra: &str, leaf: &Leaf, public_pem: &str, system_pem: &str) -> (Run, TlsServer) {
    let tls = TlsServer::start(LO, leaf, ok_response());
    let dns = DnsServer::start(vec![("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let file = probe_file(
        dir,
        &format!(
            "[[endpoint]]\nname = \"ep\"\nrole = \"{role}\"\nurl = \"https://login.lab.test:{}/\"\npublic = false\n{extra}\n",
            tls.addr.port()
        ),
    );
    let public = dir.join("public.pem");
    let system = dir.join("system.pem");
    std::fs::write(&public, public_pem).unwrap();
    std::fs::write(&system, system_pem).unwrap();
    let r = run(
        dir,
        &[
            "--probes",
            file.to_str().unwrap(),
            "--dns-server",
            &dns.addr.to_string(),
            "--public-roots",
            public.to_str().unwrap(),
            "--system-roots",
            system.to_str().unwrap(),
        ],
    );
    (r, tls)
}

#[test]
fn a_healthy_public_chain_is_never_intercepted() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let leaf = pki.issuing.leaf(&["login.lab.test"]);
    let (r, _s) = probe_one(dir.path(), "login", EXPECTED, &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let t = &r.endpoint("ep")["tls"];
    assert_eq!(
        t["trust"],
        json!({
            "public": "trusted",
            "system": "trusted",
            "public_detail": null,
            "system_detail": null,
            "system_engine": "webpki"
        })
    );
    assert_eq!(t["interception"]["detected"], false);
    assert_eq!(t["interception"]["issuer"], "Microsoft Azure RSA TLS Issuing CA 03 (Lab Public CA Inc)");
    assert_eq!(t["chain"].as_array().unwrap().len(), 2);
    assert_eq!(t["chain"][1]["is_ca"], true);
    assert!(r.findings("ep").is_empty());
}

#[test]
fn a_publicly_trusted_chain_from_an_unexpected_issuer_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let other = pki.root.intermediate("Some Other Public TLS CA");
    let leaf = other.leaf(&["login.lab.test"]);
    let (r, _s) = probe_one(dir.path(), "usage", EXPECTED, &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.codes("ep"), vec!["TlsUnexpectedIssuer"]);
    let f = r.finding("ep", "TlsUnexpectedIssuer");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["usage_error"], "CertificateValidationError");
    assert_eq!(r.endpoint("ep")["tls"]["interception"]["detected"], false, "publicly trusted: not interception");
    assert_eq!(r.code, 1);
}

#[test]
fn interception_by_a_ca_the_node_trusts_and_by_one_it_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let corp = TestCa::new_with("Contoso Outbound Inspection CA", "Contoso Ltd");
    let leaf = corp.leaf(&["login.lab.test"]);
    // The corporate CA is in the node's OS store: the strongest client-side signal.
    let system = format!("{}{}", pki.root.cert_pem, corp.cert_pem);
    let (r, _s) = probe_one(dir.path(), "login", "", &leaf, &pki.root.cert_pem, &system);
    let i = &r.endpoint("ep")["tls"]["interception"];
    assert_eq!(i["detected"], true);
    assert_eq!(i["trusted_by_system"], true);
    assert_eq!(i["product"], json!(null), "Contoso is no known product");
    assert_eq!(i["issuer"], "Contoso Outbound Inspection CA (Contoso Ltd)");
    let ev: Vec<&str> = i["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(ev.iter().any(|e| e.contains("public trust anchors reject the chain: unknown_issuer")), "{ev:?}");
    assert!(ev.iter().any(|e| e.contains("OS trust store accepts")), "{ev:?}");
    assert!(ev.iter().any(|e| e.contains("no signed certificate timestamps")), "{ev:?}");
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    let f = r.finding("ep", "TlsInterception");
    assert_eq!(f["usage_error"], "LoginError");
    assert_eq!(f["evidence"]["trusted_by_system"], true);
    assert!(f["message"].as_str().unwrap().contains("re-signed by Contoso Outbound Inspection CA"));
    assert!(r.stdout.contains("TlsInterception"), "{}", r.stdout);

    // The same CA not in the OS store, on an endpoint whose issuers are known: still interception.
    let (r, _s) = probe_one(dir.path(), "usage", EXPECTED, &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
    let i = &r.endpoint("ep")["tls"]["interception"];
    assert_eq!(i["detected"], true);
    assert_eq!(i["trusted_by_system"], false);
    assert!(i["evidence"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("not from this issuer")));
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    assert_eq!(r.finding("ep", "TlsInterception")["usage_error"], "CertificateValidationError");
}

#[test]
fn inspection_products_are_named_from_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    for (cn, o, product) in [
        ("Zscaler Intermediate Root CA (zscaler.net)", "Zscaler Inc.", "Zscaler"),
        ("FortiGate CA", "Fortinet", "Fortinet FortiGate"),
        ("Cisco Umbrella Primary SubCA", "Cisco", "Cisco Umbrella"),
        ("Corp SSL Inspection", "Blue Coat Systems, Inc.", "Symantec Blue Coat"),
        ("Palo Alto Networks Forward Trust CA", "Example Corp", "Palo Alto Networks"),
        ("Sophos SSL CA_C4F2E1", "Sophos", "Sophos"),
        ("Sophos Web Appliance", "Sophos Plc", "Sophos Web Appliance"),
        ("Forcepoint Cloud CA", "Forcepoint LLC", "Forcepoint"),
    ] {
        let ca = TestCa::new_with(cn, o);
        let leaf = ca.leaf(&["login.lab.test"]);
        // Neither store trusts it and no issuers are expected: the product name alone decides.
        let (r, _s) = probe_one(dir.path(), "usage", "", &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
        let i = &r.endpoint("ep")["tls"]["interception"];
        assert_eq!(i["detected"], true, "{cn}");
        assert_eq!(i["product"], product, "{cn}");
        assert_eq!(r.codes("ep"), vec!["TlsInterception"], "{cn}");
        assert!(r.finding("ep", "TlsInterception")["message"].as_str().unwrap().contains(product));
    }
}

#[test]
fn chain_faults_are_classified_and_never_called_interception() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let cases: Vec<(&str, Leaf, &str)> = vec![
        (
            "expired",
            pki.issuing.leaf_with(&["login.lab.test"], now - day * 400, now - day * 10),
            "TlsCertificateExpired",
        ),
        (
            "future",
            pki.issuing.leaf_with(&["login.lab.test"], now + day * 10, now + day * 400),
            "TlsCertificateNotYetValid",
        ),
        ("wrong-name", pki.issuing.leaf(&["portal.captive.test", "*.captive.test"]), "TlsNameMismatch"),
        ("self-signed", lab::self_signed_leaf(&["login.lab.test"]), "TlsUntrustedRoot"),
        ("unknown-root", TestCa::new("Nobody Knows This Root").leaf(&["login.lab.test"]), "TlsUntrustedRoot"),
        (
            "no-intermediate",
            {
                let mut l = pki.issuing.leaf(&["login.lab.test"]);
                l.chain_der.truncate(1);
                l
            },
            "TlsIncompleteChain",
        ),
    ];
    for (case, leaf, code) in cases {
        let extra = if case == "unknown-root" { "" } else { EXPECTED };
        let (r, _s) = probe_one(dir.path(), "registration", extra, &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
        assert_eq!(r.codes("ep"), vec![code], "{case}: {}", r.stdout);
        let f = r.finding("ep", code);
        assert_eq!(f["usage_error"], "CertificateValidationError", "{case}");
        assert_eq!(f["severity"], "error", "{case}");
        assert_eq!(r.endpoint("ep")["tls"]["interception"]["detected"], false, "{case}");
        assert_eq!(r.endpoint("ep")["http"]["status_code"], 200, "{case}: the handshake still completed");
        match case {
            "wrong-name" => {
                assert_eq!(f["evidence"]["leaf_sans"], json!(["portal.captive.test", "*.captive.test"]));
                assert!(f["message"].as_str().unwrap().contains("valid for: portal.captive.test, *.captive.test"));
            }
            "self-signed" => {
                assert!(f["message"].as_str().unwrap().contains("self-signed"), "{f}");
                let ev = &r.endpoint("ep")["tls"]["interception"]["evidence"];
                assert!(ev.as_array().unwrap().iter().any(|e| e == "the leaf is self-signed"), "{ev}");
            }
            "expired" => assert_eq!(r.endpoint("ep")["tls"]["trust"]["public"], "expired"),
            "future" => assert_eq!(r.endpoint("ep")["tls"]["trust"]["public"], "not_yet_valid"),
            "no-intermediate" => {
                assert_eq!(r.endpoint("ep")["tls"]["chain"].as_array().unwrap().len(), 1);
                assert!(f["message"].as_str().unwrap().contains("Microsoft Azure RSA TLS Issuing CA 03"));
            }
            _ => {}
        }
    }
}

/// Probe `login.lab.test` (DNS → 127.0.0.1) at `port`, with an optional proxy, against the given stores.
fn probe_at(dir: &Path, port: u16, extra: &str, proxy: Option<&str>, public_pem: &str, system_pem: &str) -> Run {
    let dns = DnsServer::start(vec![("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let file = probe_file(
        dir,
        &format!(
            "[[endpoint]]\nname = \"ep\"\nrole = \"usage\"\nurl = \"https://login.lab.test:{port}/\"\npublic = false\n{extra}\n"
        ),
    );
    let (public, system) = (dir.join("public.pem"), dir.join("system.pem"));
    std::fs::write(&public, public_pem).unwrap();
    std::fs::write(&system, system_pem).unwrap();
    let mut args = vec![
        "--probes".to_string(),
        file.display().to_string(),
        "--dns-server".into(),
        dns.addr.to_string(),
        "--public-roots".into(),
        public.display().to_string(),
        "--system-roots".into(),
        system.display().to_string(),
    ];
    if let Some(p) = proxy {
        args.extend(["--proxy".into(), p.to_string()]);
    }
    run(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn evidence(r: &Run) -> Vec<String> {
    r.endpoint("ep")["tls"]["interception"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_explicit_intercepting_proxy_minting_leaves_on_the_fly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let real = TlsServer::start(LO, &pki.issuing.leaf(&["login.lab.test"]), ok_response());
    let corp = TestCa::new_with("Contoso Egress Inspection CA", "Contoso Ltd");
    let mitm = lab::MitmProxy::explicit(&corp, lab::Upstream::Forward(real.addr));
    // The corporate CA is installed on the node.
    let system = format!("{}{}", pki.root.cert_pem, mitm.ca_pem());
    let r = probe_at(dir.path(), real.addr.port(), EXPECTED, Some(&mitm.url()), &pki.root.cert_pem, &system);
    let i = &r.endpoint("ep")["tls"]["interception"];
    assert_eq!(i["detected"], true, "{i}");
    assert_eq!(i["trusted_by_system"], true);
    let ev = evidence(&r);
    assert!(ev.iter().any(|e| e.contains(&format!("goes through the proxy {}", mitm.url()))), "{ev:?}");
    assert!(ev.iter().any(|e| e.contains("minutes before the connection")), "{ev:?}");
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    assert_eq!(mitm.minted(), vec!["login.lab.test".to_string()]);
    assert_eq!(r.endpoint("ep")["http"]["status_code"], 200, "the request went through the interceptor");
    // Without the interceptor the same endpoint is healthy: the finding is the path, not the service.
    let direct = probe_at(dir.path(), real.addr.port(), EXPECTED, None, &pki.root.cert_pem, &pki.root.cert_pem);
    assert!(direct.codes("ep").is_empty(), "{:?}", direct.codes("ep"));
}

#[test]
fn a_transparent_interceptor_is_caught_by_product_expected_issuers_or_proxy_headers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    // Named product, CA not on the node, no expectations: the name is the evidence.
    let zscaler = TestCa::new_with("Zscaler Intermediate Root CA (zscaler.net)", "Zscaler Inc.");
    let t = lab::MitmProxy::transparent(LO, &zscaler, lab::Upstream::Answer { headers: vec![] });
    let r = probe_at(dir.path(), t.addr.port(), "", None, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.endpoint("ep")["tls"]["interception"]["product"], "Zscaler");
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    assert_eq!(t.minted(), vec!["login.lab.test".to_string()], "minted for the SNI");

    // An unnamed CA: caught because the endpoint's issuers are known...
    let anon = TestCa::new_with("Edge Security Appliance", "Example Networks");
    let t = lab::MitmProxy::transparent(LO, &anon, lab::Upstream::Answer { headers: vec![] });
    let r = probe_at(dir.path(), t.addr.port(), EXPECTED, None, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    // ...or because the device announces itself in the response...
    let t = lab::MitmProxy::transparent(
        LO,
        &anon,
        lab::Upstream::Answer { headers: vec![("Via".into(), "1.1 edge-appliance".into())] },
    );
    let r = probe_at(dir.path(), t.addr.port(), "", None, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
    assert!(evidence(&r).iter().any(|e| e.contains("Via: 1.1 edge-appliance")));
    // ...and without any of that it is an untrusted root: the probe does not guess.
    let t = lab::MitmProxy::transparent(LO, &anon, lab::Upstream::Answer { headers: vec![] });
    let r = probe_at(dir.path(), t.addr.port(), "", None, &pki.root.cert_pem, &pki.root.cert_pem);
    assert_eq!(r.codes("ep"), vec!["TlsUntrustedRoot"]);
    assert_eq!(r.endpoint("ep")["tls"]["interception"]["detected"], false);
}

/// mitmproxy from PyPI, as a user would meet it (installed by .ci/run).
#[test]
fn a_real_mitmproxy_is_detected_and_named() {
    if !common::require("mitmdump", lab::Mitmproxy::binary().is_some(), common::INSTALL_MITMPROXY) {
        return;
    }
    let mitm = lab::Mitmproxy::start().expect("mitmdump is installed");
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let real = TlsServer::start(LO, &pki.issuing.leaf(&["127.0.0.1"]), ok_response());
    // mitmproxy resolves names itself; its lab guard lets only 127.x literals through.
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"ep\"\nrole = \"login\"\nurl = \"https://127.0.0.1:{}/\"\npublic = false\n{EXPECTED}\n",
            real.addr.port()
        ),
    );
    let public = pki.root.write_pem(dir.path(), "public.pem");
    let system = dir.path().join("system.pem");
    for (installed, trusted) in [(false, false), (true, true)] {
        let sys = if installed { format!("{}{}", pki.root.cert_pem, mitm.ca_pem()) } else { pki.root.cert_pem.clone() };
        std::fs::write(&system, sys).unwrap();
        let r = run(
            dir.path(),
            &[
                "--probes",
                file.to_str().unwrap(),
                "--proxy",
                &mitm.url(),
                "--public-roots",
                public.to_str().unwrap(),
                "--system-roots",
                system.to_str().unwrap(),
                "--timeout",
                "5s",
            ],
        );
        let i = &r.endpoint("ep")["tls"]["interception"];
        assert_eq!(i["detected"], true, "{}\n{}", r.stdout, mitm.log());
        assert_eq!(i["product"], "mitmproxy");
        assert_eq!(i["trusted_by_system"], trusted);
        assert_eq!(r.codes("ep"), vec!["TlsInterception"]);
        assert_eq!(r.finding("ep", "TlsInterception")["usage_error"], "LoginError");
        assert_eq!(r.endpoint("ep")["http"]["status_code"], 200);
    }
}

#[test]
fn a_sha1_leaf_is_a_weak_signature() {
    if !common::require("openssl", lab::openssl_binary().is_some(), common::INSTALL_OPENSSL) {
        return;
    }
    let pki = lab::sha1_pki(&["login.lab.test"]).expect("openssl is installed");
    let dir = tempfile::tempdir().unwrap();
    let s = TlsServer::start(LO, &pki.leaf, ok_response());
    let r = probe_at(dir.path(), s.addr.port(), "", None, &pki.ca_pem, &pki.ca_pem);
    assert_eq!(r.endpoint("ep")["tls"]["chain"][0]["signature_algorithm"], "sha1WithRSAEncryption");
    assert_eq!(r.endpoint("ep")["tls"]["trust"]["public"], "unsupported_signature");
    assert_eq!(r.codes("ep"), vec!["TlsWeakSignature"]);
    assert_eq!(r.finding("ep", "TlsWeakSignature")["usage_error"], "CertificateValidationError");
}

#[test]
fn a_tls10_only_server_is_detected_not_just_failed() {
    if !common::require("openssl", lab::openssl_binary().is_some(), common::INSTALL_OPENSSL) {
        return;
    }
    let old = lab::tls10_only_server().expect("openssl is installed");
    let dir = tempfile::tempdir().unwrap();
    let ca = old.ca_pem.clone().unwrap();
    let r = probe_at(dir.path(), old.addr.port(), "", None, &ca, &ca);
    let t = &r.endpoint("ep")["tls"];
    assert_eq!(t["status"], "handshake_failed");
    assert_eq!(t["alert"], "ProtocolVersion");
    assert_eq!(t["legacy_version"], "TLS 1.0", "{}", old.log());
    assert_eq!(r.codes("ep"), vec!["TlsProtocolVersion"]);
    let f = r.finding("ep", "TlsProtocolVersion");
    assert_eq!(f["usage_error"], "CertificateValidationError");
    assert!(f["message"].as_str().unwrap().contains("TLS 1.0"));
}

/// The same server behind an explicit proxy: the old-version question goes through a second
/// tunnel (an old inspection device answering inside the tunnel is found the same way).
#[test]
fn a_tls10_only_server_behind_a_proxy_is_detected_through_the_tunnel() {
    if !common::require("openssl", lab::openssl_binary().is_some(), common::INSTALL_OPENSSL) {
        return;
    }
    let old = lab::tls10_only_server().expect("openssl is installed");
    let dir = tempfile::tempdir().unwrap();
    let ca = old.ca_pem.clone().unwrap();
    let proxy = lab::ConnectProxy::start_with_hosts(
        lab::ProxyMode::PassThrough,
        &[("login.lab.test", Ipv4Addr::LOCALHOST.into())],
    );
    let r = probe_at(dir.path(), old.addr.port(), "", Some(&proxy.url()), &ca, &ca);
    let e = r.endpoint("ep");
    assert_eq!(e["proxy"]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["status"], "handshake_failed");
    assert_eq!(e["tls"]["legacy_version"], "TLS 1.0", "{}", old.log());
    assert_eq!(r.codes("ep"), vec!["TlsProtocolVersion"]);
    // Two tunnels: the handshake's and the old-version question's.
    let connects: Vec<String> = proxy.requests().into_iter().filter(|h| h.starts_with("CONNECT ")).collect();
    assert_eq!(connects.len(), 2, "{connects:?}");
    assert!(connects.iter().all(|h| h.starts_with(&format!("CONNECT login.lab.test:{} ", old.addr.port()))));
}

/// Issue 12 item 6: the product is named the way Chromium's list does (CN and O both, when both
/// are given), and a CA whose names only loosely resemble a vendor's names nothing: the evidence
/// names its root issuer instead.
#[test]
fn product_names_need_cn_and_o_and_unknown_cas_name_their_root() {
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    for (cn, o) in
        [("Sophos SSL CA_C4F2E1", "Example Corp"), ("Cisco Systems Root CA", "Cisco"), ("FortiGate CA", "Example Corp")]
    {
        let ca = TestCa::new_with(cn, o);
        let leaf = ca.leaf(&["login.lab.test"]);
        let (r, _s) = probe_one(dir.path(), "usage", EXPECTED, &leaf, &pki.root.cert_pem, &pki.root.cert_pem);
        let i = &r.endpoint("ep")["tls"]["interception"];
        assert_eq!(i["detected"], true, "{cn}: the unexpected issuer still proves interception");
        assert_eq!(i["product"], json!(null), "{cn} / {o} names no product");
        let evidence: Vec<&str> = i["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        assert!(evidence.iter().any(|e| e.contains(&format!("root issuer is {cn} ({o})"))), "{cn}: {evidence:?}");
    }
}

/// Issue 12 item 6, with a real Squid ssl-bump: its minted certificates carry the name of the
/// CA it was given; each product's CA is named, through the whole chain and the OS anchor.
#[test]
fn a_real_squid_ssl_bump_is_named_by_its_ca() {
    if !common::require("squid (ssl-bump)", lab::Squid::binary().is_some(), common::INSTALL_SQUID) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = public_pki();
    let real = TlsServer::start(LO, &pki.issuing.leaf(&["127.0.0.1"]), ok_response());
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"ep\"\nrole = \"usage\"\nurl = \"https://127.0.0.1:{}/\"\npublic = false\n{EXPECTED}\n",
            real.addr.port()
        ),
    );
    let public = pki.root.write_pem(dir.path(), "public.pem");
    let system = dir.path().join("system.pem");
    // (CA common name, organisation, product, the CA is installed in the node's OS store)
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        ("Zscaler Root CA", "Zscaler Inc.", Some("Zscaler"), false),
        ("Sophos Web Appliance", "Sophos Plc", Some("Sophos Web Appliance"), true),
        ("Cisco Umbrella Root CA", "Cisco", Some("Cisco Umbrella"), false),
        ("Untrusted Certificate Warning", "Example Corp", Some("Cisco WSA"), false),
        ("Squid Proxy CA", "Example Corp", Some("Squid ssl-bump"), true),
        ("Cisco Systems Root CA", "Cisco", None, true),
    ];
    for (cn, o, product, installed) in cases {
        let ca = TestCa::new_with(cn, o);
        let squid = lab::Squid::start(&ca, &pki.root.cert_pem);
        let sys = if *installed { format!("{}{}", pki.root.cert_pem, ca.cert_pem) } else { pki.root.cert_pem.clone() };
        std::fs::write(&system, sys).unwrap();
        let r = run(
            dir.path(),
            &[
                "--probes",
                file.to_str().unwrap(),
                "--proxy",
                &squid.url(),
                "--public-roots",
                public.to_str().unwrap(),
                "--system-roots",
                system.to_str().unwrap(),
                "--timeout",
                "5s",
            ],
        );
        let e = r.endpoint("ep");
        let i = &e["tls"]["interception"];
        assert_eq!(i["detected"], true, "{cn}: {e}\n{}", squid.log());
        assert_eq!(i["product"], json!(product), "{cn}: {i}");
        assert_eq!(i["trusted_by_system"], *installed, "{cn}");
        assert_eq!(e["tls"]["chain"][0]["issuer_cn"], *cn, "squid minted the leaf with the CA given");
        assert_eq!(r.codes("ep")[0], "TlsInterception", "{cn}");
        let evidence: Vec<&str> = i["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        match product {
            Some(p) => {
                assert!(
                    evidence.iter().any(|e| e.contains(&format!("matches the inspection product {p}"))),
                    "{evidence:?}"
                );
                assert!(r.finding("ep", "TlsInterception")["message"].as_str().unwrap().contains(p));
            }
            None => assert!(evidence.iter().any(|e| e.contains(&format!("root issuer is {cn} ({o})"))), "{evidence:?}"),
        }
        if *cn == "Untrusted Certificate Warning" {
            assert!(
                evidence.iter().any(|e| e.contains("the proxy itself failed to validate the real server")),
                "{evidence:?}"
            );
        }
    }
    // Squid signing with an operator-named intermediate under the product's root, which the node
    // trusts: the leaf's issuer names nothing; the walk up the chain to the root does.
    let root = TestCa::new_with("Zscaler Root CA", "Zscaler Inc.");
    let issuing = root.intermediate_with("Contoso Egress CA", "Contoso Ltd");
    let squid = lab::Squid::start(&issuing, &pki.root.cert_pem);
    std::fs::write(&system, format!("{}{}", pki.root.cert_pem, root.cert_pem)).unwrap();
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--proxy",
            &squid.url(),
            "--public-roots",
            public.to_str().unwrap(),
            "--system-roots",
            system.to_str().unwrap(),
            "--timeout",
            "5s",
        ],
    );
    let e = r.endpoint("ep");
    assert_eq!(e["tls"]["chain"][0]["issuer_cn"], "Contoso Egress CA");
    let i = &e["tls"]["interception"];
    assert_eq!(i["product"], "Zscaler", "{i}\n{}", squid.log());
    assert_eq!(i["trusted_by_system"], true);
    let evidence: Vec<&str> = i["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(
        evidence.iter().any(|e| (e.contains("issuer of certificate 1") || e.contains("OS-store anchor"))
            && e.contains("Zscaler Root CA (Zscaler Inc.) matches the inspection product Zscaler")),
        "{evidence:?}"
    );
}
