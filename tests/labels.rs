#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every enum that reaches the report has one stable label, `as_str()`, and its serde name is the
//! same string. The labels are pinned here, variant by variant: renaming one is a change of the
//! report's contract (shared/DESIGN.md: add, never rename) and must fail a test. Each table is
//! checked for exhaustiveness at compile time: a new variant does not compile here until its
//! label is pinned. (The TLS version, cipher suite and alert names, this tool's own tables over
//! rustls's wire values, are pinned in `src/probe/tls_label.rs`.)

use std::fmt::Debug;

use azs_netprobe::catalog::Role;
use azs_netprobe::clock::{ClockVerdict, SourceKind as ClockSourceKind};
use azs_netprobe::config::Lang;
use azs_netprobe::config::proxy::{BypassClient, ProxySource};
use azs_netprobe::diagnose::{Code, Severity, UsageError};
use azs_netprobe::platform::{ProxySettingSource, TimeServiceKind, TlsClientSource};
use azs_netprobe::probe::families::Family;
use azs_netprobe::probe::order::PolicySource;
use azs_netprobe::probe::pmtu::RetryStatus;
use azs_netprobe::probe::proxy::ProxyStatus;
use azs_netprobe::probe::revocation::{FetchFailure, Via};
use azs_netprobe::probe::{DnsStatus, HttpStatus, Peer, Stage, TcpStatus, TlsStatus};
use azs_netprobe::report::{CheckStatus, EndpointVerdict, RevocationStatus, Verdict};
use azs_netprobe::trust::revocation::SourceKind as RevocationSourceKind;
use azs_netprobe::trust::{TrustEngine, TrustVerdict};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `as_str` gives the pinned label; serde writes the same string and reads it back; no two
/// variants share a label.
fn check<T: Serialize + DeserializeOwned + PartialEq + Debug + Copy>(
    name: &str,
    table: &[(T, &str)],
    as_str: impl Fn(T) -> &'static str,
) {
    for (v, label) in table {
        assert_eq!(as_str(*v), *label, "{name}::{v:?}: as_str");
        assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(label), "{name}::{v:?}: serde writes the label");
        let back: T = serde_json::from_value(serde_json::json!(label)).unwrap();
        assert_eq!(back, *v, "{name}: serde reads `{label}` back");
    }
    let mut labels: Vec<&str> = table.iter().map(|(_, l)| *l).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), table.len(), "{name}: two variants share a label");
}

/// `pin!(Enum { Variant => "label", ... })`: every variant, exhaustively, with its label.
macro_rules! pin {
    ($ty:ident { $($v:ident => $label:literal),* $(,)? }) => {{
        // Exhaustive: a variant missing from the table is a compile error here.
        fn _every_variant_is_pinned(v: $ty) {
            match v {
                $( $ty::$v => {} )*
            }
        }
        check(stringify!($ty), &[$( ($ty::$v, $label) ),*], $ty::as_str);
    }};
}

