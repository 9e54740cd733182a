//! Endpoint targets: `https://host[:port][/path]` and `tcp://host:port`.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What one endpoint is: an HTTPS URL (resolve, connect, TLS, one GET) or a TCP address
/// (resolve and connect only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// `https://host[:port][/path][?query]`: resolve, connect, TLS and one GET of `path`.
    Https {
        /// The host to resolve and to name in SNI and the Host header.
        host: Host,
        /// The port to connect to (443 when the URL names none).
        port: u16,
        /// The path and query to request, at least `/` (no fragment).
        path: String,
    },
    /// `tcp://host:port`: resolve and connect only.
    Tcp {
        /// The host to resolve.
        host: Host,
        /// The port to connect to (1-65535; the URL must name it).
        port: u16,
    },
}

/// A target's host: a DNS name (lower-case, no trailing dot) or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name: ASCII (IDN in its `xn--` form), lower-case, no trailing dot (see [`validate_host_name`]).
    Name(String),
    /// An IPv4 or IPv6 literal: nothing to resolve.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Host {
    /// The host as a bare string (an IPv6 literal without brackets), as used for SNI and reports.
    pub fn bare(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

/// Why a target string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The string is not a URL (the target, the URL parser's reason).
    #[error("`{0}` is not a URL: {1} (expected https://host[:port][/path] or tcp://host:port)")]
    Parse(String, String),
    /// A scheme other than `https` or `tcp` (the target, the scheme).
    #[error("`{0}`: scheme `{1}` is not supported (expected https:// or tcp://)")]
    Scheme(String, String),
    /// The URL has no host (the target).
    #[error("`{0}` has no host")]
    NoHost(String),
    /// A `tcp://` target without a port (the target).
    #[error("`{0}`: a tcp:// target needs a port (tcp://host:port)")]
    NoPort(String),
    /// A `tcp://` target with a path, query or fragment (the target).
    #[error("`{0}`: a tcp:// target takes no path, query or credentials")]
    TcpExtra(String),
    /// A user name or password in the URL (the target, as given).
    #[error("`{0}`: credentials in an endpoint URL are not accepted")]
    Credentials(String),
    /// Port 0 (the target).
    #[error("`{0}`: port 0 is not a port a server listens on (1-65535)")]
    PortZero(String),
    /// The host name breaks a DNS or TLS rule (the target, the host, the rule).
    #[error("`{0}`: `{1}` is not a valid host name: {2}")]
    HostName(String, String, HostNameError),
}

/// Longest host name the resolver and TLS accept (without the trailing dot).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label of a host name.
pub const MAX_LABEL_LEN: usize = 63;

/// The rule a host name breaks, as the resolver (RFC 1035) and TLS (rustls' DnsName) apply them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostNameError {
    /// An empty name.
    #[error("the name is empty")]
    Empty,
    /// Longer than 253 characters (`MAX_NAME_LEN`; the length).
    #[error("the name is {0} characters long (at most {MAX_NAME_LEN})")]
    TooLong(usize),
    /// An empty label (its 1-based position).
    #[error("label {0} is empty (two dots in a row, or a leading dot)")]
    EmptyLabel(usize),
    /// A label longer than 63 characters (`MAX_LABEL_LEN`; its 1-based position, its length).
    #[error("label {0} is {1} characters long (at most {MAX_LABEL_LEN})")]
    LabelTooLong(usize, usize),
    /// A label starting or ending with `-` (its 1-based position).
    #[error("label {0} starts or ends with a hyphen")]
    Hyphen(usize),
    /// A character other than a letter, digit, hyphen or underscore (the character).
    #[error("{0:?} is not allowed (letters, digits, hyphens and underscores only)")]
    Char(char),
    /// The last label is all digits: resolvers and URL parsers read it as an IPv4 address.
    #[error("the last label is all digits (it reads as an IP address)")]
    NumericTld,
    /// The URL parser (IDNA mapping, IPv4 forms) refuses it.
    #[error("{0} (as the URL parser reads host names: IDNA, IPv4 forms)")]
    Syntax(String),
}

/// Check an ASCII host name (IDN already in its `xn--` form, no trailing dot) against the rules
/// the resolver and TLS apply: 1 to 253 characters, labels of 1 to 63 letters, digits, hyphens
/// or underscores, no label starting or ending with a hyphen, a last label that is not all digits.
pub fn validate_host_name(name: &str) -> Result<(), HostNameError> {
    if name.is_empty() {
        return Err(HostNameError::Empty);
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(HostNameError::Char(c));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HostNameError::TooLong(name.len()));
    }
    let mut last = "";
    for (i, label) in name.split('.').enumerate() {
        let n = i + 1;
        if label.is_empty() {
            return Err(HostNameError::EmptyLabel(n));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(HostNameError::LabelTooLong(n, label.len()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostNameError::Hyphen(n));
        }
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostNameError::NumericTld);
    }
    Ok(())
}

