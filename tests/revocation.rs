#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Revocation and issuer fetches (issue 13), end to end through the real binary: a lab CA on
//! loopback publishes CRLs, answers OCSP and serves its certificates over plain HTTP; the
//! certificates the endpoints present name those URLs. Healthy, revoked, black-holed, block
//! page, stale, wrongly signed, only-through-the-proxy, incomplete chains, hostile answers.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Run, probe_file, run};
use lab::{DnsAnswer, DnsServer, ForwardProxy, Leaf, Reply, TestCa, TlsServer, WebServer, name_urls, ok_response};
use serde_json::Value;
use time::OffsetDateTime;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the lab CA's web server does.
#[derive(Default)]
struct State {
    revoked: Vec<Vec<u8>>,
    crl_stale: bool,
    ocsp_wrong_key: bool,
    ocsp_unknown: bool,
    /// thisUpdate and nextUpdate of every CRL and OCSP answer (None: an hour ago to a week ahead).
    window: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Answers replacing the CA's, by path prefix (the first match wins).
    overrides: Vec<(String, Reply)>,
}

/// A root, an issuing CA under it, and the web server publishing their CRLs, OCSP answers and
/// certificates. `base` is the URL prefix the certificates name.
struct Pki {
    root: TestCa,
    issuing: TestCa,
    web: WebServer,
    state: Arc<Mutex<State>>,
    base: String,
}

fn pem_dir(dir: &Path, root: &TestCa) -> String {
    root.write_pem(dir, "root.pem").to_str().unwrap().to_string()
}

impl Pki {
    /// The certificates name URLs under `http://127.0.0.1:<web port>`.
    fn new() -> Pki {
        Pki::with_host(None)
    }

    /// The certificates name URLs under `http://<host>:<web port>` (None: 127.0.0.1).
    fn with_host(host: Option<&str>) -> Pki {
        let cas: Arc<Mutex<Option<(TestCa, TestCa)>>> = Arc::default();
        let state: Arc<Mutex<State>> = Arc::default();
        let wrong = Arc::new(rcgen::KeyPair::generate().unwrap());
        let handler = {
            let (cas, state) = (cas.clone(), state.clone());
            Arc::new(move |path: &str| -> Reply {
                let st = state.lock().unwrap();
                if let Some((_, r)) = st.overrides.iter().find(|(p, _)| path.starts_with(p.as_str())) {
                    return r.clone();
                }
                let guard = cas.lock().unwrap();
                let (root, issuing) = guard.as_ref().unwrap();
                let now = OffsetDateTime::now_utc();
                let week = (now - time::Duration::hours(1), now + time::Duration::days(7));
                let (this, next) = if st.crl_stale {
                    (now - time::Duration::days(10), now - time::Duration::days(1))
                } else {
                    st.window.unwrap_or(week)
                };
                let ocsp = |ca: &TestCa, rest: &str| {
                    let b64 = percent_encoding::percent_decode_str(rest).decode_utf8_lossy().into_owned();
                    use base64::Engine;
                    let req = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
                    let (_, key) = ca.signer();
                    let key = if st.ocsp_wrong_key { &*wrong } else { key };
                    let (t, n) = st.window.unwrap_or(week);
                    Reply::ok(
                        "application/ocsp-response",
                        lab::ocsp_answer(&req, key, &st.revoked, st.ocsp_unknown, t, n),
                    )
                };
                match path {
                    "/root.crl" => Reply::ok("application/pkix-crl", lab::crl(root, &st.revoked, this, next)),
                    "/issuing.crl" => Reply::ok("application/pkix-crl", lab::crl(issuing, &st.revoked, this, next)),
                    "/root.cer" => Reply::ok("application/pkix-cert", root.cert_der.clone()),
                    "/issuing.cer" => Reply::ok("application/pkix-cert", issuing.cert_der.clone()),
                    p if p.starts_with("/ocsp-root/") => ocsp(root, &p["/ocsp-root/".len()..]),
                    p if p.starts_with("/ocsp/") => ocsp(issuing, &p["/ocsp/".len()..]),
                    _ => Reply::Body { status: 404, content_type: "text/plain".into(), body: b"not found".to_vec() },
                }
            })
        };
        let web = WebServer::start(handler);
        let base = format!("http://{}:{}", host.unwrap_or("127.0.0.1"), web.addr.port());
        let root = TestCa::new_with("Lab Revocation Root", "Lab PKI");
        let issuing = root.intermediate_edited("Lab Issuing CA 01", |p| {
            name_urls(p, &[format!("{base}/root.crl")], &[format!("{base}/ocsp-root")], &[format!("{base}/root.cer")])
        });
        *cas.lock().unwrap() = Some((root.clone(), issuing.clone()));
        Pki { root, issuing, web, state, base }
    }

