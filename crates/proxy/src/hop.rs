//! Hop-by-hop headers between the client and the upstream: which requests ask for an upgrade,
//! and what must not be forwarded (`Connection` and the headers it names, `Keep-Alive`,
//! `Proxy-Connection`, `Transfer-Encoding`, `Trailer`, `TE` other than `trailers`, `Upgrade`).

use http::header::{CONNECTION, EXPECT, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Version};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `Connection: close` names no header, but a header called `close` would go as any other.
const CLOSE: HeaderName = HeaderName::from_static("close");

/// Whether an HTTP/1.1 request asks for a protocol upgrade (`Connection: upgrade` + `Upgrade`).
pub(crate) fn wants_upgrade<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_11
        && request.headers().contains_key(UPGRADE)
        && connection_tokens(request.headers()).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// Makes the client's request head fit for the upstream: `Host` present (from `:authority` for
/// h2 clients), `Expect`, the body framing and hop-by-hop headers removed (hyper frames the
/// body it sends itself).
pub(crate) fn prepare_request_head(parts: &mut http::request::Parts, upgrade: bool) {
    if !parts.headers.contains_key(HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(HOST, host);
    }
    // 100-continue was handled with the client; the upstream gets the body straight away.
    parts.headers.remove(EXPECT);
    strip_hop_by_hop(&mut parts.headers, upgrade);
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers: `Connection` and the headers it names, `Keep-Alive`,
/// `Proxy-Connection`, `Transfer-Encoding`, `Trailer`, `TE` (unless exactly `trailers`, which
/// gRPC needs) and `Upgrade`. With `upgrade`, `Upgrade` stays and `Connection: upgrade` is set.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // One pass over the names finds which hop-by-hop headers are present; only those are
    // looked up again (most responses carry just `Connection: keep-alive`).
    let present = headers
        .keys()
        .fold(0u8, |bits, name| bits | hop_by_hop_bit(name));
    if !upgrade && present == 0 {
        // Nothing to remove (most requests): no lookups at all.
        return;
    }
    if present & bit::CONNECTION != 0 {
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter_map(|t| {
                if t.eq_ignore_ascii_case("keep-alive") {
                    // Removed below in any case.
                    None
                } else if t.eq_ignore_ascii_case("close") {
                    Some(CLOSE)
                } else {
                    HeaderName::from_bytes(t.to_ascii_lowercase().as_bytes()).ok()
                }
            })
            .collect();
        for name in named {
            if name == TE || (upgrade && name == UPGRADE) {
                continue;
            }
            headers.remove(&name);
        }
        headers.remove(CONNECTION);
    }
    for (flag, name) in [
        (bit::KEEP_ALIVE, KEEP_ALIVE),
        (bit::PROXY_CONNECTION, PROXY_CONNECTION),
        (bit::TRANSFER_ENCODING, TRANSFER_ENCODING),
        (bit::TRAILER, TRAILER),
    ] {
        if present & flag != 0 {
            headers.remove(name);
        }
    }
    if present & bit::TE != 0 {
        let te_trailers_only = {
            let mut values = headers.get_all(TE).iter();
            matches!((values.next(), values.next()), (Some(v), None)
                if v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case("trailers")))
        };
        if !te_trailers_only {
            headers.remove(TE);
        }
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else if present & bit::UPGRADE != 0 {
        headers.remove(UPGRADE);
    }
}

/// The bits [`hop_by_hop_bit`] gives the hop-by-hop headers removed by name.
mod bit {
    pub const CONNECTION: u8 = 1;
    pub const TRANSFER_ENCODING: u8 = 2;
    pub const TE: u8 = 4;
    pub const TRAILER: u8 = 8;
    pub const UPGRADE: u8 = 16;
    pub const KEEP_ALIVE: u8 = 32;
    pub const PROXY_CONNECTION: u8 = 64;
}

/// Which of the hop-by-hop headers [`strip_hop_by_hop`] removes by name `name` is, as a bit
/// (0 for any other header).
fn hop_by_hop_bit(name: &HeaderName) -> u8 {
    if name == CONNECTION {
        bit::CONNECTION
    } else if name == TRANSFER_ENCODING {
        bit::TRANSFER_ENCODING
    } else if name == TE {
        bit::TE
    } else if name == TRAILER {
        bit::TRAILER
    } else if name == UPGRADE {
        bit::UPGRADE
    } else if name == KEEP_ALIVE {
        bit::KEEP_ALIVE
    } else if name == PROXY_CONNECTION {
        bit::PROXY_CONNECTION
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = headers(&[
            ("connection", "X-Custom"),
            ("keep-alive", "timeout=5"),
            ("x-custom", "1"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("te", "gzip"),
            ("trailer", "x-t"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn connection_close_and_keep_alive_tokens() {
        let mut h = headers(&[
            ("connection", "Close, Keep-Alive"),
            ("close", "x"),
            ("keep-alive", "timeout=5"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        let mut plain = headers(&[("x-kept", "yes"), ("close", "x")]);
        strip_hop_by_hop(&mut plain, false);
        assert_eq!(plain.len(), 2, "{plain:?}");
    }

    #[test]
    fn keeps_te_trailers_and_upgrade_when_upgrading() {
        let mut h = headers(&[("te", "trailers"), ("connection", "TE")]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h["te"], "trailers");
        let mut h = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
    }
}
