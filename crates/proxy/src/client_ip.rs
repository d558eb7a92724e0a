//! Where a request came from, the way ingress-nginx computes it: nginx's realip module
//! (`use-forwarded-headers`, `enable-real-ip`, `forwarded-for-header`, `proxy-real-ip-cidr`,
//! `use-proxy-protocol`) gives `$remote_addr`, and `lua_ingress.rewrite` gives the scheme, port
//! and host passed upstream (`$pass_access_scheme`, `$pass_port`, `$best_http_host`).
//!
//! Every IP-based feature (allow and deny lists, blocks, rate limits, auth headers) uses
//! [`ClientOrigin::remote_addr`], exposed as `RequestContext::client_ip`.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::HOST;
use ipnet::IpNet;
use sluice_ingress_model::policy::ForwardedHeaders;

use crate::filter::Connection;
use crate::proxy_protocol::Addresses;
use crate::text::{ConnTexts, Text};

/// The request's origin after real-IP processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientOrigin {
    /// `$remote_addr`: the client address every IP-based feature uses.
    pub remote_addr: IpAddr,
    /// The address appended by `compute-full-forwarded-for` (`$realip_remote_addr`, or
    /// `$proxy_protocol_addr` with PROXY protocol).
    pub full_forwarded_addr: IpAddr,
    /// `$pass_access_scheme`: `X-Forwarded-Proto` upstream, and what HTTPS redirects test.
    pub pass_access_scheme: Text,
    /// `$pass_port`: `X-Forwarded-Port` upstream (`443` when it is the HTTPS listener's port).
    pub pass_port: Text,
    /// `$best_http_host`: `Host` and `X-Forwarded-Host` upstream.
    pub best_http_host: Text,
}

/// Whether `text` is `port` written in decimal (no sign, no leading zero).
fn is_port(text: &str, port: u16) -> bool {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'));
    canonical && text.parse::<u16>() == Ok(port)
}

/// What the connection contributes: the TCP peer, the PROXY header's addresses, the listener.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival<'a> {
    /// The connection.
    pub connection: &'a Connection,
    /// The PROXY protocol addresses, when `use-proxy-protocol` is on and the header had some.
    pub proxy: Option<&'a Addresses>,
    /// Whether `use-proxy-protocol` is on.
    pub proxy_protocol: bool,
    /// The HTTPS listener's port (`listen_ports.https`).
    pub https_port: u16,
    /// The connection's peer and port as text, when the listener formatted them.
    pub texts: Option<&'a ConnTexts>,
}

/// Computes the request's origin.
pub(crate) fn resolve(
    settings: &ForwardedHeaders,
    arrival: Arrival<'_>,
    headers: &HeaderMap,
) -> ClientOrigin {
    let peer = arrival.connection.client.ip().to_canonical();
    let trusted = |ip: &IpAddr| settings.trusted.iter().any(|net: &IpNet| net.contains(ip));
    let (remote_addr, full_forwarded_addr) = match (arrival.proxy_protocol, arrival.proxy) {
        // `real_ip_header proxy_protocol`: the PROXY source replaces a trusted peer.
        (true, Some(proxy)) => {
            let source = proxy.source.ip().to_canonical();
            (if trusted(&peer) { source } else { peer }, source)
        }
        (true, None) => (peer, peer),
        (false, _) if settings.use_forwarded_headers || settings.real_ip => {
            let header = header_value(headers, &settings.for_header);
            let addr = match header {
                Some(value) => forwarded_addr(peer, &value, &trusted),
                None => peer,
            };
            (addr, peer)
        }
        (false, _) => (peer, peer),
    };

    // Text is shared with the request's headers or the connection where it can be: most
    // requests pass exactly these values upstream.
    let mut scheme = Text::from_static(arrival.connection.scheme.as_str());
    let port = match (arrival.proxy_protocol, arrival.proxy) {
        (true, Some(proxy)) => proxy.destination.port(),
        _ => arrival.connection.port,
    };
    let mut forwarded_port = None;
    let mut best_http_host = headers
        .get(HOST)
        .and_then(Text::header)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(Text::empty);
    if settings.use_forwarded_headers {
        if let Some(proto) = headers.get("x-forwarded-proto").and_then(Text::header) {
            scheme = proto;
        }
        forwarded_port = headers.get("x-forwarded-port").and_then(Text::header);
        if let Some(host) = headers.get("x-forwarded-host").and_then(Text::header) {
            // `parse_x_forwarded_host`: the first comma-separated element, untrimmed.
            best_http_host = match host.as_str().split_once(',') {
                Some((first, _)) => Text::copy(first),
                None => host,
            };
        }
    }
    if arrival.proxy_protocol
        && arrival
            .proxy
            .is_some_and(|proxy| proxy.destination.port() == 443)
    {
        scheme = Text::from_static("https");
    }
    let pass_port = match forwarded_port {
        Some(text) if is_port(text.as_str(), arrival.https_port) => Text::from_static("443"),
        Some(text) => text,
        None if port == arrival.https_port => Text::from_static("443"),
        None => match arrival.texts.and_then(|t| t.port(port)) {
            Some(text) => text.clone(),
            None => Text::number(port),
        },
    };
    ClientOrigin {
        remote_addr,
        full_forwarded_addr,
        pass_access_scheme: scheme,
        pass_port,
        best_http_host,
    }
}

