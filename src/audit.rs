//! Helpers around the audit trail (`store::audit`): who is calling, and the coalesced
//! count of issued tokens.
//!
//! Tokens are issued on the hot path, where a database write per token would cap the
//! rate at the database's. Issuance is therefore counted in memory and written as one
//! `token.issued` event per client and grant per minute, with the count. Everything
//! else is written as it happens, in the transaction of the change.

use std::collections::HashMap;

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{USER_AGENT, X_FORWARDED_FOR};
use actix_web::{HttpRequest, web};
use parking_lot::Mutex;

use crate::domain::net::Net;
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};

/// The caller's address and agent, as recorded in events and checked by throttles and
/// allow-lists.
pub fn origin(req: &HttpRequest) -> (Option<String>, Option<String>) {
    let ip = client_ip(req).map(|ip| ip.to_string());
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
/// any client can send one.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !state.settings.trusted_proxies.is_empty() => {
            &state.settings.trusted_proxies
        }
        _ => return Some(peer),
    };
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
}

/// Counts of tokens issued since the last flush, by client and grant.
#[derive(Default)]
pub struct IssuedCounter {
    // Keyed by client first so the hot path looks up with a `&str` and allocates only
    // the first time a client is seen in a window.
    counts: Mutex<HashMap<String, HashMap<&'static str, u64>>>,
}

impl IssuedCounter {
    pub fn note(&self, client_id: &str, grant: &'static str) {
        let mut c = self.counts.lock();
        let per_grant = match c.get_mut(client_id) {
            Some(m) => m,
            None => c.entry(client_id.to_string()).or_default(),
        };
        *per_grant.entry(grant).or_insert(0) += 1;
    }

    /// Take the counts, leaving zero behind.
    pub fn take(&self) -> Vec<((String, &'static str), u64)> {
        std::mem::take(&mut *self.counts.lock())
            .into_iter()
            .flat_map(|(client, grants)| {
                grants
                    .into_iter()
                    .map(move |(grant, n)| ((client.clone(), grant), n))
            })
            .collect()
    }

    /// Write the counts as events (and put them back if the write fails).
    pub fn flush(&self, conn: &mut AnyConnection, now: i64) -> diesel::QueryResult<usize> {
        let taken = self.take();
        let n = taken.len();
        for ((client, grant), count) in &taken {
            let e = Event::new("token.issued", "success")
                .client(client.clone())
                .detail("grant", *grant)
                .detail("count", *count);
            if let Err(err) = audit::record(conn, &e, now) {
                let mut c = self.counts.lock();
                for ((client, grant), count) in taken {
                    *c.entry(client).or_default().entry(grant).or_insert(0) += count;
                }
                return Err(err);
            }
        }
        Ok(n)
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
    }
}
