//! Where deliveries may go: the guard against server-side request forgery.
//!
//! A webhook URL is chosen by a partner, and the server POSTs to it from
//! inside the shop's network. Unless [`Targets::Any`] is configured
//! (`EMPORIUM_WEBHOOK_ALLOW_PRIVATE=true`, for development and tests), a
//! delivery must not reach an address that is not on the public internet:
//! loopback, private (RFC 1918, `fc00::/7`), link-local (`169.254.0.0/16`
//! with the cloud metadata endpoint, `fe80::/10`), unspecified, "this
//! network" (`0.0.0.0/8`), multicast, broadcast, carrier-grade NAT
//! (`100.64.0.0/10`), benchmarking (`198.18.0.0/15`), reserved
//! (`240.0.0.0/4`), documentation and IETF protocol ranges, site-local
//! (`fec0::/10`), discard-only (`100::/64`), documentation (`2001:db8::/32`),
//! or an IPv6 address that embeds an IPv4 one that is any of these: mapped
//! (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`; the
//! local-use `64:ff9b:1::/48` is refused outright) and 6to4 (`2002::/16`)
//! ([`refusal`]). Teredo (`2001::/32`) is refused outright: it tunnels to
//! addresses the guard cannot see.
//!
//! The guard holds twice:
//!
//! - when a subscription is created or its URL changed, a host that is an
//!   IP literal or a `localhost` name is refused ([`check_host`]); other
//!   names are not resolved then (their answers can change);
//! - when a delivery is sent, the name is resolved by [`GuardedResolver`],
//!   which keeps only public answers, and the connection goes to one of
//!   those, so a name that resolves to a private address (or is rebound to
//!   one after the subscription was created) is refused. IP literals never
//!   reach a resolver: the worker checks them with [`check_literal`] before
//!   sending.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// Which delivery targets are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Only hosts on the public internet (the default).
    Public,
    /// Any host, private networks and loopback included
    /// (`EMPORIUM_WEBHOOK_ALLOW_PRIVATE=true`).
    Any,
}

impl Targets {
    /// The policy of the `EMPORIUM_WEBHOOK_ALLOW_PRIVATE` setting.
    pub fn allowing_private(allow: bool) -> Self {
        if allow { Self::Any } else { Self::Public }
    }
}

/// A delivery target the guard refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host as written in the URL.
    pub host: String,
    /// The address refused, when it is one.
    pub ip: Option<IpAddr>,
    /// What kind of address it is (`loopback`, `private`, ...).
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            Some(ip) if self.host.trim_matches(['[', ']']).parse::<IpAddr>().ok() == Some(ip) => {
                write!(
                    f,
                    "refused: {ip} is a {} address, not a public one",
                    self.kind
                )
            }
            Some(ip) => write!(
                f,
                "refused: {} resolves to {ip}, a {} address, not a public one",
                self.host, self.kind
            ),
            None => write!(
                f,
                "refused: {} is a {} name, not a public host",
                self.host, self.kind
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// Why `ip` is not a public address (`None` when it is one).
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => refusal_v4(v4),
            None => refusal_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one stands for, when it embeds one whose
/// traffic ends up there: IPv4-mapped, IPv4-compatible (`::a.b.c.d`, but
/// not `::` or `::1`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return Some(low);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (64..128).contains(&b) {
        "carrier-grade NAT"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_multicast() {
        "multicast"
    } else if a == 198 && (18..20).contains(&b) {
        "benchmarking"
    } else if a >= 240 {
        "reserved"
    } else if (a, b, c) == (192, 0, 0) {
        "IETF protocol"
    } else if matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113)) {
        "documentation"
    } else {
        return None;
    })
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xfe00 == 0xfc00 {
        "private"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if first & 0xffc0 == 0xfec0 {
        "site-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.segments()[..3] == [0x64, 0xff9b, 1] {
        "local NAT64"
    } else if ip.segments()[..4] == [0x100, 0, 0, 0] {
        "discard-only"
    } else if ip.segments()[..2] == [0x2001, 0] {
        "Teredo"
    } else if ip.segments()[..2] == [0x2001, 0xdb8] {
        "documentation"
    } else {
        return None;
    })
}

/// Checks what can be checked without resolving, when a URL is set: an
/// IP-literal host must be public ([`check_literal`]), and a `localhost`
/// name (RFC 6761: it and its subdomains are loopback) is refused. Other
/// names pass; [`GuardedResolver`] checks their answers at delivery.
pub fn check_host(url: &Url, targets: Targets) -> Result<(), Refused> {
    check_literal(url, targets)?;
    let host = url.host_str().unwrap_or_default();
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if targets == Targets::Public && (name == "localhost" || name.ends_with(".localhost")) {
        return Err(Refused {
            host: host.to_owned(),
            ip: None,
            kind: "loopback",
        });
    }
    Ok(())
}

