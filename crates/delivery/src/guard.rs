//! Which destination addresses webhooks may reach.
//!
//! A webhook URL is written by whoever edits a campaign, and the request leaves from inside the
//! operator's network: without this guard a campaign could read cloud metadata (169.254.169.254)
//! or poke internal services. Only public addresses are reachable by default; the operator opts
//! private networks in with `webhook_allow_networks`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The configuration setting that allows refused networks, named in every refusal so the
/// operator knows what to change.
const SETTING: &str = "webhook_allow_networks";

/// Which destination addresses webhooks may reach. Default: public addresses only.
///
/// Refused unless allowed: loopback, private (10/8, 172.16/12, 192.168/16), CGNAT 100.64/10,
/// link-local 169.254/16 (cloud metadata), unspecified, broadcast, multicast, documentation and
/// other reserved ranges, IPv6 loopback `::1`, ULA `fc00::/7`, link-local `fe80::/10`, and the
/// IPv6 forms that embed one of the refused IPv4 addresses (IPv4-mapped, NAT64, 6to4).
#[derive(Clone, Debug, Default)]
pub struct NetworkGuard {
    allowed: Vec<IpNet>,
}

impl NetworkGuard {
    /// A guard that also lets through the given networks, even if they are private.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        NetworkGuard { allowed }
    }

    /// Parses an allow list such as `["127.0.0.0/8", "::1/128"]`; a bare address means just that
    /// address. The error names the entry that is not a network.
    pub fn parse(allowed: &[String]) -> Result<Self, String> {
        let nets = allowed
            .iter()
            .map(|entry| {
                let trimmed = entry.trim();
                trimmed
                    .parse::<IpNet>()
                    .or_else(|_| trimmed.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{SETTING}: {entry:?} is not a network (expected CIDR such as \"10.0.0.0/8\" or an address)"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetworkGuard::new(nets))
    }

    /// Says whether a webhook may connect to `ip`, and if not, why and how to allow it.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        // An IPv4-mapped IPv6 address reaches the IPv4 host, so an allow list written with IPv4
        // networks must cover it too.
        let canonical = ip.to_canonical();
        if self
            .allowed
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return Ok(());
        }
        match refused_kind(ip) {
            Some(kind) => Err(format!(
                "webhook address {ip} is {kind}; allow it with {SETTING}"
            )),
            None => Ok(()),
        }
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
fn refused_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let kind = match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "reserved (\"this network\", 0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared address space (carrier-grade NAT, 100.64.0.0/10)",
        (169, 254, _) => "link-local (cloud metadata lives here)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "reserved for documentation",
        (192, 0, 0) => "reserved for IETF protocol assignments",
        (192, 88, 99) => "reserved (6to4 relay anycast)",
        (198, 18..=19, _) => "reserved for benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    };
    Some(kind)
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    let segments = ip.segments();
    // Addresses that embed an IPv4 address are routed to it by a translator (NAT64) or a relay
    // (6to4), so they are refused exactly when the embedded address is.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return refused_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return refused_v4(embedded_v4(segments[1], segments[2]));
    }
    let kind = match segments[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // The rest of ::/96 is the deprecated IPv4-compatible form; nothing public lives there.
        0 if segments[..6] == [0; 6] => "reserved (IPv4-compatible IPv6)",
        0x0064 if segments[1] == 0xff9b && segments[2] == 1 => "private (local-use NAT64)",
        0x0100 if segments[1..4] == [0, 0, 0] => "reserved (discard-only, 100::/64)",
        0x2001 if segments[1] == 0x0db8 => "reserved for documentation",
        // 2001::/23 holds protocol assignments (Teredo, benchmarking, ORCHID), never a host.
        0x2001 if segments[1] < 0x0200 => "reserved for IETF protocol assignments",
        0x3fff if segments[1] < 0x1000 => "reserved for documentation",
        0xfc00..=0xfdff => "private (unique local, fc00::/7)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "reserved (site-local, deprecated)",
        0xff00..=0xffff => "multicast",
        _ => return None,
    };
    Some(kind)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

#[cfg(test)]
mod tests {
    use super::NetworkGuard;
    use std::net::IpAddr;

    fn check(guard: &NetworkGuard, ip: &str) -> Result<(), String> {
        guard.check(ip.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn refusals_name_the_kind_and_the_setting() {
        let error = check(&NetworkGuard::default(), "10.0.0.5").unwrap_err();
        assert_eq!(
            error,
            "webhook address 10.0.0.5 is private; allow it with webhook_allow_networks"
        );
    }

    #[test]
    fn embedded_ipv4_follows_the_ipv4_rules() {
        let guard = NetworkGuard::default();
        assert!(check(&guard, "64:ff9b::a9fe:a9fe").is_err()); // NAT64 of 169.254.169.254
        assert!(check(&guard, "2002:7f00:1::").is_err()); // 6to4 of 127.0.0.1
        assert!(check(&guard, "64:ff9b::808:808").is_ok()); // NAT64 of 8.8.8.8
        assert!(check(&guard, "2002:808:808::1").is_ok()); // 6to4 of 8.8.8.8
    }
}