    /// A leaf for `login.lab.test` naming the issuing CA's CRL, OCSP and caIssuers URLs.
    fn leaf(&self) -> Leaf {
        let b = &self.base;
        self.issuing.leaf_edited(&["login.lab.test"], |p| {
            name_urls(p, &[format!("{b}/issuing.crl")], &[format!("{b}/ocsp")], &[format!("{b}/issuing.cer")])
        })
    }

    fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }
}

/// Probe `leaves` (one endpoint each, ep0, ep1...) with the PKI's root as both stores.
fn probe(dir: &Path, pki: &Pki, leaves: &[&Leaf], role: &str, extra: &[&str]) -> Run {
    let servers: Vec<TlsServer> = leaves.iter().map(|l| TlsServer::start(LO, l, ok_response())).collect();
    probe_servers(dir, pki, &servers, role, extra)
}

/// Probe these servers (one endpoint each, ep0, ep1...) with the PKI's root as both stores.
fn probe_servers(dir: &Path, pki: &Pki, servers: &[TlsServer], role: &str, extra: &[&str]) -> Run {
    let dns = DnsServer::start(vec![("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let mut text = String::new();
    for (i, s) in servers.iter().enumerate() {
        text.push_str(&format!(
            "[[endpoint]]\nname = \"ep{i}\"\nrole = \"{role}\"\nurl = \"https://login.lab.test:{}/\"\npublic = false\n\n",
            s.addr.port()
        ));
    }
    let file = probe_file(dir, &text);
    let roots = pem_dir(dir, &pki.root);
    let dns_addr = dns.addr.to_string();
    let mut args = vec![
        "--probes",
        file.to_str().unwrap(),
        "--dns-server",
        &dns_addr,
        "--public-roots",
        &roots,
        "--system-roots",
        &roots,
        "--timeout",
        "3s",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn revocation(r: &Run, ep: &str) -> Value {
    r.endpoint(ep)["tls"]["revocation"].clone()
}

/// The statuses of the checks of certificate `i`, as `kind:status`.
fn statuses(rev: &Value, i: u64) -> Vec<String> {
    rev["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["certificate"] == i)
        .map(|c| format!("{}:{}", c["kind"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_healthy_chain_is_good_by_crl_and_ocsp_and_each_url_is_fetched_once() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let (a, b) = (pki.leaf(), pki.leaf());
    let r = probe(dir.path(), &pki, &[&a, &b], "usage", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, serde_json::to_string_pretty(&r.report["findings"]).unwrap());
    for ep in ["ep0", "ep1"] {
        let rev = revocation(&r, ep);
        assert_eq!(rev["status"], "good", "{rev:#}");
        assert_eq!(statuses(&rev, 0), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"], "{rev:#}");
        assert_eq!(statuses(&rev, 1), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"], "{rev:#}");
        let crl = &rev["checks"][0];
        assert_eq!(crl["via"], "direct");
        assert_eq!(crl["http_status"], 200);
        assert_eq!(crl["content_type"], "application/pkix-crl");
        assert!(crl["next_update"].is_string());
        assert!(r.findings(ep).is_empty());
    }
    // Shared URLs went out once for both endpoints; each leaf's own OCSP request once.
    assert_eq!(pki.web.count("/root.crl"), 1, "{:#?}", pki.web.requests());
    assert_eq!(pki.web.count("/root.cer"), 1);
    assert_eq!(pki.web.count("/ocsp-root/"), 1);
    assert_eq!(pki.web.count("/issuing.crl"), 1);
    assert_eq!(pki.web.count("/ocsp/"), 2);
    assert!(pki.web.requests()[0].contains("User-Agent: azs-netprobe/"));

    // --no-revocation: nothing fetched, and the report says so.
    let before = pki.web.requests().len();
    let r = probe(dir.path(), &pki, &[&a], "usage", &["--no-revocation"]);
    assert_eq!(revocation(&r, "ep0")["status"], "not_checked");
    assert_eq!(revocation(&r, "ep0")["checks"], serde_json::json!([]));
    assert_eq!(pki.web.requests().len(), before);
    assert_eq!(r.code, 0);
}

#[test]
fn a_revoked_certificate_is_an_error_by_crl_and_by_ocsp() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| s.revoked = vec![lab::serial_of(&leaf.cert_der)]);
    let r = probe(dir.path(), &pki, &[&leaf], "login", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "revoked", "{rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:revoked", "ocsp:revoked", "ca_issuers:ok"]);
    assert_eq!(statuses(&rev, 1), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"], "the issuing CA is not revoked");
    let f = r.finding("ep0", "TlsCertificateRevoked");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["usage_error"], "LoginError");
    assert!(f["message"].as_str().unwrap().contains("is revoked"), "{f:#}");
    assert!(f["message"].as_str().unwrap().contains("KeyCompromise"), "{f:#}");
    assert!(f["remediation"]["steps"][1].as_str().unwrap().contains("/issuing.crl"), "{f:#}");
    assert_eq!(r.code, 2);
}

#[test]
fn black_holed_and_closed_revocation_urls_are_unreachable_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    let silent = lab::silent_server();
    let closed = lab::closed_port();
    // Every CRL and OCSP URL of the chain: the leaf's answer nothing, the issuing CA's refuse.
    let to = |addr: std::net::SocketAddr| Reply::Redirect(format!("http://{addr}/x"));
    pki.set(|s| {
        s.overrides = vec![
            ("/issuing.crl".into(), to(silent.addr)),
            ("/ocsp/".into(), to(silent.addr)),
            ("/root.crl".into(), to(closed)),
            ("/ocsp-root/".into(), to(closed)),
        ]
    });
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    assert!(r.elapsed < Duration::from_secs(9), "{:?}", r.elapsed);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "unreachable", "{rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:timeout", "ocsp:timeout", "ca_issuers:ok"], "{rev:#}");
    assert_eq!(statuses(&rev, 1), vec!["crl:unreachable", "ocsp:unreachable", "ca_issuers:ok"], "{rev:#}");
    assert_eq!(rev["checks"][3]["failure"], "tcp");
    let unreachable: Vec<&Value> =
        r.findings("ep0").into_iter().filter(|f| f["code"] == "RevocationUnreachable").collect();
    assert_eq!(unreachable.len(), 2, "one per certificate");
    assert!(unreachable.iter().all(|f| f["severity"] == "error" && f["usage_error"] == "CertificateValidationError"));
    let m = unreachable[0]["message"].as_str().unwrap();
    assert!(m.contains("timeout") && m.contains("/issuing.crl"), "{m}");
    assert!(unreachable[1]["message"].as_str().unwrap().contains("tcp: TCP: connect to"), "{:#}", unreachable[1]);
    assert!(
        unreachable[0]["remediation"]["steps"][0]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{}", pki.web.addr.port()))
    );
    assert_eq!(r.code, 2);
}

#[test]
fn a_block_page_with_status_200_is_an_invalid_answer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    let page = b"<html><head><title>Access Denied</title></head><body>Contoso Web Filter blocked this site: category Uncategorized</body></html>";
    for p in ["/issuing.crl", "/ocsp/", "/root.crl", "/ocsp-root/"] {
        pki.set(|s| s.overrides.push((p.into(), Reply::ok("text/html; charset=utf-8", page.to_vec()))));
    }
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "invalid", "{rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:invalid", "ocsp:invalid", "ca_issuers:ok"]);
    let f = r.finding("ep0", "RevocationResponseInvalid");
    assert_eq!(f["severity"], "error");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("HTTP 200") && m.contains("text/html") && m.contains("Access Denied"), "{m}");
    assert_eq!(r.code, 2);
}

#[test]
fn a_stale_crl_beside_a_good_ocsp_answer_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| s.crl_stale = true);
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "good", "OCSP still answers: {rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:stale", "ocsp:ok", "ca_issuers:ok"]);
    assert!(rev["checks"][0]["detail"].as_str().unwrap().contains("next update was due"));
    let f = r.finding("ep0", "RevocationResponseInvalid");
    assert_eq!(f["severity"], "warning");
    assert_eq!(r.code, 1);
}

