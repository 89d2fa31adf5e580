//! Where a webhook may be delivered. A subscription's URL is fetched by the server, from inside
//! the network it runs in: left unchecked it would reach the loopback interface, the cloud's
//! metadata service (169.254.169.254) and private hosts, and its attempt log would tell which
//! ports answer. So only public addresses are targets unless an administrator allows the rest
//! (`--allow-private-webhooks`). This module judges URLs and addresses; the worker checks the
//! addresses a host name resolves to when it delivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

use crate::domain::ParseError;

/// Which addresses webhooks may be delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Targets {
    /// Public addresses only: the default.
    #[default]
    PublicOnly,
    /// Any address, loopback and private networks included (receivers inside the network).
    Any,
}

impl Targets {
    /// `Any` when private targets are allowed, else `PublicOnly`.
    pub fn allowing_private(allow: bool) -> Self {
        if allow { Self::Any } else { Self::PublicOnly }
    }

    /// Whether a delivery may connect to this address.
    pub fn allows(self, address: IpAddr) -> bool {
        self == Self::Any || is_public(address)
    }
}

/// A subscription's URL, checked: http or https with a host, no user name or password (lists
/// would show them), and under `PublicOnly` no host that is a non-public address or a name that
/// always means this machine. Host names are checked again, resolved, at each delivery.
pub fn parse_url(raw: &str, targets: Targets) -> Result<Url, ParseError> {
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|e| ParseError(format!("'{raw}' is not a URL: {e}")))?;
    let Some(host) = url.host_str().filter(|_| matches!(url.scheme(), "http" | "https")) else {
        return Err(ParseError("the url must be http:// or https:// with a host".into()));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ParseError(
            "the url must not hold a user name or password, which lists would show: \
             receivers authenticate deliveries by their webhook-signature, made with the secret"
                .into(),
        ));
    }
    let refused = match host_address(host) {
        Some(address) => !targets.allows(address),
        None => targets == Targets::PublicOnly && means_this_machine(host),
    };
    if refused {
        return Err(ParseError(format!(
            "the url's host {host} is not a public address (loopback, private, link-local or \
             reserved): webhooks go to public addresses unless the server runs with --allow-private-webhooks"
        )));
    }
    Ok(url)
}

/// A URL as it may be shown: without a user name or password, should a stored one hold them.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both fail only for URLs without a host, which cannot hold credentials either.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(not a valid URL)".to_owned(),
    }
}

/// The address a URL's host names literally. The parser has already written every IPv4 form
/// (`2130706433`, `0x7f.1`, `0`) as a dotted quad and IPv6 in brackets.
pub fn host_address(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse().ok()
}

/// `localhost` and its subdomains, which resolve to the loopback interface (RFC 6761).
fn means_this_machine(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), unspecified, multicast, broadcast, reserved or documentation; IPv6 forms that carry
/// an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let special = a == 0                                // "this network", 0.0.0.0
        || a == 10                                      // private
        || a == 127                                     // loopback
        || a >= 224                                     // multicast, reserved, broadcast
        || (a == 100 && (64..128).contains(&b))         // shared address space (CGNAT)
        || (a == 169 && b == 254)                       // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))          // private
        || (a == 192 && b == 168)                       // private
        || (a == 192 && b == 0 && (c == 0 || c == 2))   // protocol assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99)             // 6to4 relays
        || (a == 198 && (b == 18 || b == 19))           // benchmarking
        || (a == 198 && b == 51 && c == 100)            // TEST-NET-2
        || (a == 203 && b == 0 && c == 113); // TEST-NET-3
    !special
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = address.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(v4(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return is_public_v4(v4(s[1], s[2])); // 6to4
    }
    // Only global unicast (2000::/3) is public, less documentation and Teredo (which tunnels to
    // an IPv4 address): this leaves out ::, ::1, fc00::/7, fe80::/10, ff00::/8 and the rest.
    let global_unicast = s[0] & 0xe000 == 0x2000;
    global_unicast && !(s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> bool {
        parse_url(raw, Targets::PublicOnly).is_err()
    }

    #[test]
    fn urls_to_non_public_addresses_in_any_notation_are_refused() {
        for raw in [
            "http://127.0.0.1/hook",
            "http://127.1.2.3:8080/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://0/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://192.0.2.1/",
            "http://[2001:db8::1]/",
        ] {
            assert!(refused(raw), "{raw}");
            assert!(
                parse_url(raw, Targets::Any).is_ok(),
                "allowed when private targets are: {raw}"
            );
        }
    }

    #[test]
    fn urls_to_public_hosts_are_accepted() {
        for raw in [
            "https://hooks.example.com/rapport",
            "http://93.184.215.14:8080/x?y=1",
            "http://[2606:4700::1111]/",
            "http://[::ffff:93.184.215.14]/",
            "https://localhost.example.com/",
        ] {
            assert!(!refused(raw), "{raw}");
        }
    }

    #[test]
    fn urls_with_credentials_are_refused_even_to_private_targets() {
        for raw in [
            "https://user:secret@hooks.example.com/",
            "https://user@hooks.example.com/",
        ] {
            let error = parse_url(raw, Targets::Any).unwrap_err().0;
            assert!(error.contains("user name or password"), "{error}");
            assert!(!error.contains("secret@"), "the message does not repeat them: {error}");
        }
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        for raw in ["ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http://"] {
            assert!(parse_url(raw, Targets::Any).is_err(), "{raw}");
        }
    }

    #[test]
    fn redacted_urls_keep_everything_but_the_credentials() {
        assert_eq!(
            redact("https://user:secret@hooks.example.com:8443/x?y=1"),
            "https://hooks.example.com:8443/x?y=1"
        );
        assert_eq!(redact("https://hooks.example.com/x"), "https://hooks.example.com/x");
        assert_eq!(redact("not a url"), "(not a valid URL)");
    }

    #[test]
    fn ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it() {
        let public: IpAddr = "::ffff:8.8.8.8".parse().unwrap();
        assert!(is_public(public));
        assert!(!is_public("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!is_public("::127.0.0.1".parse().unwrap()), "IPv4-compatible");
        assert!(is_public("64:ff9b::808:808".parse().unwrap()));
        assert!(
            !is_public("2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap()),
            "Teredo"
        );
    }
}
