//! Who the client is behind a proxy: `X-Forwarded-For`, believed only as far as `--trust-proxy` says.
//!
//! Each proxy appends the address it got the request from, so the header reads client, proxy 1,
//! proxy 2, … and the socket's peer is the last proxy. Walking back from the peer, every hop that is a
//! trusted proxy vouches for the one before it; the first hop that is not trusted is the client. A
//! client can put anything at the front of the header, which is why nothing left of that hop counts.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address: `peer` itself unless `peer` is one of `trusted`, else the first hop of
/// `X-Forwarded-For`, read from the right, that is not trusted. An entry that is not an address ends
/// the walk at the hop that reported it (a proxy we trust said something we cannot read).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| same(t, ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers count as one list, in order.
    let hops: Vec<&str> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse(hop) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]`, or either with a port.
fn parse(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok())
}

/// Equal, counting an IPv4 address and its IPv6-mapped form (`::ffff:1.2.3.4`) as one.
fn same(a: &IpAddr, b: &IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(&X_FORWARDED_FOR, v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn without_a_trusted_peer_the_header_is_ignored() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("198.51.100.1"), &headers, &[]), ip("198.51.100.1"));
        assert_eq!(client_ip(ip("198.51.100.1"), &headers, &[ip("127.0.0.1")]), ip("198.51.100.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxy = ip("127.0.0.1");
        assert_eq!(client_ip(proxy, &forwarded(&["203.0.113.9"]), &[proxy]), ip("203.0.113.9"));
        // A client that forges the front of the header gains nothing: the proxy appended the real one.
        let forged = forwarded(&["10.9.9.9, 203.0.113.9"]);
        assert_eq!(client_ip(proxy, &forged, &[proxy]), ip("203.0.113.9"));
        // Two trusted proxies in a row; several headers are one list.
        let chain = forwarded(&["203.0.113.9, 10.0.0.5", "10.0.0.6"]);
        assert_eq!(client_ip(proxy, &chain, &[proxy, ip("10.0.0.5"), ip("10.0.0.6")]), ip("203.0.113.9"));
        // No header at all: the proxy itself.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn ports_brackets_mapped_addresses_and_garbage() {
        let proxy = ip("127.0.0.1");
        assert_eq!(client_ip(proxy, &forwarded(&["203.0.113.9:4711"]), &[proxy]), ip("203.0.113.9"));
        assert_eq!(client_ip(proxy, &forwarded(&["[2001:db8::1]:443"]), &[proxy]), ip("2001:db8::1"));
        assert_eq!(client_ip(proxy, &forwarded(&["[2001:db8::1]"]), &[proxy]), ip("2001:db8::1"));
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), &forwarded(&["203.0.113.9"]), &[proxy]), ip("203.0.113.9"));
        // What cannot be read stops the walk at the trusted hop that wrote it.
        assert_eq!(client_ip(proxy, &forwarded(&["203.0.113.9, unknown"]), &[proxy]), proxy);
        assert_eq!(client_ip(proxy, &forwarded(&["unknown, 10.0.0.5"]), &[proxy, ip("10.0.0.5")]), ip("10.0.0.5"));
    }
}
