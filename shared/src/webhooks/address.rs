//! Where a webhook may go (SPEC §7): the URL rules checked at registration, and the address
//! classifier that the dispatcher applies again to every address a host resolves to, so a
//! subscription cannot make the service call into its own network (server-side request
//! forgery).
//!
//! Refused, beyond SPEC's list (loopback, RFC 1918, `fc00::/7`, link-local, unspecified,
//! multicast), is every address the IANA special-purpose registries (RFC 6890 and its updates)
//! mark as not globally reachable: `0.0.0.0/8`, shared address space (CGNAT), the IETF
//! protocol assignments, documentation and benchmarking ranges, reserved and broadcast IPv4,
//! and every IPv6 address outside global unicast `2000::/3`. A receiver on the Internet never
//! has one of these; a service inside a provider's network may. IPv6 forms that carry an IPv4
//! address (IPv4-mapped, NAT64, 6to4) are judged by that IPv4 address; the deprecated
//! IPv4-compatible form is refused whole. `CRM_WEBHOOK_ALLOW_PRIVATE` lifts the address and
//! name rules at once (`crm serve`, where receivers are on loopback).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// SPEC §7: a URL of at most this many characters.
pub const MAX_URL_CHARS: usize = 2048;

/// What a deployment allows beyond SPEC's strict rules. The default allows nothing more (the
/// cloud's setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// `CRM_WEBHOOK_ALLOW_HTTP`: plain `http://` URLs.
    pub allow_http: bool,
    /// `CRM_WEBHOOK_ALLOW_PRIVATE`: any address and any host name.
    pub allow_private: bool,
}

impl From<&crate::config::WebhookSettings> for AddressPolicy {
    /// The deployment's `CRM_WEBHOOK_ALLOW_HTTP` and `CRM_WEBHOOK_ALLOW_PRIVATE`.
    fn from(s: &crate::config::WebhookSettings) -> Self {
        Self {
            allow_http: s.allow_http,
            allow_private: s.allow_private,
        }
    }
}

/// Why an address is no place for a webhook: its class and the range it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub class: Class,
    /// The refused range, as CIDR.
    pub range: &'static str,
    /// The document that sets the range aside.
    pub reference: &'static str,
    /// For an IPv6 address judged by the IPv4 address inside it: that form.
    pub embedded_in: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Unspecified,
    Loopback,
    Private,
    /// Shared address space (carrier-grade NAT), RFC 6598.
    Shared,
    LinkLocal,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    /// Reserved, deprecated or special-purpose: never a receiver's address.
    Reserved,
}

impl Class {
    fn describe(self) -> &'static str {
        match self {
            Class::Unspecified => "an unspecified",
            Class::Loopback => "a loopback",
            Class::Private => "a private",
            Class::Shared => "a shared (carrier-grade NAT)",
            Class::LinkLocal => "a link-local",
            Class::Multicast => "a multicast",
            Class::Broadcast => "a broadcast",
            Class::Documentation => "a documentation",
            Class::Benchmarking => "a benchmarking",
            Class::Reserved => "a reserved",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} address ({}, {})",
            self.class.describe(),
            self.range,
            self.reference
        )?;
        if let Some(form) = self.embedded_in {
            write!(f, " in {form}")?;
        }
        Ok(())
    }
}

type V4Range = (Ipv4Addr, u8, Class, &'static str, &'static str);
type V6Range = (Ipv6Addr, u8, Class, &'static str, &'static str);

/// IPv4 ranges refused, first match wins (IANA IPv4 Special-Purpose Address Registry).
#[rustfmt::skip]
const V4_REFUSED: &[V4Range] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, Class::Unspecified, "0.0.0.0/8", "RFC 1122 §3.2.1.3"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, Class::Private, "10.0.0.0/8", "RFC 1918"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, Class::Shared, "100.64.0.0/10", "RFC 6598"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Class::Loopback, "127.0.0.0/8", "RFC 1122 §3.2.1.3"),
    // The instance metadata service (169.254.169.254) is here.
    (Ipv4Addr::new(169, 254, 0, 0), 16, Class::LinkLocal, "169.254.0.0/16", "RFC 3927"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, Class::Private, "172.16.0.0/12", "RFC 1918"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, Class::Reserved, "192.0.0.0/24", "RFC 6890"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, Class::Documentation, "192.0.2.0/24", "RFC 5737"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, Class::Reserved, "192.88.99.0/24", "RFC 7526"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, Class::Private, "192.168.0.0/16", "RFC 1918"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, Class::Benchmarking, "198.18.0.0/15", "RFC 2544"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, Class::Documentation, "198.51.100.0/24", "RFC 5737"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, Class::Documentation, "203.0.113.0/24", "RFC 5737"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Class::Multicast, "224.0.0.0/4", "RFC 5771"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, Class::Broadcast, "255.255.255.255/32", "RFC 919"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, Class::Reserved, "240.0.0.0/4", "RFC 1112 §4"),
];