#[test]
fn report_enum_labels_are_pinned_and_serde_agrees() {
    pin!(Role {
        Login => "login",
        Registration => "registration",
        Usage => "usage",
        Graph => "graph",
        Marketplace => "marketplace",
        Diagnostics => "diagnostics",
        Custom => "custom",
    });
    pin!(DnsStatus {
        Ok => "ok",
        Nxdomain => "nxdomain",
        Servfail => "servfail",
        Refused => "refused",
        Timeout => "timeout",
        NoAddresses => "no_addresses",
        Error => "error",
        NotNeeded => "not_needed",
        NotAttempted => "not_attempted",
    });
    pin!(TcpStatus {
        Ok => "ok",
        Refused => "refused",
        Timeout => "timeout",
        Unreachable => "unreachable",
        Reset => "reset",
        Error => "error",
    });
    pin!(Peer {
        Endpoint => "endpoint",
        Proxy => "proxy",
    });
    pin!(TlsStatus {
        Ok => "ok",
        HandshakeFailed => "handshake_failed",
        Timeout => "timeout",
        Reset => "reset",
        NotAttempted => "not_attempted",
    });
    pin!(HttpStatus {
        Ok => "ok",
        Timeout => "timeout",
        Error => "error",
        NotAttempted => "not_attempted",
    });
    pin!(Stage {
        Dns => "dns",
        Proxy => "proxy",
        Tcp => "tcp",
        Tls => "tls",
        Http => "http",
    });
    pin!(ProxyStatus {
        Ok => "ok",
        Bypassed => "bypassed",
        Unreachable => "unreachable",
        AuthRequired => "auth_required",
        Denied => "denied",
        UpstreamFailed => "upstream_failed",
        Timeout => "timeout",
        Error => "error",
    });
    pin!(ProxySource {
        Flag => "flag",
        Env => "env",
        Winhttp => "winhttp",
    });
    pin!(BypassClient {
        Probe => "probe",
        Curl => "curl",
        Go => "go",
        Dotnet => "dotnet",
        Winhttp => "winhttp",
    });
    pin!(Family {
        Ipv4 => "ipv4",
        Ipv6 => "ipv6",
    });
    pin!(RetryStatus {
        Ok => "ok",
        Timeout => "timeout",
        Failed => "failed",
        NotSupported => "not_supported",
    });
    pin!(Via {
        Direct => "direct",
        Proxy => "proxy",
    });
    pin!(FetchFailure {
        Dns => "dns",
        Tcp => "tcp",
        Proxy => "proxy",
        Timeout => "timeout",
    });
    pin!(TrustVerdict {
        Trusted => "trusted",
        UnknownIssuer => "unknown_issuer",
        Expired => "expired",
        NotYetValid => "not_yet_valid",
        NameMismatch => "name_mismatch",
        BadSignature => "bad_signature",
        UnsupportedSignature => "unsupported_signature",
        Revoked => "revoked",
        InvalidPurpose => "invalid_purpose",
        BadEncoding => "bad_encoding",
        ChainTooLong => "chain_too_long",
        NoTrustAnchors => "no_trust_anchors",
        NoCertificate => "no_certificate",
        Other => "other",
    });
    pin!(TrustEngine {
        Webpki => "webpki",
        WindowsChainEngine => "windows_chain_engine",
    });
    pin!(RevocationSourceKind {
        Crl => "crl",
        Ocsp => "ocsp",
        CaIssuers => "ca_issuers",
    });
    pin!(ClockSourceKind {
        Ntp => "ntp",
        HttpDate => "http_date",
    });
    pin!(ClockVerdict {
        Ok => "ok",
        Warning => "warning",
        Error => "error",
        Unknown => "unknown",
    });
    pin!(ProxySettingSource {
        Flag => "flag",
        Env => "env",
        Winhttp => "winhttp",
        Wininet => "wininet",
        Pac => "pac",
    });
    pin!(TimeServiceKind {
        W32time => "w32time",
        Chrony => "chrony",
        SystemdTimesyncd => "systemd-timesyncd",
        Ntpd => "ntpd",
        None => "none",
        Unknown => "unknown",
    });
    pin!(TlsClientSource {
        Schannel => "schannel",
        None => "none",
    });
    pin!(Severity {
        Info => "info",
        Warning => "warning",
        Error => "error",
    });
    pin!(UsageError {
        NetworkError => "NetworkError",
        RequestTimedOut => "RequestTimedOut",
        LoginError => "LoginError",
        CertificateValidationError => "CertificateValidationError",
        Unauthorized => "Unauthorized",
    });
    pin!(RevocationStatus {
        Good => "good",
        Revoked => "revoked",
        Unknown => "unknown",
        Unreachable => "unreachable",
        Invalid => "invalid",
        NotChecked => "not_checked",
    });
    pin!(CheckStatus {
        Ok => "ok",
        Revoked => "revoked",
        Unknown => "unknown",
        Unreachable => "unreachable",
        Invalid => "invalid",
        Stale => "stale",
        Timeout => "timeout",
    });
    pin!(EndpointVerdict {
        Ok => "ok",
        Warning => "warning",
        Error => "error",
        Skipped => "skipped",
    });
    pin!(Verdict {
        Ok => "ok",
        Warning => "warning",
        Error => "error",
    });
}