#[test]
fn an_ocsp_answer_signed_by_the_wrong_key_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| s.ocsp_wrong_key = true);
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(statuses(&rev, 0), vec!["crl:ok", "ocsp:invalid", "ca_issuers:ok"], "{rev:#}");
    assert!(rev["checks"][1]["detail"].as_str().unwrap().contains("neither the issuer's nor a delegated responder's"));
    assert_eq!(r.finding("ep0", "RevocationResponseInvalid")["severity"], "warning", "the CRL still works");

    // With the CRL gone too, no valid source remains: an error.
    pki.set(|s| {
        s.overrides.push((
            "/issuing.crl".into(),
            Reply::Body { status: 404, content_type: "text/html".into(), body: b"<h1>Not Found</h1>".to_vec() },
        ))
    });
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    assert_eq!(revocation(&r, "ep0")["status"], "invalid");
    let f = r.finding("ep0", "RevocationResponseInvalid");
    assert_eq!(f["severity"], "error");
    assert!(f["message"].as_str().unwrap().contains("HTTP 404"), "{f:#}");
}

#[test]
fn the_proxy_reaches_revocation_urls_the_node_cannot_resolve() {
    let dir = tempfile::tempdir().unwrap();
    // The certificates name pki.lab.test, which the node's DNS does not know; the proxy does.
    let pki = Pki::with_host(Some("pki.lab.test"));
    let leaf = pki.leaf();
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "unreachable", "{rev:#}");
    assert_eq!(rev["checks"][0]["failure"], "dns");
    assert!(
        r.finding("ep0", "RevocationUnreachable")["message"]
            .as_str()
            .unwrap()
            .contains("dns: DNS: pki.lab.test did not resolve")
    );

    let proxy = ForwardProxy::start(
        &[("pki.lab.test", Ipv4Addr::LOCALHOST), ("login.lab.test", Ipv4Addr::LOCALHOST)],
        Some(("probe", "s3cret")),
    );
    let with = format!("http://probe:s3cret@{}", proxy.addr);
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &["--proxy", &with]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "good", "{rev:#}\n{:#?}", proxy.requests());
    assert!(rev["checks"].as_array().unwrap().iter().all(|c| c["via"] == "proxy"));
    let port = pki.web.addr.port();
    let requests = proxy.requests();
    let get = requests
        .iter()
        .find(|h| h.starts_with(&format!("GET http://pki.lab.test:{port}/issuing.crl HTTP/1.1")))
        .expect("absolute-form GET");
    assert!(get.contains("Proxy-Authorization: Basic cHJvYmU6czNjcmV0"), "{get}");
    assert!(!r.report.to_string().contains("s3cret"));
    assert_eq!(r.code, 0, "{}", serde_json::to_string_pretty(&r.report["findings"]).unwrap());
}

