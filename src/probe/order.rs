//! The node's destination address order, computed as the OS does: RFC 6724 section 6
//! (destination address selection) with the policy table of the node.
//!
//! - Linux (glibc `getaddrinfo`): the RFC 6724 default policy table, replaced by the
//!   `precedence` / `label` lines of /etc/gai.conf when it has any (glibc replaces the whole
//!   table of that kind as soon as one line of it is present). `scopev4` lines are not read.
//! - Windows: the prefix policy table, read from `netsh interface ipv6 show prefixpolicies`
//!   (the table `getaddrinfo` sorts by); when it cannot be read, the RFC 6724 default table.
//!
//! The source address the kernel would use for each destination is found with a UDP
//! `connect()` that sends nothing (a route lookup only). Rules implemented: 1 (unusable
//! destination: no source), 2 (matching scope), 5 (matching label), 6 (higher precedence),
//! 8 (smaller scope), 9 (longest matching prefix, within one family) and 10 (otherwise the
//! order of the answer). Rules 3, 4 and 7 (deprecated, home and native-transport addresses)
//! need facts the probe does not have and are skipped.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};

/// One policy table entry: a prefix, its precedence and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The prefix (IPv4 addresses are matched as IPv4-mapped, `::ffff:0:0/96`).
    pub prefix: Ipv6Addr,
    /// Prefix length, 0..=128.
    pub len: u8,
    /// Precedence: a destination of higher precedence sorts first (RFC 6724 rule 6).
    pub precedence: u32,
    /// Label: a destination whose label equals its source's sorts first (RFC 6724 rule 5).
    pub label: u32,
}

/// Where the policy table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// The RFC 6724 section 2.1 default table.
    Rfc6724Default,
    /// /etc/gai.conf `precedence` or `label` lines (Linux).
    GaiConf,
    /// The Windows prefix policy table (`netsh interface ipv6 show prefixpolicies`).
    WindowsPrefixPolicies,
}

impl PolicySource {
    /// The stable label, as in the report's evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Rfc6724Default => "rfc6724_default",
            PolicySource::GaiConf => "gai_conf",
            PolicySource::WindowsPrefixPolicies => "windows_prefix_policies",
        }
    }
}

/// A policy table and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTable {
    /// The entries; an address takes the entry of the longest matching prefix.
    pub entries: Vec<Policy>,
    /// Where the entries came from.
    pub source: PolicySource,
}

fn p(prefix: &str, len: u8, precedence: u32, label: u32) -> Policy {
    Policy { prefix: prefix.parse().unwrap_or(Ipv6Addr::UNSPECIFIED), len, precedence, label }
}

impl PolicyTable {
    /// RFC 6724 section 2.1.
    pub fn rfc6724() -> PolicyTable {
        PolicyTable {
            entries: vec![
                p("::1", 128, 50, 0),
                p("::", 0, 40, 1),
                p("::ffff:0:0", 96, 35, 4),
                p("2002::", 16, 30, 2),
                p("2001::", 32, 5, 5),
                p("fc00::", 7, 3, 13),
                p("::", 96, 1, 3),
                p("fec0::", 10, 1, 11),
                p("3ffe::", 16, 1, 12),
            ],
            source: PolicySource::Rfc6724Default,
        }
    }

    /// The longest-prefix entry matching `a` (its IPv4-mapped form for IPv4).
    fn lookup(&self, a: &IpAddr) -> Option<&Policy> {
        let v6 = mapped(a);
        self.entries.iter().filter(|e| common_prefix(&v6, &e.prefix) >= e.len).max_by_key(|e| e.len)
    }

    fn precedence(&self, a: &IpAddr) -> u32 {
        self.lookup(a).map_or(0, |e| e.precedence)
    }

    fn label(&self, a: &IpAddr) -> Option<u32> {
        self.lookup(a).map(|e| e.label)
    }

