//! Host patterns (`foo.example.com`, `*.example.com`, any) and request-host normalisation.

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

/// Which requests a virtual host answers. Sorts in precedence order: exact, wildcard, any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// One host name, lowercase, no port, no trailing dot.
    Exact(String),
    /// `*.suffix`: matches exactly one extra label in front of `suffix` (stored without `*.`).
    Wildcard(String),
    /// No host: every request whose host no other virtual host claims.
    Any,
}

/// Why a host in an Ingress rule is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// Longer than 253 characters.
    #[error("longer than 253 characters")]
    TooLong,
    /// A label is empty, too long or has characters outside `[a-z0-9-]`.
    #[error(
        "label {0:?} is not a DNS-1123 label (lowercase letters, digits and '-', 1-63 characters, no leading or trailing '-')"
    )]
    InvalidLabel(String),
    /// `*` anywhere but as the whole first label, or a bare `*`.
    #[error(
        "a wildcard must be the whole first label followed by at least one more label, as in *.example.com"
    )]
    InvalidWildcard,
    /// An IP address.
    #[error("an IP address is not allowed as a host; leave the host out to match any host")]
    IpAddress,
    /// Contains a port.
    #[error("a host must not contain a port")]
    HasPort,
}

impl HostPattern {
    /// Parses an Ingress rule host. `None` or empty means [`HostPattern::Any`]. Letters are
    /// lowercased and one trailing dot is dropped.
    pub fn parse(host: Option<&str>) -> Result<Self, HostError> {
        let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Self::Any);
        };
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.len() > 253 {
            return Err(HostError::TooLong);
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(HostError::IpAddress);
        }
        if host.contains(':') {
            return Err(HostError::HasPort);
        }
        let (wildcard, rest) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host.as_str()),
        };
        if rest.is_empty() {
            return Err(HostError::InvalidWildcard);
        }
        for label in rest.split('.') {
            if label.contains('*') {
                return Err(HostError::InvalidWildcard);
            }
            if !is_dns_label(label) {
                return Err(HostError::InvalidLabel(label.to_owned()));
            }
        }
        if wildcard {
            Ok(Self::Wildcard(rest.to_owned()))
        } else {
            Ok(Self::Exact(rest.to_owned()))
        }
    }

    /// Whether a normalised request host (see [`normalize_host`]) matches this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => name == host,
            Self::Wildcard(suffix) => match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == suffix,
                None => false,
            },
            Self::Any => true,
        }
    }

    /// Whether a TLS certificate name (a DNS SAN, possibly `*.x`) covers this pattern.
    pub fn covered_by_certificate_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Exact(host) => match name.strip_prefix("*.") {
                Some(suffix) => {
                    matches!(host.split_once('.'), Some((first, rest)) if !first.is_empty() && rest == suffix)
                }
                None => *host == name,
            },
            Self::Wildcard(suffix) => name.strip_prefix("*.") == Some(suffix.as_str()),
            Self::Any => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
            Self::Any => f.write_str("*"),
        }
    }
}

impl Serialize for HostPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// Normalises a request's `Host` header or `:authority`: lowercase, port and one trailing dot
/// removed (`Foo.Example.com.:8080` becomes `foo.example.com`; `[::1]:80` becomes `[::1]`).
pub fn normalize_host(authority: &str) -> Cow<'_, str> {
    let authority = authority.trim();
    // Drop userinfo, which is not allowed in Host but may appear in an absolute URI.
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        // IPv6 literal: keep the brackets, drop what follows `]`.
        match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(HostPattern::parse(None), Ok(HostPattern::Any));
        assert_eq!(HostPattern::parse(Some("")), Ok(HostPattern::Any));
        assert_eq!(
            HostPattern::parse(Some("Foo.Example.COM.")),
            Ok(HostPattern::Exact("foo.example.com".into()))
        );
        assert_eq!(
            HostPattern::parse(Some("*.example.com")),
            Ok(HostPattern::Wildcard("example.com".into()))
        );
        assert_eq!(
            HostPattern::parse(Some("*")),
            Err(HostError::InvalidWildcard)
        );
        assert_eq!(
            HostPattern::parse(Some("*.")),
            Err(HostError::InvalidWildcard)
        );
        assert_eq!(
            HostPattern::parse(Some("a.*.com")),
            Err(HostError::InvalidWildcard)
        );
        assert_eq!(
            HostPattern::parse(Some("foo*.com")),
            Err(HostError::InvalidWildcard)
        );
        assert_eq!(
            HostPattern::parse(Some("10.0.0.1")),
            Err(HostError::IpAddress)
        );
        assert_eq!(
            HostPattern::parse(Some("a.com:80")),
            Err(HostError::HasPort)
        );
        assert!(matches!(
            HostPattern::parse(Some("a..com")),
            Err(HostError::InvalidLabel(_))
        ));
        assert!(matches!(
            HostPattern::parse(Some("-a.com")),
            Err(HostError::InvalidLabel(_))
        ));
        assert!(matches!(
            HostPattern::parse(Some("a_b.com")),
            Err(HostError::InvalidLabel(_))
        ));
        assert_eq!(
            HostPattern::parse(Some(&"a".repeat(254))),
            Err(HostError::TooLong)
        );
    }

    #[test]
    fn wildcard_matches_exactly_one_label() {
        let w = HostPattern::Wildcard("foo.com".into());
        assert!(w.matches("bar.foo.com"));
        assert!(!w.matches("baz.bar.foo.com"));
        assert!(!w.matches("foo.com"));
        assert!(!w.matches(".foo.com"));
    }

    #[test]
    fn normalises_request_hosts() {
        assert_eq!(normalize_host("Foo.Example.com.:8080"), "foo.example.com");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("example.com"), "example.com");
        assert_eq!(normalize_host("user@example.com:1"), "example.com");
    }

    #[test]
    fn certificate_names_cover_hosts() {
        let exact = HostPattern::Exact("a.example.com".into());
        assert!(exact.covered_by_certificate_name("a.example.com"));
        assert!(exact.covered_by_certificate_name("*.example.com"));
        assert!(!exact.covered_by_certificate_name("*.a.example.com"));
        let wild = HostPattern::Wildcard("example.com".into());
        assert!(wild.covered_by_certificate_name("*.example.com"));
        assert!(!wild.covered_by_certificate_name("a.example.com"));
    }
}
