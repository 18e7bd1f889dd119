//! Who is calling: the client's address (through trusted reverse proxies only) and its
//! user agent, as recorded in events and checked by throttles and allow-lists.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{USER_AGENT, X_FORWARDED_FOR};

use crate::domain::net::Net;

/// The caller's address and agent, as recorded in events and checked by throttles and
/// allow-lists.
pub fn origin(req: &HttpRequest, trusted: &[Net]) -> (Option<String>, Option<String>) {
    let ip = client_ip(req, trusted).map(|ip| ip.to_string());
    let ua = req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect());
    (ip, ua)
}

/// The client's address: the TCP peer, unless the peer is one of the configured trusted
/// proxies (`--trusted-proxies`); then the nearest `X-Forwarded-For` entry that is not
/// itself a trusted proxy. Without the setting no forwarding header is believed, since
/// any client can send one. An IPv4 client seen as `::ffff:a.b.c.d` (an IPv6 socket,
/// or a proxy that writes it so) is named by its IPv4 address: one client, one name,
/// for throttles, allow-lists and the audit trail alike.
pub fn client_ip(req: &HttpRequest, trusted: &[Net]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if trusted.is_empty() {
        return Some(peer);
    }
    let hops = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    Some(through_proxies(peer, &hops, trusted))
}

/// Walk `X-Forwarded-For` from the right: each proxy appends the address it received
/// the request from, so entries are believed only while the hop that wrote them is
/// trusted. Everything further left was written by the client and may be forged. An
/// entry that is not an address stops the walk at the last hop we could vouch for.
fn through_proxies(peer: IpAddr, hops: &[&str], trusted: &[Net]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer;
    for hop in hops.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })
        .map(|ip| ip.to_canonical())
}

/// The throttling key of the caller's address. IPv6 is keyed by its /64: one
/// subscriber usually holds a whole /64 and could otherwise rotate addresses freely.
pub fn address_key(req: &HttpRequest, trusted: &[Net]) -> String {
    match client_ip(req, trusted) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_through_trusted_hops() {
        let trusted = vec![Net::parse("10.0.0.0/8").unwrap()];
        // Not from a trusted proxy: the header is the client's own claim.
        assert_eq!(
            through_proxies(ip("203.0.113.9"), &["198.51.100.1"], &trusted),
            ip("203.0.113.9")
        );
        // client -> proxy: the proxy's entry names the client.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), &["198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        // A forged entry left of the real one is ignored; trusted inner hops are skipped.
        assert_eq!(
            through_proxies(
                ip("10.0.0.2"),
                &["1.1.1.1", " 198.51.100.1:4711", "10.0.0.7"],
                &trusted
            ),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last hop we can vouch for.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), &["<script>"], &trusted),
            ip("10.0.0.2")
        );
        // No header at all.
        assert_eq!(
            through_proxies(ip("10.0.0.2"), &[], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(parse_hop("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(
            parse_hop("::ffff:5.5.5.5"),
            Some(ip("5.5.5.5")),
            "one name per client"
        );
    }
}