    /// The table as glibc builds it from gai.conf text: `precedence` lines replace the
    /// default precedences, `label` lines the default labels (each only when present).
    pub fn from_gai_conf(text: &str) -> PolicyTable {
        let mut prec: Vec<(Ipv6Addr, u8, u32)> = Vec::new();
        let mut labels: Vec<(Ipv6Addr, u8, u32)> = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(kind), Some(net), Some(value)) = (words.next(), words.next(), words.next()) else { continue };
            let Some((addr, len)) = net.split_once('/') else { continue };
            let (Ok(addr), Ok(len), Ok(value)) = (addr.parse::<Ipv6Addr>(), len.parse::<u8>(), value.parse::<u32>())
            else {
                continue;
            };
            if len > 128 {
                continue;
            }
            match kind {
                "precedence" => prec.push((addr, len, value)),
                "label" => labels.push((addr, len, value)),
                _ => {}
            }
        }
        let default = PolicyTable::rfc6724();
        if prec.is_empty() && labels.is_empty() {
            return default;
        }
        // Precedence and label tables are separate in glibc; merge them into entries that
        // answer both lookups: one entry per prefix of either table.
        let dflt = |which: bool| -> Vec<(Ipv6Addr, u8, u32)> {
            default.entries.iter().map(|e| (e.prefix, e.len, if which { e.precedence } else { e.label })).collect()
        };
        let prec = if prec.is_empty() { dflt(true) } else { prec };
        let labels = if labels.is_empty() { dflt(false) } else { labels };
        let best = |table: &[(Ipv6Addr, u8, u32)], a: &Ipv6Addr| {
            table
                .iter()
                .filter(|(pfx, len, _)| common_prefix(a, pfx) >= *len)
                .max_by_key(|(_, len, _)| *len)
                .map(|t| t.2)
        };
        let mut entries = Vec::new();
        for (pfx, len, _) in prec.iter().chain(labels.iter()) {
            if entries.iter().any(|e: &Policy| e.prefix == *pfx && e.len == *len) {
                continue;
            }
            entries.push(Policy {
                prefix: *pfx,
                len: *len,
                precedence: best(&prec, pfx).unwrap_or(0),
                label: best(&labels, pfx).unwrap_or(0),
            });
        }
        PolicyTable { entries, source: PolicySource::GaiConf }
    }

    /// The table from the output of `netsh interface ipv6 show prefixpolicies`: lines of
    /// precedence, label and prefix (the headers may be localised; lines that are not three
    /// such columns are skipped). None when no line is.
    pub fn from_netsh(text: &str) -> Option<PolicyTable> {
        let entries: Vec<Policy> = text
            .lines()
            .filter_map(|line| {
                let mut w = line.split_whitespace();
                let precedence = w.next()?.parse::<u32>().ok()?;
                let label = w.next()?.parse::<u32>().ok()?;
                let (addr, len) = w.next()?.split_once('/')?;
                let prefix = addr.parse::<Ipv6Addr>().ok()?;
                let len = len.parse::<u8>().ok().filter(|l| *l <= 128)?;
                Some(Policy { prefix, len, precedence, label })
            })
            .collect();
        (!entries.is_empty()).then_some(PolicyTable { entries, source: PolicySource::WindowsPrefixPolicies })
    }

    /// [`PolicyTable::of_node`], read once per process.
    pub fn of_node_cached() -> &'static PolicyTable {
        static TABLE: std::sync::OnceLock<PolicyTable> = std::sync::OnceLock::new();
        TABLE.get_or_init(PolicyTable::of_node)
    }

    /// The node's table (see the module documentation); never fails: the RFC 6724 default
    /// when the node's own cannot be read.
    pub fn of_node() -> PolicyTable {
        #[cfg(windows)]
        {
            let out =
                std::process::Command::new("netsh").args(["interface", "ipv6", "show", "prefixpolicies"]).output();
            match out {
                Ok(o) if o.status.success() => {
                    if let Some(t) = PolicyTable::from_netsh(&String::from_utf8_lossy(&o.stdout)) {
                        return t;
                    }
                    tracing::debug!(
                        "netsh interface ipv6 show prefixpolicies: no policy lines; RFC 6724 default table"
                    );
                }
                Ok(o) => tracing::debug!("netsh interface ipv6 show prefixpolicies exited with {}", o.status),
                Err(e) => tracing::debug!("run netsh interface ipv6 show prefixpolicies: {e}"),
            }
            PolicyTable::rfc6724()
        }
        #[cfg(not(windows))]
        {
            match std::fs::read_to_string("/etc/gai.conf") {
                Ok(text) => PolicyTable::from_gai_conf(&text),
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::debug!("read /etc/gai.conf: {e}; RFC 6724 default table");
                    }
                    PolicyTable::rfc6724()
                }
            }
        }
    }
}