/// IPv6 ranges refused, first match wins (IANA IPv6 Special-Purpose Address Registry), after
/// the forms that carry an IPv4 address are judged by it. Everything outside `2000::/3` is
/// refused after these, as not global unicast.
#[rustfmt::skip]
const V6_REFUSED: &[V6Range] = &[
    (Ipv6Addr::UNSPECIFIED, 128, Class::Unspecified, "::/128", "RFC 4291 §2.5.2"),
    (Ipv6Addr::LOCALHOST, 128, Class::Loopback, "::1/128", "RFC 4291 §2.5.3"),
    // IPv4-compatible addresses, deprecated (RFC 4291 §2.5.5.1).
    (Ipv6Addr::UNSPECIFIED, 96, Class::Reserved, "::/96", "RFC 4291 §2.5.5.1"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, Class::Private, "64:ff9b:1::/48", "RFC 8215"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, Class::Reserved, "100::/64", "RFC 6666"),
    // IETF protocol assignments, Teredo (2001::/32, RFC 4380) among them.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, Class::Reserved, "2001::/23", "RFC 2928"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, Class::Documentation, "2001:db8::/32", "RFC 3849"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, Class::Documentation, "3fff::/20", "RFC 9637"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, Class::Private, "fc00::/7", "RFC 4193"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, Class::LinkLocal, "fe80::/10", "RFC 4291 §2.5.6"),
    // Site-local, deprecated (RFC 3879): private in practice.
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, Class::Private, "fec0::/10", "RFC 3879"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, Class::Multicast, "ff00::/8", "RFC 4291 §2.7"),
];

const NOT_GLOBAL_UNICAST: Refused = Refused {
    class: Class::Reserved,
    range: "outside 2000::/3",
    reference: "RFC 4291 §2.4",
    embedded_in: None,
};

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refused> {
    V4_REFUSED
        .iter()
        .find(|(net, len, ..)| in_v4(ip, *net, *len))
        .map(|&(_, _, class, range, reference)| Refused {
            class,
            range,
            reference,
            embedded_in: None,
        })
}

/// The IPv4 address an IPv6 address stands for, with the form's name.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some((
            v4,
            "its IPv4-mapped form (::ffff:0:0/96, RFC 4291 §2.5.5.2)",
        ));
    }
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            Some((v4(hi, lo), "its NAT64 form (64:ff9b::/96, RFC 6052)"))
        }
        [0x2002, hi, lo, ..] => Some((v4(hi, lo), "its 6to4 form (2002::/16, RFC 3056)")),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refused> {
    if let Some((v4, form)) = embedded_v4(ip) {
        return classify_v4(v4).map(|r| Refused {
            embedded_in: Some(form),
            ..r
        });
    }
    let listed = V6_REFUSED
        .iter()
        .find(|(net, len, ..)| in_v6(ip, *net, *len))
        .map(|&(_, _, class, range, reference)| Refused {
            class,
            range,
            reference,
            embedded_in: None,
        });
    match listed {
        Some(r) => Some(r),
        None if in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) => None,
        None => Some(NOT_GLOBAL_UNICAST),
    }
}

/// Why `ip` may not receive a webhook, or `None` when it is a public unicast address.
pub fn classify(ip: IpAddr) -> Option<Refused> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The delivery-time check of one resolved address under `policy`.
pub fn check(ip: IpAddr, policy: AddressPolicy) -> Result<(), Refused> {
    match classify(ip) {
        Some(refused) if !policy.allow_private => Err(refused),
        _ => Ok(()),
    }
}