#[test]
fn an_incomplete_chain_is_repaired_through_its_ca_issuers_url() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let mut leaf = pki.leaf();
    leaf.chain_der.truncate(1);
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let f = r.finding("ep0", "TlsIncompleteChain");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("was fetched from its caIssuers URL") && m.contains("the chain then verifies"), "{m}");
    assert!(m.contains("/issuing.cer"), "{m}");
    assert_eq!(f["evidence"]["ca_issuers"]["trust_public_with_issuer"], "trusted");
    assert_eq!(f["evidence"]["ca_issuers"]["issuer"], "CN=Lab Issuing CA 01, O=Lab PKI");
    // With the fetched issuer, the leaf's CRL and OCSP answers are checked too.
    let rev = revocation(&r, "ep0");
    assert_eq!(statuses(&rev, 0), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"], "{rev:#}");
    assert_eq!(rev["status"], "good");
}

#[test]
fn an_incomplete_chain_whose_ca_issuers_url_fails_says_windows_cannot_repair_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let mut leaf = pki.leaf();
    leaf.chain_der.truncate(1);
    pki.set(|s| s.overrides.push(("/issuing.cer".into(), Reply::Redirect(format!("http://{}/", lab::closed_port())))));
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let f = r.finding("ep0", "TlsIncompleteChain");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("did not give the missing issuer") && m.contains("unreachable"), "{m}");
    let rev = revocation(&r, "ep0");
    assert_eq!(statuses(&rev, 0), vec!["crl:unknown", "ocsp:unknown", "ca_issuers:unreachable"], "{rev:#}");
    assert_eq!(rev["status"], "unknown");
}