/// The IPv4-mapped IPv6 form of an IPv4 address; IPv6 unchanged.
fn mapped(a: &IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => *v6,
    }
}

/// How many leading bits two addresses share.
fn common_prefix(a: &Ipv6Addr, b: &Ipv6Addr) -> u8 {
    let x = u128::from(*a) ^ u128::from(*b);
    u8::try_from(x.leading_zeros()).unwrap_or(128)
}

/// RFC 6724 section 3.1 scope (the multicast scope values): 2 link-local, 5 site-local,
/// 14 global. IPv4 loopback and 169.254/16 are link-local, every other IPv4 address global.
pub fn scope(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(v4) => {
            if v4.is_loopback() || v4.is_link_local() {
                2
            } else {
                14
            }
        }
        IpAddr::V6(v6) => {
            let s0 = v6.segments()[0];
            if v6.is_multicast() {
                (s0 & 0x000f) as u8
            } else if v6.is_loopback() || (s0 & 0xffc0) == 0xfe80 {
                2
            } else if (s0 & 0xffc0) == 0xfec0 {
                5
            } else {
                14
            }
        }
    }
}

/// One destination with the source the kernel would use for it (None: no route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The destination address.
    pub destination: IpAddr,
    /// The source address the kernel picks for it (found by connecting a UDP socket, which sends
    /// nothing); None: no route.
    pub source: Option<IpAddr>,
}

/// RFC 6724 section 6: is `a` before `b`?
fn compare(t: &PolicyTable, a: &Candidate, b: &Candidate) -> Ordering {
    use Ordering::*;
    let (da, db) = (&a.destination, &b.destination);
    // Rule 1: avoid unusable destinations.
    match (a.source, b.source) {
        (Some(_), None) => return Less,
        (None, Some(_)) => return Greater,
        (None, None) => return Equal,
        _ => {}
    }
    let (Some(sa), Some(sb)) = (a.source, b.source) else { return Equal };
    // Rule 2: prefer matching scope.
    let (ma, mb) = (scope(da) == scope(&sa), scope(db) == scope(&sb));
    if ma != mb {
        return if ma { Less } else { Greater };
    }
    // Rule 5: prefer matching label.
    let la = t.label(da).is_some() && t.label(da) == t.label(&sa);
    let lb = t.label(db).is_some() && t.label(db) == t.label(&sb);
    if la != lb {
        return if la { Less } else { Greater };
    }
    // Rule 6: prefer higher precedence.
    let (pa, pb) = (t.precedence(da), t.precedence(db));
    if pa != pb {
        return pb.cmp(&pa);
    }
    // Rule 8: prefer smaller scope.
    let (sca, scb) = (scope(da), scope(db));
    if sca != scb {
        return sca.cmp(&scb);
    }
    // Rule 9: longest matching prefix, when both are of one family.
    if da.is_ipv6() == db.is_ipv6() {
        let (ca, cb) = (common_prefix(&mapped(da), &mapped(&sa)), common_prefix(&mapped(db), &mapped(&sb)));
        if ca != cb {
            return cb.cmp(&ca);
        }
    }
    // Rule 10: leave the order unchanged.
    Equal
}