/// The value of the real-IP header: every `X-Forwarded-For` line joined, or the first line of
/// any other header.
fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("x-forwarded-for") {
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        return (!values.is_empty()).then(|| values.join(", "));
    }
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// nginx's recursive real-IP walk: while the current address is trusted, step to the next
/// address from the right of `list`. An unparsable element stops the walk, keeping the last
/// address found (or the peer when none was).
fn forwarded_addr(peer: IpAddr, list: &str, trusted: &dyn Fn(&IpAddr) -> bool) -> IpAddr {
    let mut addr = peer;
    let mut rest = list;
    loop {
        if !trusted(&addr) {
            return addr;
        }
        let trimmed = rest.trim_end_matches([' ', ',']);
        if trimmed.is_empty() {
            return addr;
        }
        let (before, element) = match trimmed.rfind([' ', ',']) {
            Some(at) => (&trimmed[..at], &trimmed[at + 1..]),
            None => ("", trimmed),
        };
        match parse_addr(element) {
            Some(ip) => addr = ip,
            None => return addr,
        }
        rest = before;
    }
}

/// An address as nginx's `ngx_parse_addr_port` takes it: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
pub(crate) fn parse_addr(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Scheme;
    use http::HeaderValue;

    fn conn(peer: &str, scheme: Scheme, port: u16) -> Connection {
        Connection {
            client: format!("{peer}:40000").parse().unwrap(),
            scheme,
            port,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn origin(settings: &ForwardedHeaders, c: &Connection, h: &HeaderMap) -> ClientOrigin {
        let arrival = Arrival {
            connection: c,
            proxy: None,
            proxy_protocol: false,
            https_port: 8443,
            texts: None,
        };
        resolve(settings, arrival, h)
    }

    #[test]
    fn without_forwarded_headers_the_peer_and_connection_win() {
        let settings = ForwardedHeaders::default();
        let c = conn("10.0.0.9", Scheme::Http, 8080);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil"),
            ("host", "a.example.com:8080"),
        ]);
        let o = origin(&settings, &c, &h);
        assert_eq!(o.remote_addr.to_string(), "10.0.0.9");
        assert_eq!(o.pass_access_scheme, "http");
        assert_eq!(o.pass_port, "8080");
        assert_eq!(o.best_http_host, "a.example.com:8080");
    }

    #[test]
    fn recursive_walk_skips_trusted_hops_from_the_right() {
        let mut settings = ForwardedHeaders {
            use_forwarded_headers: true,
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
            ..ForwardedHeaders::default()
        };
        let c = conn("10.0.0.9", Scheme::Https, 8443);
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.1, 203.0.113.5"),
            ("x-forwarded-for", "10.1.1.1"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "b.example.com, c.example.com"),
        ]);
        let o = origin(&settings, &c, &h);
        assert_eq!(o.remote_addr.to_string(), "203.0.113.5");
        assert_eq!(o.full_forwarded_addr.to_string(), "10.0.0.9");
        assert_eq!(o.pass_access_scheme, "http");
        assert_eq!(o.pass_port, "443");
        assert_eq!(o.best_http_host, "b.example.com");

        // An untrusted peer keeps its own address.
        let untrusted = conn("192.0.2.1", Scheme::Http, 80);
        assert_eq!(
            origin(&settings, &untrusted, &h).remote_addr.to_string(),
            "192.0.2.1"
        );
        // Everything trusted: the leftmost address.
        settings.trusted = vec!["0.0.0.0/0".parse().unwrap()];
        assert_eq!(
            origin(&settings, &c, &h).remote_addr.to_string(),
            "198.51.100.1"
        );
        // An unparsable element stops the walk at the last good address.
        let junk = headers(&[("x-forwarded-for", "198.51.100.1, junk, 10.2.2.2")]);
        assert_eq!(
            origin(&settings, &c, &junk).remote_addr.to_string(),
            "10.2.2.2"
        );
    }

    #[test]
    fn real_ip_uses_a_custom_header_and_leaves_scheme_alone() {
        let settings = ForwardedHeaders {
            real_ip: true,
            for_header: "CF-Connecting-IP".into(),
            ..ForwardedHeaders::default()
        };
        let c = conn("10.0.0.9", Scheme::Http, 80);
        let h = headers(&[
            ("cf-connecting-ip", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let o = origin(&settings, &c, &h);
        assert_eq!(o.remote_addr.to_string(), "203.0.113.9");
        assert_eq!(o.pass_access_scheme, "http");
    }

    #[test]
    fn proxy_protocol_source_and_port_443() {
        let settings = ForwardedHeaders::default();
        let c = conn("10.0.0.9", Scheme::Http, 80);
        let proxy = Addresses {
            source: "203.0.113.7:5000".parse().unwrap(),
            destination: "192.0.2.10:443".parse().unwrap(),
        };
        let arrival = Arrival {
            connection: &c,
            proxy: Some(&proxy),
            proxy_protocol: true,
            https_port: 443,
            texts: None,
        };
        let o = resolve(&settings, arrival, &HeaderMap::new());
        assert_eq!(o.remote_addr.to_string(), "203.0.113.7");
        assert_eq!(o.pass_access_scheme, "https");
        assert_eq!(o.pass_port, "443");
    }

    #[test]
    fn addresses_with_ports_and_brackets_parse() {
        assert_eq!(parse_addr("1.2.3.4:80").unwrap().to_string(), "1.2.3.4");
        assert_eq!(parse_addr("[::1]:80").unwrap().to_string(), "::1");
        assert_eq!(
            parse_addr("[2001:db8::1]").unwrap().to_string(),
            "2001:db8::1"
        );
        assert_eq!(parse_addr("::ffff:1.2.3.4").unwrap().to_string(), "1.2.3.4");
        assert!(parse_addr("nope").is_none());
    }
}