#[test]
fn hostile_answers_end_in_a_finding_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let own = pki.base.clone();
    pki.set(|s| {
        s.overrides = vec![
            ("/issuing.crl".into(), Reply::Huge(50 * 1024 * 1024)),
            ("/ocsp/".into(), Reply::Endless),
            ("/root.crl".into(), Reply::Redirect(format!("{own}/root.crl"))),
            ("/ocsp-root/".into(), Reply::ok("application/ocsp-response", garbage.clone())),
            ("/root.cer".into(), Reply::Slow(vec![0x30; 100])),
        ]
    });
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    assert!(r.elapsed < Duration::from_secs(9), "{:?}", r.elapsed);
    let rev = revocation(&r, "ep0");
    let detail = |i: usize| rev["checks"][i]["detail"].as_str().unwrap().to_string();
    assert_eq!(statuses(&rev, 0), vec!["crl:invalid", "ocsp:invalid", "ca_issuers:ok"], "{rev:#}");
    assert!(detail(0).contains("declares 52428800 bytes"), "{}", detail(0));
    assert!(detail(1).contains("past the 65536 bytes"), "{}", detail(1));
    assert_eq!(statuses(&rev, 1), vec!["crl:invalid", "ocsp:invalid", "ca_issuers:timeout"], "{rev:#}");
    assert!(detail(3).contains("redirect loop"), "{}", detail(3));
    assert!(detail(4).contains("not a DER OCSP response"), "{}", detail(4));
    assert_eq!(r.finding("ep0", "RevocationResponseInvalid")["severity"], "error");
    assert_eq!(r.code, 2);
}