/// A host as the URL parser of special schemes (https) reads it: percent-decoded, IDNA-mapped
/// to ASCII (`xn--`), lower-case, IPv4 in all its forms; then checked with [`validate_host_name`].
/// One trailing dot (the root) is dropped. Used for tcp:// hosts too, so both schemes agree.
pub fn parse_host(raw: &str) -> Result<Host, HostNameError> {
    // ASCII the URL parser would refuse with a vaguer reason ("invalid international domain name").
    if let Some(c) = raw.chars().find(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || "-_.%[]:".contains(*c))) {
        return Err(HostNameError::Char(c));
    }
    let host = url::Host::parse(raw).map_err(|e| HostNameError::Syntax(e.to_string()))?;
    match host {
        url::Host::Ipv4(ip) => Ok(Host::Ip(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => Ok(Host::Ip(IpAddr::V6(ip))),
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            let name = d.strip_suffix('.').unwrap_or(&d);
            validate_host_name(name)?;
            Ok(Host::Name(name.to_string()))
        }
    }
}

impl Target {
    /// Parse an endpoint target: `https://host[:port][/path]` (port 443 by default, path `/`) or
    /// `tcp://host:port`. Host names are lower-cased and IDNA-mapped as the URL parser does.
    ///
    /// # Errors
    /// [`TargetError`] naming the input and the rule it breaks: not a URL, another scheme, no host,
    /// credentials in the URL, port 0, a `tcp://` target without a port or with a path, an invalid
    /// host name.
    pub fn parse(raw: &str) -> Result<Target, TargetError> {
        // Every error names the target as given, less any `user:password@` (never echoed).
        let shown = mask_userinfo(raw);
        let s = shown.as_str();
        let url = url::Url::parse(raw.trim()).map_err(|e| TargetError::Parse(s.into(), e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials(s.into()));
        }
        let host = match url.host() {
            // Non-special schemes (tcp://) leave the host opaque (percent-encoded, no IDNA, IPv4
            // literals as names): parse it as https:// does, so both schemes agree.
            Some(url::Host::Domain(d)) => match d.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) if d.is_empty() => return Err(TargetError::NoHost(s.into())),
                Err(_) => parse_host(d).map_err(|e| TargetError::HostName(s.into(), d.into(), e))?,
            },
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            None => return Err(TargetError::NoHost(s.into())),
        };
        if matches!(&host, Host::Name(n) if n.is_empty()) {
            return Err(TargetError::NoHost(s.into()));
        }
        if url.port() == Some(0) {
            return Err(TargetError::PortZero(s.into()));
        }
        match url.scheme() {
            "https" => {
                let port = url.port().unwrap_or(443);
                let mut path = url.path().to_string();
                if path.is_empty() {
                    path.push('/');
                }
                if let Some(q) = url.query() {
                    path.push('?');
                    path.push_str(q);
                }
                Ok(Target::Https { host, port, path })
            }
            "tcp" => {
                let port = url.port().ok_or_else(|| TargetError::NoPort(s.into()))?;
                if (url.path() != "" && url.path() != "/") || url.query().is_some() || url.fragment().is_some() {
                    return Err(TargetError::TcpExtra(s.into()));
                }
                Ok(Target::Tcp { host, port })
            }
            other => Err(TargetError::Scheme(s.into(), other.into())),
        }
    }

    /// The host to resolve (both kinds).
    pub fn host(&self) -> &Host {
        match self {
            Target::Https { host, .. } | Target::Tcp { host, .. } => host,
        }
    }

    /// The port to connect to (both kinds; 443 for an `https://` URL without one).
    pub fn port(&self) -> u16 {
        match self {
            Target::Https { port, .. } | Target::Tcp { port, .. } => *port,
        }
    }

    /// Whether this is an `https://` target (TLS and HTTP stages run) rather than `tcp://`.
    pub fn is_https(&self) -> bool {
        matches!(self, Target::Https { .. })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Https { host, port: 443, path } => write!(f, "https://{host}{path}"),
            Target::Https { host, port, path } => write!(f, "https://{host}:{port}{path}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

impl TryFrom<String> for Target {
    type Error = TargetError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Target::parse(&s)
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.to_string()
    }
}

/// `url` with the user information of its authority (`user:password@`) replaced by `***@`: a
/// password typed into an endpoint URL or a proxy setting is never printed back. The authority
/// is what follows `://` (or the start, when the scheme was left out: `user:pass@host`) up to
/// the first `/`; its last `@` ends the user information (RFC 3986, 3.2.1). An `@` in a query
/// without a path (`h?a@b`) is masked too: more is hidden, never less.
pub fn mask_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_https_with_defaults() {
        let t = Target::parse("https://Login.MicrosoftOnline.com.").unwrap();
        assert_eq!(
            t,
            Target::Https { host: Host::Name("login.microsoftonline.com".into()), port: 443, path: "/".into() }
        );
        assert_eq!(t.to_string(), "https://login.microsoftonline.com/");
    }

    #[test]
    fn keeps_port_path_and_query() {
        let t = Target::parse("https://management.azure.com:8443/metadata/endpoints?api-version=2015-01-01").unwrap();
        assert_eq!(t.port(), 8443);
        assert_eq!(t.to_string(), "https://management.azure.com:8443/metadata/endpoints?api-version=2015-01-01");
    }

    #[test]
    fn parses_tcp_and_ip_literals() {
        assert_eq!(
            Target::parse("tcp://10.0.0.5:5985").unwrap(),
            Target::Tcp { host: Host::Ip("10.0.0.5".parse().unwrap()), port: 5985 }
        );
        let v6 = Target::parse("https://[::1]:4443/x").unwrap();
        assert_eq!(v6.host().bare(), "::1");
        assert_eq!(v6.to_string(), "https://[::1]:4443/x");
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        assert!(matches!(Target::parse("http://x.example"), Err(TargetError::Scheme(..))));
        assert!(matches!(Target::parse("tcp://x.example"), Err(TargetError::NoPort(..))));
        assert!(matches!(Target::parse("tcp://x.example:1/a"), Err(TargetError::TcpExtra(..))));
        assert!(matches!(Target::parse("tcp://x.example:0"), Err(TargetError::PortZero(..))));
        assert!(matches!(Target::parse("https://x.example:0/"), Err(TargetError::PortZero(..))));
        assert!(matches!(Target::parse("https://u:p@x.example/"), Err(TargetError::Credentials(..))));
        // The password is never printed back, in any error.
        for bad in [
            "https://user:s3cret@x.example/",
            "https://user:s3cret@bad host/",
            "tcp://user:s3cret@x.example:1/p",
            "user:s3cret@x.example",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret") && !e.contains("user"), "{bad}: {e}");
            assert!(e.contains("***@"), "{bad}: {e}");
        }
        assert!(matches!(Target::parse("login.microsoftonline.com"), Err(TargetError::Parse(..))));
    }

    #[test]
    fn host_names_obey_the_resolver_and_tls_rules() {
        let rule = |u: &str| match Target::parse(u) {
            Err(TargetError::HostName(_, _, rule)) => Some(rule),
            Err(e) => panic!("{u}: {e}"),
            Ok(_) => None,
        };
        assert_eq!(rule("https://a..b.test/"), Some(HostNameError::EmptyLabel(2)));
        assert_eq!(rule("tcp://a..b.test:1"), Some(HostNameError::EmptyLabel(2)));
        assert_eq!(rule("https://a.b.test../"), Some(HostNameError::EmptyLabel(4)));
        assert_eq!(rule("https://a.b.test./"), None, "one trailing dot is the root");
        let long = "a".repeat(64);
        assert_eq!(rule(&format!("https://{long}.test/")), Some(HostNameError::LabelTooLong(1, 64)));
        assert_eq!(rule(&format!("tcp://{long}.test:1")), Some(HostNameError::LabelTooLong(1, 64)));
        let name = vec!["a".repeat(63); 4].join(".");
        assert_eq!(rule(&format!("https://{name}/")), Some(HostNameError::TooLong(255)));
        assert_eq!(rule("https://-a.test/"), Some(HostNameError::Hyphen(1)));
        assert_eq!(rule("tcp://a-.test:1"), Some(HostNameError::Hyphen(1)));
        assert_eq!(rule("tcp://a*b.test:1"), Some(HostNameError::Char('*')));
        assert!(matches!(rule("tcp://a.123:1"), Some(HostNameError::Syntax(_))));
        assert_eq!(validate_host_name("a.123"), Err(HostNameError::NumericTld));
        assert!(matches!(rule("tcp://a%00b.test:1"), Some(HostNameError::Syntax(_))));
        assert_eq!(rule("https://_srv.a.test/"), None);
        // IDN: the same ASCII form for tcp:// as for https://.
        let https = Target::parse("https://Bücher.example/").unwrap();
        let tcp = Target::parse("tcp://Bücher.example:443").unwrap();
        assert_eq!(https.host(), &Host::Name("xn--bcher-kva.example".into()));
        assert_eq!(tcp.host(), https.host());
        assert_eq!(Target::parse("tcp://0x7f.1:5").unwrap().host(), &Host::Ip("127.0.0.1".parse().unwrap()));
        let err = Target::parse("https://a..b.test/").unwrap_err().to_string();
        assert_eq!(
            err,
            "`https://a..b.test/`: `a..b.test` is not a valid host name: label 2 is empty (two dots in a row, or a leading dot)"
        );
    }
}
