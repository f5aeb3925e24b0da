//! Who the client is behind IIS or a load balancer: `X-Forwarded-For` / `X-Forwarded-Proto`
//! are believed only when the peer is one of `--trusted-proxies`; anyone else could write
//! them.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::http::header::HeaderMap;

/// An IP address or a CIDR block (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            // An empty variable (`DATASTORE_TRUSTED_PROXIES=`) trusts nobody: 0.0.0.0 is
            // never the address of a peer.
            return Ok(IpRange {
                network: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                prefix: 32,
            });
        }
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0..={max}"))?,
        };
        Ok(IpRange { network, prefix })
    }
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) compares as the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The network a client is counted as by rate limits and throttles: its address, or for
/// IPv6 its /64 (one subscriber's prefix: a host picks any of its 2^64 addresses at will,
/// so counting them one by one would let it step around every limit).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The client as the service sees it, kept in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    /// `https` when a trusted proxy says so, else the connection's own scheme.
    pub https: bool,
}

/// The trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpRange>) -> Self {
        TrustedProxies(ranges)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client of a request from `peer` with these headers. Walks `X-Forwarded-For`
    /// from the right (the hop nearest us) past trusted proxies: the first address not
    /// trusted is the client; entries left of it were written by the client itself.
    pub fn client(&self, peer: Option<IpAddr>, https: bool, headers: &HeaderMap) -> Client {
        let Some(peer) = peer.map(canonical) else {
            return Client { addr: None, https };
        };
        if !self.trusts(peer) {
            return Client {
                addr: Some(peer),
                https,
            };
        }
        let mut addr = peer;
        let forwarded = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    addr = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map_or(https, |p| p.trim().eq_ignore_ascii_case("https"));
        Client {
            addr: Some(addr),
            https,
        }
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:80`, as IIS ARR writes them).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    hop.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|s| s.parse().ok())
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains("10.1.2.3".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        let all: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one: IpRange = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("proxy.local".parse::<IpRange>().is_err());
        let nobody: IpRange = "".parse().unwrap();
        assert!(!nobody.contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_peer() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7:5123"),
            ("x-forwarded-proto", "https"),
        ]);
        let peer = Some("127.0.0.1".parse().unwrap());
        let untrusted = proxies(&[]).client(peer, false, &h);
        assert_eq!(untrusted.addr, peer);
        assert!(!untrusted.https);
        let trusted = proxies(&["127.0.0.1"]).client(peer, false, &h);
        assert_eq!(trusted.addr, Some("203.0.113.7".parse().unwrap()));
        assert!(trusted.https);
        // A chain of trusted proxies is walked past; the client's own entries are not.
        let chain = proxies(&["127.0.0.1", "10.0.0.0/8"]).client(
            peer,
            false,
            &headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.0.0.5")]),
        );
        assert_eq!(chain.addr, Some("198.51.100.1".parse().unwrap()));
        let v6 = proxies(&["127.0.0.1"]).client(
            peer,
            false,
            &headers(&[("x-forwarded-for", "[2001:db8::1]:443")]),
        );
        assert_eq!(v6.addr, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn an_ipv6_client_counts_as_its_64_and_ipv4_as_itself() {
        let net = |s: &str| client_network(s.parse().unwrap());
        assert_eq!(net("2001:db8:1:2:aaaa::1"), net("2001:db8:1:2:ffff::9"));
        assert_eq!(
            net("2001:db8:1:2::1"),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_eq!(net("10.0.0.1"), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_ne!(net("10.0.0.1"), net("10.0.0.2"));
        assert_eq!(net("::ffff:10.0.0.1"), net("10.0.0.1"));
    }
}