#[test]
fn answers_stale_only_by_a_skewed_node_clock_are_the_clocks_fault() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    // The node's clock is 10 days ahead (NTP and the server's Date agree): the CRL and OCSP
    // answers are current at the reference time and past their next update by the node's clock.
    let ten_days = 10 * 86_400;
    let now = OffsetDateTime::now_utc();
    let reference = now - time::Duration::seconds(ten_days);
    pki.set(|s| s.window = Some((reference - time::Duration::hours(1), reference + time::Duration::days(7))));
    let ntp = lab::SntpServer::start(lab::SntpMode::Offset(-(ten_days as f64)));
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(ten_days as u64));
    let server = TlsServer::start(
        LO,
        &leaf,
        lab::HttpBehavior::Respond { status: 200, headers: vec![("Date".into(), date)], body: "ok".into() },
    );
    let r = probe_servers(dir.path(), &pki, &[server], "usage", &["--ntp-server", &ntp.arg()]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "good", "{rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"]);
    let f = r.finding("ep0", "RevocationResponseInvalid");
    assert_eq!(f["severity"], "info", "{f:#}");
    assert_eq!(f["evidence"]["root_cause"], "ClockSkew");
    assert!(f["message"].as_str().unwrap().contains("this follows from ClockSkew"), "{f:#}");
    assert!(r.codes("ep0").iter().all(|c| c != "RevocationUnreachable"));
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A certs-only PKCS#7 (SignedData, no signers) holding `certs`, in DER SET OF order.
fn pkcs7(mut certs: Vec<Vec<u8>>) -> Vec<u8> {
    certs.sort();
    let data_oid = tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);
    let signed_oid = tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
    let mut signed = tlv(0x02, &[1]);
    signed.extend(tlv(0x31, &[]));
    signed.extend(tlv(0x30, &data_oid));
    signed.extend(tlv(0xa0, &certs.concat()));
    signed.extend(tlv(0x31, &[]));
    let mut info = signed_oid;
    info.extend(tlv(0xa0, &tlv(0x30, &signed)));
    tlv(0x30, &info)
}

#[test]
fn a_pkcs7_bundle_is_read_and_one_of_a_thousand_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let mut leaf = pki.leaf();
    leaf.chain_der.truncate(1);
    // A .p7c holding the root and the issuer: the chain is repaired from it.
    let bundle = pkcs7(vec![pki.root.cert_der.clone(), pki.issuing.cert_der.clone()]);
    pki.set(|s| s.overrides.push(("/issuing.cer".into(), Reply::ok("application/pkcs7-mime", bundle))));
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    assert!(r.finding("ep0", "TlsIncompleteChain")["message"].as_str().unwrap().contains("the chain then verifies"));

    // 1,000 certificates (copies of the issuer with distinct signature bytes): refused, quickly.
    let certs: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| {
            let mut c = pki.issuing.cert_der.clone();
            let n = c.len();
            c[n - 2..].copy_from_slice(&(i as u16).to_be_bytes());
            c
        })
        .collect();
    pki.set(|s| s.overrides = vec![("/issuing.cer".into(), Reply::ok("application/pkcs7-mime", pkcs7(certs)))]);
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    assert!(r.elapsed < Duration::from_secs(6), "{:?}", r.elapsed);
    let rev = revocation(&r, "ep0");
    let cai = rev["checks"].as_array().unwrap().iter().find(|c| c["kind"] == "ca_issuers").unwrap().clone();
    assert_eq!(cai["status"], "invalid", "{cai:#}");
    assert!(cai["detail"].as_str().unwrap().contains("a PKCS#7 bundle of 1000 certificates"), "{cai:#}");
    assert!(
        r.finding("ep0", "TlsIncompleteChain")["message"].as_str().unwrap().contains("did not give the missing issuer")
    );
}