/// Names that only ever lead into the local network, refused at registration unless private
/// addresses are allowed (the resolved addresses are checked at delivery in any case).
fn local_name(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let under = |zone: &str| host == zone || host.ends_with(&format!(".{zone}"));
    if under("localhost") {
        Some("localhost (RFC 6761 §6.3)")
    } else if under("local") {
        Some("a multicast DNS name (.local, RFC 6762)")
    } else if under("home.arpa") {
        Some("a home network name (.home.arpa, RFC 8375)")
    } else if under("internal") {
        Some("a private-use name (.internal)")
    } else if !host.contains('.') {
        Some("a single-label name (resolved through the local search domains)")
    } else {
        None
    }
}

/// Why a URL was refused at registration; the message is the 400's (field `url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url must be at most {MAX_URL_CHARS} characters.")]
    TooLong,
    #[error("url must not contain spaces or control characters.")]
    Whitespace,
    #[error("url must be an absolute URL ({0}).")]
    Malformed(url::ParseError),
    #[error("url must be an https URL.")]
    NotHttps,
    #[error("url must be an http or https URL.")]
    NotHttp,
    #[error("url must not contain a user name or password.")]
    Userinfo,
    #[error("url must name a host.")]
    NoHost,
    #[error("url must not use port 0.")]
    PortZero,
    #[error("url must not point to {0}.")]
    LocalName(&'static str),
    #[error("url must not point to {0}.")]
    Address(Refused),
}