/// Checks an IP-literal host, which no resolver sees: it must be public.
/// A name passes (the worker's resolver checks it).
pub fn check_literal(url: &Url, targets: Targets) -> Result<(), Refused> {
    if targets == Targets::Any {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    // URL parsing has normalized IP literals (`0x7f.1` is `127.0.0.1`);
    // IPv6 ones keep their brackets.
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    match refusal(ip) {
        Some(kind) => Err(Refused {
            host: host.to_owned(),
            ip: Some(ip),
            kind,
        }),
        None => Ok(()),
    }
}

/// A DNS resolver for reqwest that resolves with the system's resolver
/// (tokio's `lookup_host`) and keeps only public answers; a name with
/// none left fails with [`Refused`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl GuardedResolver {
    /// The public addresses of `host`, or why there are none.
    pub async fn lookup(
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let answers: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut refused = None;
        let public: Vec<SocketAddr> = answers
            .into_iter()
            .filter(|a| match refusal(a.ip()) {
                Some(kind) => {
                    refused.get_or_insert(Refused {
                        host: host.to_owned(),
                        ip: Some(a.ip()),
                        kind,
                    });
                    false
                }
                None => true,
            })
            .collect();
        match (public.is_empty(), refused) {
            (true, Some(refused)) => Err(Box::new(refused)),
            _ => Ok(public),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = Self::lookup(&host).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The guard's refusal behind a failed request, if that is why it failed.
pub fn refused_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn non_public_addresses_are_refused_by_kind() {
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.254", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            // IPv4-compatible, NAT64 and 6to4 addresses embed IPv4 ones.
            ("::127.0.0.1", "loopback"),
            ("::10.0.0.1", "private"),
            ("::169.254.169.254", "link-local"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b::192.168.0.1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("2002:c0a8:101:1::1", "private"),
            ("64:ff9b:1::8.8.8.8", "local NAT64"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("100::1", "discard-only"),
            // IPv4 ranges that are not public either.
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.254", "benchmarking"),
            ("240.0.0.1", "reserved"),
            ("250.1.2.3", "reserved"),
            ("192.0.0.8", "IETF protocol"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.1", "documentation"),
        ] {
            assert_eq!(refusal(ip(addr)), Some(kind), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.1",
            "169.255.0.1",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "192.0.1.1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(refusal(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn ip_literals_and_localhost_are_refused_before_any_lookup() {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        for bad in [
            "http://127.0.0.1:9000/hooks",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
            "http://[2002:7f00:1::]/",
            "http://198.18.0.1/",
            "http://240.0.0.1/",
            "http://localhost:3000/",
            "http://LocalHost./",
            "http://api.localhost/",
            // Other spellings of 127.0.0.1 that URL parsing normalizes.
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let refused = check_host(&url(bad), Targets::Public).err();
            assert!(refused.is_some(), "{bad}");
            let localhost = bad.contains("ocal");
            assert_eq!(
                check_literal(&url(bad), Targets::Public).is_ok(),
                localhost,
                "{bad}"
            );
            assert!(check_host(&url(bad), Targets::Any).is_ok(), "{bad}");
        }
        for ok in [
            "https://partner.example.com/hooks",
            "http://93.184.215.14/",
            "https://[2606:4700:4700::1111]/",
            "https://localhost.example.com/",
        ] {
            assert_eq!(check_host(&url(ok), Targets::Public), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refusals_say_what_was_refused() {
        let r = Refused {
            host: "hooks.example.com".into(),
            ip: Some(ip("10.0.0.5")),
            kind: "private",
        };
        assert_eq!(
            r.to_string(),
            "refused: hooks.example.com resolves to 10.0.0.5, a private address, not a public one"
        );
        let r = Refused {
            host: "[::1]".into(),
            ip: Some(ip("::1")),
            kind: "loopback",
        };
        assert_eq!(
            r.to_string(),
            "refused: ::1 is a loopback address, not a public one"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_only_private_answers() {
        let err = GuardedResolver::lookup("localhost").await.err();
        let refused = err.as_deref().and_then(|e| refused_in(e));
        assert_eq!(
            refused.map(|r| (r.host.as_str(), r.kind)),
            Some(("localhost", "loopback")),
            "{err:?}"
        );
    }
}