/// Real components, where a user meets them: a CA run by `openssl ca` (revocation, `-gencrl`),
/// its CRL and certificate served by nginx, OCSP answers made by `openssl ocsp` from the CA's
/// index, and every fetch (and the endpoints' CONNECT) through tinyproxy.
#[test]
fn openssl_crls_served_by_nginx_and_openssl_ocsp_answers_through_tinyproxy() {
    if !common::require("openssl", lab::openssl_binary().is_some(), common::INSTALL_OPENSSL)
        || !common::require("tinyproxy", lab::Tinyproxy::binary().is_some(), common::INSTALL_TINYPROXY)
        || !common::require("nginx", lab::Nginx::binary().is_some(), common::INSTALL_NGINX)
    {
        return;
    }
    let ca = lab::OpensslCa::new().expect("an openssl CA");
    let proxy = lab::Tinyproxy::start(None).expect("tinyproxy starts");
    let nginx = lab::Nginx::start(&ca.www()).expect("nginx starts");
    let ocsp = WebServer::start(ca.ocsp_handler());
    let (crl, cai) = (format!("http://{}/lab.crl", nginx.addr), format!("http://{}/ca.cer", nginx.addr));
    let ocsp_url = format!("{}/ocsp", ocsp.base());
    let good = ca.issue("good", &crl, &ocsp_url, &cai);
    let bad = ca.issue("bad", &crl, &ocsp_url, &cai);
    ca.revoke("bad");
    ca.publish_crl();

    let dir = tempfile::tempdir().unwrap();
    let servers = [TlsServer::start(LO, &good, ok_response()), TlsServer::start(LO, &bad, ok_response())];
    let mut text = String::new();
    for (i, s) in servers.iter().enumerate() {
        text.push_str(&format!(
            "[[endpoint]]\nname = \"ep{i}\"\nrole = \"usage\"\nurl = \"https://127.0.0.1:{}/\"\npublic = false\n\n",
            s.addr.port()
        ));
    }
    let file = probe_file(dir.path(), &text);
    let roots = dir.path().join("ca.pem");
    std::fs::write(&roots, &ca.cert_pem).unwrap();
    let roots = roots.to_str().unwrap();
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--public-roots",
            roots,
            "--system-roots",
            roots,
            "--proxy",
            &proxy.url(),
            "--timeout",
            "5s",
        ],
    );
    let ok = revocation(&r, "ep0");
    assert_eq!(ok["status"], "good", "{ok:#}\n{}", proxy.log());
    assert_eq!(statuses(&ok, 0), vec!["crl:ok", "ocsp:ok", "ca_issuers:ok"]);
    assert!(ok["checks"].as_array().unwrap().iter().all(|c| c["via"] == "proxy"), "{ok:#}");
    let revoked = revocation(&r, "ep1");
    assert_eq!(revoked["status"], "revoked", "{revoked:#}");
    assert_eq!(statuses(&revoked, 0), vec!["crl:revoked", "ocsp:revoked", "ca_issuers:ok"]);
    assert!(revoked["checks"][0]["detail"].as_str().unwrap().contains("KeyCompromise"), "{revoked:#}");
    assert_eq!(r.finding("ep1", "TlsCertificateRevoked")["severity"], "error");
    assert!(r.findings("ep0").is_empty(), "{}", serde_json::to_string_pretty(&r.report["findings"]).unwrap());
    // One CRL fetch for both endpoints, through the proxy.
    let log = nginx.access_log();
    assert_eq!(log.matches("GET /lab.crl").count(), 1, "{log}");
    assert!(proxy.log().contains(&format!("{}/lab.crl", nginx.addr)), "{}", proxy.log());
    assert_eq!(r.code, 2);
}