/// A subscription's URL that passed SPEC §7's rules, normalized (WHATWG URL parsing: a host
/// written as `0x7f.1` or `%31%32%37.0.0.1` is the IPv4 address `127.0.0.1` here, and is
/// judged as one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// Checks `input` against SPEC §7 under `policy`: absolute, at most 2048 characters, no
    /// userinfo, `https` (or `http` where allowed), and a host that is not a refused address
    /// literal or a local name (unless private addresses are allowed).
    pub fn parse(input: &str, policy: AddressPolicy) -> Result<Self, UrlError> {
        if input.chars().count() > MAX_URL_CHARS {
            return Err(UrlError::TooLong);
        }
        // The URL parser would silently drop tabs and line breaks, and trim spaces.
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Whitespace);
        }
        let url = Url::parse(input).map_err(UrlError::Malformed)?;
        match (url.scheme(), policy.allow_http) {
            ("https", _) | ("http", true) => {}
            (_, false) => return Err(UrlError::NotHttps),
            (_, true) => return Err(UrlError::NotHttp),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Userinfo);
        }
        if url.port() == Some(0) {
            return Err(UrlError::PortZero);
        }
        match url.host() {
            None => return Err(UrlError::NoHost),
            Some(Host::Domain(name)) => {
                if let Some(why) = local_name(name).filter(|_| !policy.allow_private) {
                    return Err(UrlError::LocalName(why));
                }
            }
            Some(Host::Ipv4(ip)) => check(IpAddr::V4(ip), policy).map_err(UrlError::Address)?,
            Some(Host::Ipv6(ip)) => check(IpAddr::V6(ip), policy).map_err(UrlError::Address)?,
        }
        // Normalizing may lengthen it (percent-encoding, punycode).
        if url.as_str().chars().count() > MAX_URL_CHARS {
            return Err(UrlError::TooLong);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The host: a name to resolve, or an address.
    pub fn host(&self) -> Host<&str> {
        match self.0.host() {
            Some(host) => host,
            // Unreachable: parse refuses a URL without a host.
            None => Host::Domain(""),
        }
    }

    /// The port, the scheme's default when none is written.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// The `Host` header's value (RFC 9110 §7.2): the host, and the port when one is written.
    pub fn authority(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        match self.0.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The request target in origin form (RFC 9112 §3.2.1): path and query, no fragment.
    pub fn request_target(&self) -> &str {
        &self.0[url::Position::BeforePath..url::Position::AfterQuery]
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_http: false,
        allow_private: false,
    };
    const LOCAL: AddressPolicy = AddressPolicy {
        allow_http: true,
        allow_private: true,
    };

    fn class_of(ip: &str) -> Option<Class> {
        classify(ip.parse().unwrap()).map(|r| r.class)
    }

    #[test]
    fn ipv4_addresses_are_classified_by_the_special_purpose_registry() {
        use Class::*;
        let table: &[(&str, Option<Class>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("100.63.255.255", None),
            ("100.64.0.1", Some(Shared)),
            ("100.127.255.255", Some(Shared)),
            ("100.128.0.0", None),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.170.2", Some(LinkLocal)),
            ("169.253.255.255", None),
            ("172.15.255.255", None),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.0", None),
            ("192.0.0.170", Some(Reserved)),
            ("192.0.2.1", Some(Documentation)),
            ("192.88.99.1", Some(Reserved)),
            ("192.168.1.1", Some(Private)),
            ("192.169.0.1", None),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("198.20.0.0", None),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.254", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("52.94.236.248", None),
            ("223.255.255.255", None),
        ];
        for (ip, want) in table {
            assert_eq!(class_of(ip), *want, "{ip}");
        }
    }

    #[test]
    fn ipv6_addresses_are_classified_and_ipv4_forms_by_their_ipv4_address() {
        use Class::*;
        let table: &[(&str, Option<Class>)] = &[
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            // IPv4-mapped: judged by the IPv4 address.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:172.16.0.1", Some(Private)),
            ("::ffff:192.168.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            // IPv4-compatible (deprecated): refused whatever the address.
            ("::10.0.0.1", Some(Reserved)),
            ("::8.8.8.8", Some(Reserved)),
            // IPv4-translated (RFC 2765): outside global unicast.
            ("::ffff:0:8.8.8.8", Some(Reserved)),
            // NAT64, well-known prefix: judged by the IPv4 address; local-use prefix: refused.
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("64:ff9b::169.254.169.254", Some(LinkLocal)),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::8.8.8.8", Some(Private)),
            // 6to4: judged by the IPv4 address in bits 16..48.
            ("2002:a00:1::1", Some(Private)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:a9fe:a9fe::1", Some(LinkLocal)),
            ("2002:808:808::1", None),
            ("100::1", Some(Reserved)),
            ("2001::1", Some(Reserved)),
            ("2001:1ff:ffff::1", Some(Reserved)),
            ("2001:200::1", None),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("3fff:1000::1", None),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("4000::1", Some(Reserved)),
            ("5f00::1", Some(Reserved)),
            ("1fff::1", Some(Reserved)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (ip, want) in table {
            assert_eq!(class_of(ip), *want, "{ip}");
        }
    }

    #[test]
    fn a_refusal_names_the_range_and_its_source() {
        let shown = |ip: &str| classify(ip.parse().unwrap()).unwrap().to_string();
        assert_eq!(
            shown("169.254.169.254"),
            "a link-local address (169.254.0.0/16, RFC 3927)"
        );
        assert_eq!(
            shown("::ffff:10.0.0.1"),
            "a private address (10.0.0.0/8, RFC 1918) in its IPv4-mapped form (::ffff:0:0/96, RFC 4291 §2.5.5.2)"
        );
        assert_eq!(
            shown("::1"),
            "a loopback address (::1/128, RFC 4291 §2.5.3)"
        );
    }

    #[test]
    fn allowing_private_addresses_lifts_the_address_check() {
        for ip in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "169.254.169.254",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(check(ip, STRICT).is_err(), "{ip}");
            assert!(check(ip, LOCAL).is_ok(), "{ip}");
        }
        assert!(check("8.8.8.8".parse().unwrap(), STRICT).is_ok());
    }

    #[test]
    fn urls_are_checked_against_the_registration_rules() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        let just = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS - 20));
        #[rustfmt::skip]
        let table: &[(&str, AddressPolicy, Result<&str, UrlError>)] = &[
            ("https://hooks.example.com/crm", STRICT, Ok("https://hooks.example.com/crm")),
            ("HTTPS://Hooks.Example.COM:8443/a?b=c", STRICT, Ok("https://hooks.example.com:8443/a?b=c")),
            ("https://8.8.8.8/x", STRICT, Ok("https://8.8.8.8/x")),
            ("https://[2606:4700:4700::1111]/", STRICT, Ok("https://[2606:4700:4700::1111]/")),
            (&just, STRICT, Ok(&just)),
            (&long, STRICT, Err(UrlError::TooLong)),
            ("/relative", STRICT, Err(UrlError::Malformed(url::ParseError::RelativeUrlWithoutBase))),
            ("not a url", STRICT, Err(UrlError::Whitespace)),
            ("https://exa\tmple.com/", STRICT, Err(UrlError::Whitespace)),
            (" https://example.com/", STRICT, Err(UrlError::Whitespace)),
            ("http://example.com/", STRICT, Err(UrlError::NotHttps)),
            ("http://example.com/", LOCAL, Ok("http://example.com/")),
            ("ftp://example.com/", STRICT, Err(UrlError::NotHttps)),
            ("ftp://example.com/", LOCAL, Err(UrlError::NotHttp)),
            ("mailto:a@example.com", LOCAL, Err(UrlError::NotHttp)),
            ("https://user@example.com/", STRICT, Err(UrlError::Userinfo)),
            ("https://user:pw@example.com/", LOCAL, Err(UrlError::Userinfo)),
            ("https://:pw@example.com/", STRICT, Err(UrlError::Userinfo)),
            ("https://example.com:0/", STRICT, Err(UrlError::PortZero)),
            ("https://localhost/", STRICT, Err(UrlError::LocalName("localhost (RFC 6761 §6.3)"))),
            ("https://LOCALHOST./", STRICT, Err(UrlError::LocalName("localhost (RFC 6761 §6.3)"))),
            ("https://api.localhost/", STRICT, Err(UrlError::LocalName("localhost (RFC 6761 §6.3)"))),
            ("http://localhost:3000/hook", LOCAL, Ok("http://localhost:3000/hook")),
            ("https://printer.local/", STRICT, Err(UrlError::LocalName("a multicast DNS name (.local, RFC 6762)"))),
            ("https://nas.home.arpa/", STRICT, Err(UrlError::LocalName("a home network name (.home.arpa, RFC 8375)"))),
            ("https://metadata.google.internal/", STRICT, Err(UrlError::LocalName("a private-use name (.internal)"))),
            ("https://intranet/", STRICT, Err(UrlError::LocalName("a single-label name (resolved through the local search domains)"))),
        ];
        for (input, policy, want) in table {
            let got = WebhookUrl::parse(input, *policy);
            let got = got.as_ref().map(WebhookUrl::as_str).map_err(Clone::clone);
            assert_eq!(got, want.clone(), "{input}");
        }
    }

    #[test]
    fn address_literals_are_refused_in_every_spelling() {
        let refused = [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://%31%32%37.0.0.1/",
            "https://0.0.0.0/",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.0.1:8443/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[ff02::1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::]/",
        ];
        for input in refused {
            match WebhookUrl::parse(input, STRICT) {
                Err(UrlError::Address(_)) => {}
                other => panic!("{input}: {other:?}"),
            }
            let local = AddressPolicy {
                allow_http: false,
                allow_private: true,
            };
            assert!(
                WebhookUrl::parse(input, local).is_ok(),
                "{input} with private allowed"
            );
        }
    }

    #[test]
    fn a_refused_url_says_why() {
        // As the API answers it: a 400 on the `url` field with this text (error/mapping.rs).
        let err = WebhookUrl::parse("https://169.254.169.254/", STRICT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "url must not point to a link-local address (169.254.0.0/16, RFC 3927)."
        );
    }

    #[test]
    fn the_parts_the_dispatcher_needs() {
        let url = WebhookUrl::parse("https://Hooks.Example.com/in/crm?x=1#frag", STRICT).unwrap();
        assert!(url.is_https());
        assert_eq!(url.host(), Host::Domain("hooks.example.com"));
        assert_eq!(url.port(), 443);
        assert_eq!(url.authority(), "hooks.example.com");
        assert_eq!(url.request_target(), "/in/crm?x=1");

        let url = WebhookUrl::parse("http://[::1]:8080", LOCAL).unwrap();
        assert!(!url.is_https());
        assert_eq!(url.host(), Host::<&str>::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(url.port(), 8080);
        assert_eq!(url.authority(), "[::1]:8080");
        assert_eq!(url.request_target(), "/");
    }
}
