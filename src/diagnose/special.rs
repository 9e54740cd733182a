//! RFC 6890 special-purpose address ranges that turn up in broken DNS answers (shared/REFERENCE.md):
//! which range an address is in, what the range is, and what usually puts it in a DNS answer.
//! NAT64's well-known prefix 64:ff9b::/96 is legitimate and is not in the table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One special-purpose range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    /// The range in CIDR notation, e.g. `198.18.0.0/15`.
    pub cidr: &'static str,
    /// What the range is for, with its RFC.
    pub name: &'static str,
    /// What usually puts an address of this range in a DNS answer.
    pub usual_cause: &'static str,
}

const SINKHOLE: &str = "a DNS filter or blocker sinkholing the name (it answers with an address that goes nowhere)";
const PLACEHOLDER: &str = "a placeholder record left in a hosts file, a DNS zone or a conditional forwarder (documentation addresses are never a real host)";

const V4: &[(Ipv4Addr, u8, SpecialRange)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        SpecialRange {
            cidr: "0.0.0.0/8",
            name: "\"this network\" (RFC 791/6890), not a destination",
            usual_cause: SINKHOLE,
        },
    ),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        SpecialRange {
            cidr: "100.64.0.0/10",
            name: "shared address space of carrier-grade NAT (RFC 6598)",
            usual_cause: "a VPN or overlay client's DNS (e.g. Tailscale MagicDNS) or a carrier's DNS answering with its own internal address",
        },
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        SpecialRange {
            cidr: "198.18.0.0/15",
            name: "benchmarking (RFC 2544)",
            usual_cause: "the fake-IP mode of a transparent proxy client (Clash, sing-box, Surge) on this node or on its DNS forwarder: only traffic that passes through that client reaches the real service",
        },
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        SpecialRange { cidr: "192.0.2.0/24", name: "documentation TEST-NET-1 (RFC 5737)", usual_cause: PLACEHOLDER },
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        SpecialRange { cidr: "198.51.100.0/24", name: "documentation TEST-NET-2 (RFC 5737)", usual_cause: PLACEHOLDER },
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        SpecialRange { cidr: "203.0.113.0/24", name: "documentation TEST-NET-3 (RFC 5737)", usual_cause: PLACEHOLDER },
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        SpecialRange {
            cidr: "240.0.0.0/4",
            name: "reserved (RFC 1112; 255.255.255.255 is broadcast), not routable",
            usual_cause: SINKHOLE,
        },
    ),
];

const V6: &[(Ipv6Addr, u8, SpecialRange)] = &[
    (
        Ipv6Addr::UNSPECIFIED,
        128,
        SpecialRange {
            cidr: "::/128",
            name: "the unspecified address (RFC 4291), not a destination",
            usual_cause: SINKHOLE,
        },
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        SpecialRange { cidr: "100::/64", name: "discard-only (RFC 6666)", usual_cause: SINKHOLE },
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        SpecialRange { cidr: "2001:db8::/32", name: "documentation (RFC 3849)", usual_cause: PLACEHOLDER },
    ),
];

/// The special-purpose range `ip` is in (IPv4-mapped IPv6 addresses by their IPv4 address), or
/// `None` for an ordinary address (NAT64's 64:ff9b::/96 included).
pub fn special_range(ip: &IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(v4) => {
            let a = u32::from(*v4);
            V4.iter().find(|(net, bits, _)| a >> (32 - u32::from(*bits)) == u32::from(*net) >> (32 - u32::from(*bits)))
        }
        .map(|(_, _, r)| *r),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_range(&IpAddr::V4(v4));
            }
            let a = u128::from(*v6);
            V6.iter()
                .find(|(net, bits, _)| {
                    *bits == 128 && a == u128::from(*net)
                        || *bits < 128 && a >> (128 - u32::from(*bits)) == u128::from(*net) >> (128 - u32::from(*bits))
                })
                .map(|(_, _, r)| *r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_of_the_reference_is_named_with_its_cause() {
        for (ip, cidr) in [
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.254", "100.64.0.0/10"),
            ("198.18.0.5", "198.18.0.0/15"),
            ("198.19.255.1", "198.18.0.0/15"),
            ("192.0.2.10", "192.0.2.0/24"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.255", "240.0.0.0/4"),
            ("::", "::/128"),
            ("100::1", "100::/64"),
            ("2001:db8::1", "2001:db8::/32"),
            ("::ffff:198.18.0.5", "198.18.0.0/15"),
        ] {
            let r = special_range(&ip.parse().unwrap()).unwrap_or_else(|| panic!("{ip} is special"));
            assert_eq!(r.cidr, cidr, "{ip}");
            assert!(!r.name.is_empty() && !r.usual_cause.is_empty());
        }
        assert!(special_range(&"198.18.0.5".parse().unwrap()).unwrap().usual_cause.contains("fake-IP"));
    }

    #[test]
    fn ordinary_addresses_and_nat64_are_not_special() {
        for ip in [
            "20.190.128.1",
            "8.8.8.8",
            "100.128.0.1",
            "198.20.0.1",
            "192.0.3.1",
            "10.0.0.1",
            "127.0.0.1",
            "239.255.255.255",
        ] {
            assert_eq!(special_range(&ip.parse().unwrap()), None, "{ip}");
        }
        for ip in ["64:ff9b::14be:8001", "2603:1030::1", "::1", "100:0:0:1::1", "2001:db9::1"] {
            assert_eq!(special_range(&ip.parse().unwrap()), None, "{ip}");
        }
    }
}
