//! The SSRF guard: a webhook target must be an http(s) URL whose every address is public.
//!
//! Subscribers choose the URL the service POSTs to, so without this guard anyone could make it
//! reach loopback, the private network or a cloud metadata endpoint. The URL's form is checked
//! when the subscription is made and again at each delivery; the host is resolved at each
//! delivery (DNS answers change) and [`webhook`](super::webhook) connects to exactly the
//! address checked here, so a second, different DNS answer cannot slip in between.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use ipnet::IpNet;

/// Why a webhook target is refused. The message is shown to the subscriber as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Refuses non-public addresses unless an explicit allowlist (`[notify]
/// allow_internal_targets`) permits them.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    pub allow: Vec<ipnet::IpNet>,
}

/// Ranges that are not the public internet (RFC 6890 and friends), with what they are.
/// IPv6 ranges that embed an IPv4 address are handled by [`embedded_v4`] first, so
/// `::ffff:10.0.0.1` is judged as `10.0.0.1`.
const BLOCKED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "a \"this network\" address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol assignment address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a 6to4 relay anycast address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("100::/64", "a discard-only address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    // Teredo carries the client's IPv4 address obfuscated; nothing legitimate needs it here.
    ("2001::/32", "a Teredo tunnel address"),
    ("2001:2::/48", "a benchmarking address"),
    ("2001:db8::/32", "a documentation address"),
    ("fc00::/7", "a unique-local address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
];

/// [`BLOCKED`], parsed once.
static BLOCKED_NETS: LazyLock<Vec<(IpNet, &str)>> = LazyLock::new(|| {
    BLOCKED
        .iter()
        .map(|(net, what)| (net.parse().expect("the table holds valid CIDRs"), *what))
        .collect()
});

/// A refused range: what it is and its network, for the message.
struct Blocked {
    what: String,
    net: String,
}

impl Blocked {
    fn new(what: &str, net: &str) -> Blocked {
        Blocked {
            what: what.into(),
            net: net.into(),
        }
    }
}

/// The IPv4 address inside an IPv6 address that carries one, and the kind of carrier.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    let nat64: IpNet = "64:ff9b::/96".parse().expect("a valid CIDR");
    if ip.to_ipv4_mapped().is_some() {
        Some((low, "an IPv4-mapped IPv6 address"))
    } else if bits >> 32 == 0xffff_0000 {
        Some((low, "an IPv4-translated IPv6 address"))
    } else if bits >> 32 == 0 && bits > 1 {
        Some((low, "an IPv4-compatible IPv6 address"))
    } else if nat64.contains(&IpAddr::V6(ip)) {
        Some((low, "a NAT64 address"))
    } else if bits >> 112 == 0x2002 {
        // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16 to 48.
        Some((Ipv4Addr::from((bits >> 80) as u32), "a 6to4 address"))
    } else {
        None
    }
}

fn blocked(ip: IpAddr) -> Option<Blocked> {
    // Named before their ranges so the message says what they really are.
    match ip {
        IpAddr::V4(Ipv4Addr::BROADCAST) => {
            return Some(Blocked::new("the broadcast address", "255.255.255.255/32"))
        }
        IpAddr::V4(Ipv4Addr::UNSPECIFIED) => {
            return Some(Blocked::new("the unspecified address", "0.0.0.0/32"))
        }
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(169, 254, 169, 254) => {
            let what = "the cloud metadata service's link-local address";
            return Some(Blocked::new(what, "169.254.0.0/16"));
        }
        IpAddr::V6(v6) => {
            if let Some((v4, carrier)) = embedded_v4(v6) {
                let inner = blocked(IpAddr::V4(v4))?;
                let what = format!("{carrier} embedding {}", inner.what);
                return Some(Blocked {
                    what,
                    net: inner.net,
                });
            }
        }
        IpAddr::V4(_) => {}
    }
    let (net, what) = BLOCKED_NETS.iter().find(|(net, _)| net.contains(&ip))?;
    Some(Blocked::new(what, &net.to_string()))
}

/// The URL as shown in messages: no credentials, query or fragment (they may hold tokens),
/// and a long path clipped.
fn shown(url: &reqwest::Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path: String = url.path().chars().take(60).collect();
    let (scheme, host) = (url.scheme(), url.host_str().unwrap_or(""));
    format!("{scheme}://{host}{port}{path}")
}

/// The host as an address when it is a literal one (the URL parser has already normalised
/// forms like `0x7f.1` or `2130706433` to dotted IPv4), else `None` for a name.
fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

const ONLY_PUBLIC: &str = "only public addresses are allowed";

impl AddressGuard {
    pub fn new(allow: Vec<ipnet::IpNet>) -> Self {
        AddressGuard { allow }
    }

