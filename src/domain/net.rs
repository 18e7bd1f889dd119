//! Addresses and CIDR ranges, IPv4 and IPv6: allow-lists of personal tokens, trusted
//! proxies.

use std::net::IpAddr;

use ipnet::IpNet;

/// One address or CIDR range (`ipnet` does the arithmetic); a bare address is its own
/// range, and is written back bare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net(IpNet);

impl Net {
    pub fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok()?,
            None => max_prefix(addr),
        };
        IpNet::new(addr, prefix).ok().map(Net)
    }

    /// A range of every address (`0.0.0.0/0`, `::/0`).
    pub fn covers_everything(&self) -> bool {
        self.0.prefix_len() == 0
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is written ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.contains(&ip)
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = self.0.addr();
        if self.0.prefix_len() == max_prefix(addr) {
            write!(f, "{addr}")
        } else {
            write!(f, "{addr}/{}", self.0.prefix_len())
        }
    }
}

/// Parse a list separated by spaces, commas or new lines. Err names the bad entry.
pub fn parse_list(s: &str) -> Result<Vec<Net>, String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|e| !e.is_empty())
        .map(|e| Net::parse(e).ok_or_else(|| e.to_string()))
        .collect()
}

/// An address allow-list. Empty means every address; a list that does not parse is an
/// error where it is read, never an empty (open) list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Net>);

impl AllowList {
    /// Parse a list as `parse_list` does. Err names the bad entry.
    pub fn parse(s: &str) -> Result<AllowList, String> {
        parse_list(s).map(AllowList)
    }

    /// A list as we store it: `""` (any address) or entries separated by single spaces,
    /// exactly as `Display` writes them. Anything else (a list of only spaces or commas,
    /// which `parse` would read as empty, that is open) is refused.
    pub fn from_stored(s: &str) -> Result<AllowList, String> {
        let list = AllowList::parse(s)?;
        if list.to_string() != s {
            return Err(format!("{s:?} is not a stored allow-list"));
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Is `ip` allowed? A listed token needs an address, and one that parses.
    pub fn allows(&self, ip: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip.and_then(|i| i.trim().parse::<IpAddr>().ok()) else {
            return false;
        };
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// Space-separated, the form in which lists are stored.
impl std::fmt::Display for AllowList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared,
/// documentation, multicast, reserved or unspecified, nor an IPv6 form of one (mapped,
/// NAT64). Used before fetching a URL that an outsider named, so that it cannot point
/// us at our own network. (`IpAddr::is_global` is not stable, hence these lines.)
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated, still routed inside)
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0x0000) // Teredo: an IPv4 address inside
                || s[0] == 0x2002 // 6to4: an IPv4 address inside
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, and local-use 64:ff9b:1::/48
                || s[0] == 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &str, ip: Option<&str>) -> bool {
        AllowList::parse(list).unwrap().allows(ip)
    }

    #[test]
    fn a_list_that_does_not_parse_is_an_error_not_an_open_list() {
        assert!(AllowList::parse("10.0.0.0/8 garbage").is_err());
        for stored in [" ", ",", "\n", "10.0.0.1,10.0.0.2", " 10.0.0.1"] {
            assert!(AllowList::from_stored(stored).is_err(), "{stored:?}");
        }
        assert!(AllowList::from_stored("").unwrap().is_empty());
        assert!(AllowList::from_stored("10.0.0.1 2001:db8::/32").is_ok());
        assert_eq!(
            AllowList::parse(" 10.0.0.1,2001:db8::/32 ")
                .unwrap()
                .to_string(),
            "10.0.0.1 2001:db8::/32"
        );
    }

    #[test]
    fn v4_v6_and_ranges() {
        assert!(allows("", Some("1.2.3.4")));
        assert!(allows("10.0.0.0/8", Some("10.200.1.1")));
        assert!(!allows("10.0.0.0/8", Some("11.0.0.1")));
        assert!(allows("192.0.2.7", Some("192.0.2.7")));
        assert!(!allows("192.0.2.7", Some("192.0.2.8")));
        assert!(allows("2001:db8::/32", Some("2001:db8:1::5")));
        assert!(!allows("2001:db8::/32", Some("2001:db9::5")));
        assert!(allows("127.0.0.1", Some("::ffff:127.0.0.1")));
        assert!(allows("0.0.0.0/0", Some("8.8.8.8")));
        assert!(
            !allows("10.0.0.0/8", None),
            "a listed token needs an address"
        );
        assert!(!allows("10.0.0.0/8", Some("not an ip")));
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(parse_list("10.0.0.0/33").unwrap_err(), "10.0.0.0/33");
        assert_eq!(parse_list("1.2.3.4, nope").unwrap_err(), "nope");
        assert_eq!(parse_list("1.2.3.4,\n::1/128").unwrap().len(), 2);
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "::127.0.0.1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "feff::1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