/// Sort destinations in the order RFC 6724 puts them (stable: rule 10).
pub fn sort(table: &PolicyTable, candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| compare(table, a, b));
}

/// The source address the kernel would use to reach `destination` (a route lookup: a UDP
/// socket connected to it, from which nothing is sent). None when there is no route.
pub fn source_for(destination: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match destination {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(bind) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("bind a UDP socket on {bind} to find the source for {destination}: {e}");
            return None;
        }
    };
    match socket.connect(SocketAddr::new(destination, 9)) {
        Ok(()) => socket.local_addr().ok().map(|a| a.ip()),
        Err(e) => {
            tracing::debug!("route lookup (UDP connect, nothing sent) to {destination}: {e}");
            None
        }
    }
}

/// The node's order of `addresses`: each one's source looked up, sorted by `table`.
pub fn node_order(table: &PolicyTable, addresses: &[IpAddr]) -> Vec<Candidate> {
    let mut c: Vec<Candidate> =
        addresses.iter().map(|d| Candidate { destination: *d, source: source_for(*d) }).collect();
    sort(table, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(d: &str, s: Option<&str>) -> Candidate {
        Candidate { destination: d.parse().unwrap(), source: s.map(|s| s.parse().unwrap()) }
    }

    fn order(t: &PolicyTable, mut v: Vec<Candidate>) -> Vec<String> {
        sort(t, &mut v);
        v.iter().map(|c| c.destination.to_string()).collect()
    }

    /// RFC 6724 section 10.2's examples, and the case of the issue: a node with a global IPv6
    /// address puts IPv6 first (rule 6: ::/0 precedence 40 over ::ffff:0:0/96's 35).
    #[test]
    fn rule6_precedence_puts_global_ipv6_first() {
        let t = PolicyTable::rfc6724();
        let v = vec![c("198.51.100.2", Some("192.0.2.1")), c("2001:db8:1::2", Some("2001:db8:1::1"))];
        assert_eq!(order(&t, v), ["2001:db8:1::2", "198.51.100.2"]);
        // RFC 6724 10.2: candidate 2001:db8:1::1 / 198.51.100.121, sources 2001:db8:1::2 / 169.254.13.78:
        // rule 2 (IPv4 link-local source for a global destination) puts IPv6 first as well.
        let v = vec![c("198.51.100.121", Some("169.254.13.78")), c("2001:db8:1::1", Some("2001:db8:1::2"))];
        assert_eq!(order(&t, v), ["2001:db8:1::1", "198.51.100.121"]);
    }

    /// Rule 2: an IPv6 destination reachable only from a link-local source loses to IPv4.
    #[test]
    fn rule2_scope_mismatch_puts_ipv4_first() {
        let t = PolicyTable::rfc6724();
        let v = vec![c("2001:db8:1::1", Some("fe80::1")), c("198.51.100.121", Some("198.51.100.117"))];
        assert_eq!(order(&t, v), ["198.51.100.121", "2001:db8:1::1"]);
    }

    /// Rule 1: a destination without a source (no route) goes last.
    #[test]
    fn rule1_unusable_destinations_last() {
        let t = PolicyTable::rfc6724();
        let v = vec![c("2001:db8::2", None), c("192.0.2.2", Some("192.0.2.1"))];
        assert_eq!(order(&t, v), ["192.0.2.2", "2001:db8::2"]);
    }

    /// Rule 5: a 6to4 source (label 2) for a native destination (label 1) does not match.
    #[test]
    fn rule5_label_mismatch() {
        let t = PolicyTable::rfc6724();
        // 2001:db8::1 (label 1) from a 6to4 source (label 2), 198.51.100.121 from an IPv4
        // source (both label 4): IPv4 first, although IPv6's precedence is higher.
        let v = vec![c("2001:db8::1", Some("2002:c633:6401::2")), c("198.51.100.121", Some("198.51.100.117"))];
        assert_eq!(order(&t, v), ["198.51.100.121", "2001:db8::1"]);
    }

    /// Rule 8: of two equally preferred destinations, the smaller scope first.
    #[test]
    fn rule8_smaller_scope_first() {
        let t = PolicyTable::rfc6724();
        // RFC 6724 10.2: 2001:db8::1 / fe80::1, sources 2001:db8::2 / fe80::2: fe80::1 first.
        let v = vec![c("2001:db8::1", Some("2001:db8::2")), c("fe80::1", Some("fe80::2"))];
        assert_eq!(order(&t, v), ["fe80::1", "2001:db8::1"]);
    }

    /// Rule 9: the destination sharing the longer prefix with its source first (one family).
    #[test]
    fn rule9_longest_matching_prefix() {
        let t = PolicyTable::rfc6724();
        let v = vec![c("2001:db8:ffff::1", Some("2001:db8:1::9")), c("2001:db8:1::1", Some("2001:db8:1::9"))];
        assert_eq!(order(&t, v), ["2001:db8:1::1", "2001:db8:ffff::1"]);
        // Rule 10: otherwise the answer's order stays.
        let v = vec![c("192.0.2.7", Some("198.51.100.1")), c("192.0.2.3", Some("198.51.100.1"))];
        assert_eq!(order(&t, v), ["192.0.2.7", "192.0.2.3"]);
    }

    /// gai.conf: the usual "prefer IPv4" line replaces the precedence table.
    #[test]
    fn gai_conf_precedence_prefers_ipv4() {
        let t = PolicyTable::from_gai_conf(
            "# comment\n#precedence ::ffff:0:0/96  10\nprecedence ::1/128 50\nprecedence ::/0 40\nprecedence 2002::/16 30\nprecedence ::/96 20\nprecedence ::ffff:0:0/96  100\n",
        );
        assert_eq!(t.source, PolicySource::GaiConf);
        let v = vec![c("2001:db8::2", Some("2001:db8::1")), c("192.0.2.2", Some("192.0.2.1"))];
        assert_eq!(order(&t, v), ["192.0.2.2", "2001:db8::2"]);
        // Comments only: the default table.
        assert_eq!(PolicyTable::from_gai_conf("#precedence ::ffff:0:0/96  100\n"), PolicyTable::rfc6724());
    }

    #[test]
    fn netsh_prefix_policies_parse() {
        let text = "Querying active state...\n\nPrecedence  Label  Prefix\n----------  -----  --------------------------------\n        50      0  ::1/128\n        40      1  ::/0\n       100      4  ::ffff:0:0/96\n        30      2  2002::/16\n";
        let t = PolicyTable::from_netsh(text).unwrap();
        assert_eq!(t.entries.len(), 4);
        assert_eq!(t.source, PolicySource::WindowsPrefixPolicies);
        let v = vec![c("2001:db8::2", Some("2001:db8::1")), c("192.0.2.2", Some("192.0.2.1"))];
        assert_eq!(order(&t, v), ["192.0.2.2", "2001:db8::2"]);
        assert!(PolicyTable::from_netsh("nothing here").is_none());
    }

    #[test]
    fn scopes() {
        for (a, s) in [("127.0.0.1", 2), ("169.254.1.1", 2), ("192.0.2.1", 14), ("fe80::1", 2), ("::1", 2)] {
            assert_eq!(scope(&a.parse().unwrap()), s, "{a}");
        }
        assert_eq!(scope(&"fec0::1".parse().unwrap()), 5);
        assert_eq!(scope(&"ff05::1".parse().unwrap()), 5);
        assert_eq!(scope(&"2001:db8::1".parse().unwrap()), 14);
    }

    /// The route lookup sends nothing and finds loopback's source.
    #[test]
    fn source_of_loopback() {
        assert_eq!(source_for("127.0.0.1".parse().unwrap()), Some("127.0.0.1".parse().unwrap()));
    }
}
