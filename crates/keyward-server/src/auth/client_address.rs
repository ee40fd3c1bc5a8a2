//! Which client a request comes from, for counting failed attempts.
//!
//! Behind a TLS proxy every request arrives from the proxy's address, so counting by the peer
//! alone would lump every client together. An operator names the proxies they run
//! (`--trusted-proxy`, a CIDR, repeatable) and the header those proxies set (`--client-ip-header`,
//! `X-Forwarded-For` by default). Only when the peer is one of them is the header read, from the
//! right: the first address that is not itself a trusted proxy is the client. Any other peer's
//! header is ignored, so a client cannot choose its own address.
//!
//! IPv6 clients are counted by their /64, the block one subscriber usually holds, so rotating
//! through a block's addresses does not reset the count.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose word about the client's address is taken.
#[derive(Debug, Clone)]
pub struct ProxyPolicy {
    pub trusted: Vec<IpNet>,
    /// Lowercase header name, e.g. `x-forwarded-for` (a comma-separated list, nearest last).
    pub header: String,
}

impl Default for ProxyPolicy {
    fn default() -> Self {
        ProxyPolicy { trusted: Vec::new(), header: "x-forwarded-for".into() }
    }
}

impl ProxyPolicy {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    /// address in the header that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for value in headers.get_all(self.header.as_str()).iter().rev() {
            let Ok(text) = value.to_str() else { return client };
            for hop in text.rsplit(',') {
                let Some(ip) = parse_hop(hop) else { return client };
                client = canonical(ip);
                if !self.trusts(client) {
                    return client;
                }
            }
        }
        client
    }
}

/// One entry of a forwarding header: `203.0.113.7`, `[2001:db8::1]:443`, `198.51.100.2:8080`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The name failures are counted under: the IPv4 address, or the IPv6 address's /64.
pub fn bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The client a request comes from, as its counting bucket (see [`bucket`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl ClientAddress {
    /// The client of a request that arrived with these extensions and headers (its extractor,
    /// which reads the policy from the service's configuration, is in [`crate::state`]).
    pub fn of(proxies: &ProxyPolicy, extensions: &axum::http::Extensions, headers: &HeaderMap) -> ClientAddress {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        match peer {
            Some(peer) => ClientAddress(bucket(proxies.client(peer, headers))),
            None => ClientAddress("unknown".into()),
        }
    }
}

/// The address the connection was accepted on (the server's side), put in each request by
/// [`crate::serve`].
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn policy(nets: &[&str]) -> ProxyPolicy {
        ProxyPolicy { trusted: nets.iter().map(|n| n.parse().unwrap()).collect(), ..ProxyPolicy::default() }
    }

    #[test]
    fn an_untrusted_peer_cannot_name_its_own_address() {
        let p = policy(&["10.0.0.0/8"]);
        let peer: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(p.client(peer, &headers(&["1.2.3.4"])), peer);
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let p = policy(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        // The client made up the first entry; the proxies appended the rest.
        let h = headers(&["6.6.6.6, 203.0.113.7", "10.0.0.1"]);
        assert_eq!(p.client(peer, &h), "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(p.client(peer, &HeaderMap::new()), peer);
        assert_eq!(p.client(peer, &headers(&["garbage"])), peer);
        assert_eq!(p.client(peer, &headers(&["[2001:db8::1]:443"])), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(bucket("2001:db8:1:2:aaaa::1".parse().unwrap()), bucket("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_ne!(bucket("2001:db8:1:2::1".parse().unwrap()), bucket("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(bucket("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