#[test]
fn summary_html_prometheus_and_fleet_show_the_revocation_status() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let (good, bad) = (pki.leaf(), pki.leaf());
    pki.set(|s| s.revoked = vec![lab::serial_of(&bad.cert_der)]);
    let html = dir.path().join("node.html");
    let prom = dir.path().join("node.prom");
    let r = probe(
        dir.path(),
        &pki,
        &[&good, &bad],
        "usage",
        &["--html", html.to_str().unwrap(), "--prometheus", prom.to_str().unwrap()],
    );
    assert!(r.stdout.contains("Revocation (CRL/OCSP): 1 revoked (ep1), 1 good\n"), "{}", r.stdout);

    let page = std::fs::read_to_string(&html).unwrap();
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse("details.revocation").unwrap();
    let sections: Vec<_> = doc.select(&sel).collect();
    assert_eq!(sections.len(), 2, "one per endpoint");
    let row = scraper::Selector::parse("tbody tr").unwrap();
    for s in &sections {
        assert_eq!(s.select(&row).count(), 6, "one row per check: 2 certificates x (CRL, OCSP, caIssuers)");
    }
    let text: String = sections[1].text().collect();
    assert!(
        text.contains("revoked") && text.contains("/issuing.crl") && text.contains("application/pkix-crl"),
        "{text}"
    );

    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("azs_netprobe_revocation_good{endpoint=\"ep0\",status=\"good\"} 1"), "{metrics}");
    assert!(metrics.contains("azs_netprobe_revocation_good{endpoint=\"ep1\",status=\"revoked\"} 0"), "{metrics}");
    prometheus_parse::Scrape::parse(metrics.lines().map(|l| Ok(l.to_string()))).expect("valid exposition format");

    // The fleet merge keeps each node's status per endpoint.
    let first = dir.path().join("a.json");
    std::fs::copy(&r.report_path, &first).unwrap();
    let out = dir.path().join("fleet.json");
    let merged = common::command(dir.path())
        .args(["merge", first.to_str().unwrap(), r.report_path.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(merged.status.code().is_some(), "{merged:?}");
    let fleet: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let ep1 = fleet["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "ep1").unwrap();
    assert!(ep1["results"].as_array().unwrap().iter().all(|c| c["revocation"] == "revoked"), "{ep1:#}");
}

#[test]
fn one_unreachable_source_beside_a_working_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| s.overrides.push(("/issuing.crl".into(), Reply::Redirect(format!("http://{}/", lab::closed_port())))));
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(rev["status"], "good", "{rev:#}");
    assert_eq!(statuses(&rev, 0), vec!["crl:unreachable", "ocsp:ok", "ca_issuers:ok"]);
    let f = r.finding("ep0", "RevocationUnreachable");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("another source answered"), "{f:#}");
    assert_eq!(r.code, 1);
}

#[test]
fn an_ocsp_responder_that_does_not_know_the_certificate_leaves_it_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| {
        s.ocsp_unknown = true;
        s.overrides.push(("/issuing.crl".into(), Reply::Redirect(format!("http://{}/", lab::closed_port()))));
    });
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(statuses(&rev, 0), vec!["crl:unreachable", "ocsp:unknown", "ca_issuers:ok"], "{rev:#}");
    assert_eq!(rev["status"], "invalid", "no source of the leaf gives a usable answer: {rev:#}");
    let f = r.finding("ep0", "RevocationResponseInvalid");
    assert_eq!(f["severity"], "error");
    assert!(f["message"].as_str().unwrap().contains("does not know this certificate"), "{f:#}");
    assert_eq!(r.finding("ep0", "RevocationUnreachable")["severity"], "error");
}

#[test]
fn an_empty_answer_and_a_binary_error_page_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let leaf = pki.leaf();
    pki.set(|s| {
        s.overrides.push(("/issuing.crl".into(), Reply::ok("application/pkix-crl", Vec::new())));
        s.overrides.push((
            "/ocsp/".into(),
            Reply::Body {
                status: 503,
                content_type: "application/octet-stream".into(),
                body: vec![0x30, 0x03, 1, 2, 3],
            },
        ));
    });
    let r = probe(dir.path(), &pki, &[&leaf], "usage", &[]);
    let rev = revocation(&r, "ep0");
    assert_eq!(statuses(&rev, 0), vec!["crl:invalid", "ocsp:invalid", "ca_issuers:ok"], "{rev:#}");
    let crl = rev["checks"][0]["detail"].as_str().unwrap();
    assert!(
        crl.contains("not a DER CRL") && crl.contains("HTTP 200, Content-Type application/pkix-crl, empty body"),
        "{crl}"
    );
    let ocsp = rev["checks"][1]["detail"].as_str().unwrap();
    assert!(
        ocsp.starts_with(
            "an error status instead of an answer: HTTP 503, Content-Type application/octet-stream, 5 bytes"
        ),
        "{ocsp}"
    );
}