    /// Whether the allowlist admits `ip`; an IPv4-mapped address is the same host as its
    /// IPv4 address, so a `127.0.0.0/8` entry admits `::ffff:127.0.0.1` too.
    fn allowed(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
    }

    fn refused(&self, ip: IpAddr) -> Option<Blocked> {
        if self.allowed(ip) {
            None
        } else {
            blocked(ip)
        }
    }

    /// Checks one address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match self.refused(ip) {
            None => Ok(()),
            Some(Blocked { what, net }) => {
                Err(Refusal(format!("{ip} is {what} ({net}); {ONLY_PUBLIC}")))
            }
        }
    }

    /// Parses and checks a webhook URL's form (http(s), host, no credentials) without DNS.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, Refusal> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            let clipped: String = url.chars().take(80).collect();
            Refusal(format!("webhook URL `{clipped}` is not a valid URL ({e})"))
        })?;
        let (at, scheme) = (shown(&parsed), parsed.scheme());
        let refuse = |why: String| Err(Refusal(format!("webhook URL {at} {why}")));
        if !matches!(scheme, "http" | "https") {
            return refuse(format!(
                "uses the `{scheme}` scheme; only http and https are allowed"
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return refuse("has no host".into());
        }
        // Credentials in a URL end up stored and logged in clear; the shown URL omits them.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return refuse(
                "contains credentials (user:password@); credentials in URLs are not allowed".into(),
            );
        }
        if let Some(Blocked { what, net }) = literal_ip(&parsed).and_then(|ip| self.refused(ip)) {
            return refuse(format!("points to {what} ({net}); {ONLY_PUBLIC}"));
        }
        Ok(parsed)
    }

    /// Resolves the URL's host and checks every address; returns the one to connect to.
    pub async fn resolve(&self, url: &reqwest::Url) -> Result<SocketAddr, Refusal> {
        // The form is checked again so that no caller can skip it.
        let url = self.check_url(url.as_str())?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refusal(format!("webhook URL {} has no port", shown(&url))))?;
        if let Some(ip) = literal_ip(&url) {
            return Ok(SocketAddr::new(ip, port));
        }
        let (at, host) = (shown(&url), url.host_str().unwrap_or_default());
        let refuse = |why: String| Refusal(format!("webhook URL {at}: {why}"));
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| refuse(format!("could not resolve {host} ({e})")))?
            .collect();
        // Every answer is checked, not only the one used: a name answering both a public and a
        // private address must not be accepted because the public one came first this time.
        for ip in addrs.iter().map(SocketAddr::ip) {
            if let Some(Blocked { what, net }) = self.refused(ip) {
                let why = format!("{host} resolves to {ip}, {what} ({net}); {ONLY_PUBLIC}");
                return Err(refuse(why));
            }
        }
        let first = addrs.first().copied();
        first.ok_or_else(|| refuse(format!("{host} resolves to no address")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refused addresses, one a line: the address, then what the refusal must say.
    const REFUSED: &str = "
        127.0.0.1               loopback address (127.0.0.0/8)
        127.255.0.9             loopback
        10.1.2.3                private address (10.0.0.0/8)
        172.16.0.1              private address (172.16.0.0/12)
        172.31.255.255          172.16.0.0/12
        192.168.1.1             private address (192.168.0.0/16)
        169.254.1.1             link-local address (169.254.0.0/16)
        169.254.169.254         the cloud metadata service's link-local address (169.254.0.0/16)
        100.64.0.1              carrier-grade NAT address (100.64.0.0/10)
        0.0.0.0                 the unspecified address
        0.1.2.3                 0.0.0.0/8
        255.255.255.255         the broadcast address
        224.0.0.1               multicast
        239.255.255.250         multicast
        240.0.0.1               reserved address (240.0.0.0/4)
        192.0.2.1               documentation address (192.0.2.0/24)
        198.51.100.7            198.51.100.0/24
        203.0.113.9             203.0.113.0/24
        198.18.0.1              benchmarking address (198.18.0.0/15)
        198.19.255.1            198.18.0.0/15
        192.0.0.8               192.0.0.0/24
        ::                      the unspecified address (::/128)
        ::1                     loopback address (::1/128)
        fe80::1                 link-local address (fe80::/10)
        fc00::1                 unique-local address (fc00::/7)
        fd12:3456::1            unique-local
        fec0::1                 site-local address (fec0::/10)
        ff02::1                 multicast address (ff00::/8)
        2001:db8::1             documentation
        ::ffff:127.0.0.1        IPv4-mapped IPv6 address embedding a loopback address (127.0.0.0/8)
        ::ffff:169.254.169.254  IPv4-mapped IPv6 address embedding the cloud metadata
        ::ffff:10.0.0.1         10.0.0.0/8
        ::10.0.0.1              IPv4-compatible IPv6 address embedding a private address
        ::ffff:0:192.168.0.1    IPv4-translated
        64:ff9b::10.0.0.1       NAT64 address embedding a private address (10.0.0.0/8)
        64:ff9b::127.0.0.1      NAT64
        64:ff9b:1::1            local-use NAT64
        2002:c0a8:0101::1       6to4 address embedding a private address (192.168.0.0/16)
        2002:7f00:1::           6to4 address embedding a loopback
        2001::1                 Teredo";

    const ALLOWED: &str = "1.1.1.1 8.8.8.8 93.184.215.14 172.32.0.1 100.128.0.1 192.169.0.1
        198.20.0.1 223.255.255.255 2606:4700:4700::1111 2a00:1450:4001:80b::200e ::ffff:8.8.8.8
        64:ff9b::8.8.8.8 2002:0808:0808::1";

    #[test]
    fn non_public_addresses_are_refused_with_their_range() {
        let guard = AddressGuard::default();
        for line in REFUSED.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (ip, expected) = line.split_once(' ').unwrap();
            let err = guard.check_ip(ip.parse().unwrap()).expect_err(ip).0;
            assert!(err.contains(expected.trim()), "{ip}: {err}");
            assert!(
                err.ends_with("; only public addresses are allowed"),
                "{err}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        let guard = AddressGuard::default();
        for ip in ALLOWED.split_whitespace() {
            assert_eq!(guard.check_ip(ip.parse().unwrap()), Ok(()), "{ip}");
        }
    }

    #[test]
    fn the_allowlist_admits_only_what_it_contains() {
        let guard = AddressGuard::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ]);
        for ip in ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "fd00::5"] {
            assert_eq!(guard.check_ip(ip.parse().unwrap()), Ok(()), "{ip}");
        }
        for ip in ["10.0.0.1", "::1", "169.254.169.254", "fc00::1"] {
            assert!(guard.check_ip(ip.parse().unwrap()).is_err(), "{ip}");
        }
    }

    #[test]
    fn url_forms_are_checked() {
        let guard = AddressGuard::default();
        let err = |u: &str| guard.check_url(u).expect_err(u).0;
        assert_eq!(
            err("http://10.0.0.1/x"),
            "webhook URL http://10.0.0.1/x points to a private address (10.0.0.0/8); only public addresses are allowed"
        );
        assert!(err("ftp://example.com/").contains("uses the `ftp` scheme; only http and https"));
        assert!(err("file:///etc/passwd").contains("`file` scheme"));
        let creds = err("https://user:hunter2@example.com/hook");
        assert!(
            creds.contains("contains credentials") && !creds.contains("hunter2"),
            "{creds}"
        );
        assert!(err("https://token@example.com/").contains("credentials"));
        assert!(err("not a url").contains("is not a valid URL"));
        assert!(
            err("http://").contains("is not a valid URL (empty host)"),
            "{}",
            err("http://")
        );
        // Numeric spellings of loopback are normalised by the parser and still refused.
        assert!(err("http://2130706433/").contains("127.0.0.0/8"));
        assert!(err("http://0x7f.1/").contains("loopback"));
        assert!(err("http://[::ffff:127.0.0.1]:8080/").contains("IPv4-mapped"));
        assert!(
            err("http://169.254.169.254/latest/meta-data?token=s3cret").contains("cloud metadata")
        );
        assert!(!err("http://10.0.0.1/x?token=s3cret").contains("s3cret"));
        let ok = guard
            .check_url("https://hooks.example.com/services/T1/B2?x=1")
            .unwrap();
        assert_eq!(ok.host_str(), Some("hooks.example.com"));
        assert!(guard.check_url("http://8.8.8.8:8080/hook").is_ok());
    }

    #[tokio::test]
    async fn resolution_checks_every_address_and_pins_one() {
        let guard = AddressGuard::default();
        let url = guard.check_url("http://8.8.8.8/hook").unwrap();
        assert_eq!(
            guard.resolve(&url).await.unwrap(),
            "8.8.8.8:80".parse().unwrap()
        );
        let url = guard.check_url("https://[2606:4700:4700::1111]/").unwrap();
        assert_eq!(guard.resolve(&url).await.unwrap().port(), 443);
        // `localhost` resolves locally (no traffic) to loopback only.
        let url = guard.check_url("http://localhost:9/").unwrap();
        let refusal = guard.resolve(&url).await.unwrap_err().0;
        assert!(
            refusal.contains("loopback") && refusal.contains("localhost resolves to"),
            "{refusal}"
        );
        let open = AddressGuard::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        let addr = open.resolve(&url).await.unwrap();
        assert!(addr.ip().is_loopback() && addr.port() == 9);
    }
}