#[test]
fn finding_code_labels_are_pinned() {
    pin!(Code {
        DnsNameNotFound => "DnsNameNotFound",
        DnsServerFailure => "DnsServerFailure",
        DnsTimeout => "DnsTimeout",
        DnsNoAddresses => "DnsNoAddresses",
        DnsPrivateAddress => "DnsPrivateAddress",
        DnsSpecialAddress => "DnsSpecialAddress",
        TcpConnectionRefused => "TcpConnectionRefused",
        TcpConnectTimeout => "TcpConnectTimeout",
        TcpUnreachable => "TcpUnreachable",
        TcpConnectionReset => "TcpConnectionReset",
        ProxyUnreachable => "ProxyUnreachable",
        ProxyAuthenticationRequired => "ProxyAuthenticationRequired",
        ProxyDenied => "ProxyDenied",
        ProxyUpstreamFailed => "ProxyUpstreamFailed",
        ProxyBypassAmbiguous => "ProxyBypassAmbiguous",
        TlsInterception => "TlsInterception",
        TlsUntrustedRoot => "TlsUntrustedRoot",
        TlsCertificateExpired => "TlsCertificateExpired",
        TlsCertificateNotYetValid => "TlsCertificateNotYetValid",
        TlsNameMismatch => "TlsNameMismatch",
        TlsIncompleteChain => "TlsIncompleteChain",
        TlsWeakSignature => "TlsWeakSignature",
        TlsProtocolVersion => "TlsProtocolVersion",
        TlsHandshakeFailed => "TlsHandshakeFailed",
        TlsHandshakeTimeout => "TlsHandshakeTimeout",
        TlsUnexpectedIssuer => "TlsUnexpectedIssuer",
        TlsChainTooLong => "TlsChainTooLong",
        TlsMalformedCertificate => "TlsMalformedCertificate",
        TlsPathMtuBlackHole => "TlsPathMtuBlackHole",
        TlsCertificateRevoked => "TlsCertificateRevoked",
        RevocationUnreachable => "RevocationUnreachable",
        RevocationResponseInvalid => "RevocationResponseInvalid",
        HttpTimeout => "HttpTimeout",
        HttpUnexpectedStatus => "HttpUnexpectedStatus",
        HttpProtocolError => "HttpProtocolError",
        HttpBlockedAtServiceEdge => "HttpBlockedAtServiceEdge",
        ClockSkew => "ClockSkew",
        ClockDrift => "ClockDrift",
        ClockUnverified => "ClockUnverified",
        ProxyConfigMismatch => "ProxyConfigMismatch",
        ProxyAutoConfig => "ProxyAutoConfig",
        TimeSourceUnreliable => "TimeSourceUnreliable",
        TlsClientProtocolDisabled => "TlsClientProtocolDisabled",
    });
    assert_eq!(Code::ALL.len(), 43, "every code is in the table above");
    for c in Code::ALL {
        assert_eq!(Code::parse(c.as_str()), Some(*c));
    }
}

/// Labels of enums the report carries as plain strings (no serde of their own).
#[test]
fn string_labels_are_pinned() {
    fn _every_lang(l: Lang) {
        match l {
            Lang::En | Lang::Fr | Lang::Zh => {}
        }
    }
    for (l, label) in [(Lang::En, "en"), (Lang::Fr, "fr"), (Lang::Zh, "zh")] {
        assert_eq!(l.as_str(), label);
        assert_eq!(label.parse::<Lang>(), Ok(l));
        assert_eq!(label.to_uppercase().parse::<Lang>(), Ok(l), "--lang is read in either case");
    }
    assert_eq!(Lang::ALL.len(), 3);
    assert!("de".parse::<Lang>().unwrap_err().to_string().contains("`de`"));
    fn _every_policy(p: PolicySource) {
        match p {
            PolicySource::Rfc6724Default | PolicySource::GaiConf | PolicySource::WindowsPrefixPolicies => {}
        }
    }
    for (p, label) in [
        (PolicySource::Rfc6724Default, "rfc6724_default"),
        (PolicySource::GaiConf, "gai_conf"),
        (PolicySource::WindowsPrefixPolicies, "windows_prefix_policies"),
    ] {
        assert_eq!(p.as_str(), label);
    }
}
