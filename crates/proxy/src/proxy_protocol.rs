//! The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load balancer in front of
//! the proxy sends before the client's bytes (`use-proxy-protocol`). [`parse`] is a pure function
//! over the bytes read so far, so it can be fuzzed on its own; it never panics and never reads
//! past the header it reports.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The signature that starts every version 2 header.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 header, CRLF included (spec §2.1).
const V1_MAX: usize = 107;
/// The longest version 2 header accepted: the fixed part plus 4 KiB of addresses and TLVs.
pub const V2_MAX: usize = 16 + 4096;

/// A parsed PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// The original client (source) and the address it connected to (destination); `None` for
    /// `UNKNOWN` (v1), `LOCAL` or an unsupported address family (v2): use the TCP peer then.
    pub addresses: Option<Addresses>,
    /// How many bytes the header took; the client's own bytes follow.
    pub len: usize,
}

/// The addresses a PROXY header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// The client.
    pub source: SocketAddr,
    /// The address the client connected to (its port is `$proxy_protocol_server_port`).
    pub destination: SocketAddr,
}

/// Why bytes are not (yet) a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes so far are a valid beginning; read more.
    #[error("incomplete PROXY protocol header")]
    Incomplete,
    /// Not a PROXY header, or a malformed one.
    #[error("invalid PROXY protocol header: {0}")]
    Invalid(&'static str),
}

/// Parses a PROXY header (v1 or v2) at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Header, ParseError> {
    match buf.first() {
        None => Err(ParseError::Incomplete),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(ParseError::Invalid("no PROXY signature")),
    }
}

fn parse_v1(buf: &[u8]) -> Result<Header, ParseError> {
    const PREFIX: &[u8] = b"PROXY ";
    let head = buf.get(..PREFIX.len().min(buf.len())).unwrap_or_default();
    if !PREFIX.starts_with(head) {
        return Err(ParseError::Invalid("no PROXY signature"));
    }
    // The line ends at its first LF, which must follow a CR: a bare LF anywhere is invalid,
    // whether or not a CRLF follows it, so a header split across reads is judged the same.
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(ParseError::Invalid("v1 header longer than 107 bytes"))
        } else {
            Err(ParseError::Incomplete)
        };
    };
    let Some(end) = newline
        .checked_sub(1)
        .filter(|&cr| buf.get(cr) == Some(&b'\r'))
    else {
        return Err(ParseError::Invalid("v1 header without CRLF"));
    };
    let len = end + 2;
    if len > V1_MAX {
        return Err(ParseError::Invalid("v1 header longer than 107 bytes"));
    }
    let line = std::str::from_utf8(buf.get(PREFIX.len()..end).unwrap_or_default())
        .map_err(|_| ParseError::Invalid("v1 header is not ASCII"))?;
    let mut fields = line.split(' ');
    let protocol = fields.next().unwrap_or_default();
    if protocol == "UNKNOWN" {
        return Ok(Header {
            version: 1,
            addresses: None,
            len,
        });
    }
    let parts: Vec<&str> = fields.collect();
    let [src, dst, src_port, dst_port] = parts.as_slice() else {
        return Err(ParseError::Invalid("v1 header needs four address fields"));
    };
    let (src, dst): (IpAddr, IpAddr) = match protocol {
        "TCP4" => (
            IpAddr::V4(v4(src).ok_or(ParseError::Invalid("bad v1 IPv4 source"))?),
            IpAddr::V4(v4(dst).ok_or(ParseError::Invalid("bad v1 IPv4 destination"))?),
        ),
        "TCP6" => (
            IpAddr::V6(
                src.parse()
                    .map_err(|_| ParseError::Invalid("bad v1 IPv6 source"))?,
            ),
            IpAddr::V6(
                dst.parse()
                    .map_err(|_| ParseError::Invalid("bad v1 IPv6 destination"))?,
            ),
        ),
        _ => {
            return Err(ParseError::Invalid(
                "v1 protocol must be TCP4, TCP6 or UNKNOWN",
            ));
        }
    };
    Ok(Header {
        version: 1,
        addresses: Some(Addresses {
            source: SocketAddr::new(src, port(src_port)?),
            destination: SocketAddr::new(dst, port(dst_port)?),
        }),
        len,
    })
}

/// A dotted IPv4 address without leading zeros (the spec forbids them; std rejects them too).
fn v4(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok()
}

fn port(text: &str) -> Result<u16, ParseError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid("bad v1 port"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(ParseError::Invalid("v1 port with a leading zero"));
    }
    text.parse().map_err(|_| ParseError::Invalid("bad v1 port"))
}

fn parse_v2(buf: &[u8]) -> Result<Header, ParseError> {
    let known = buf.len().min(V2_SIGNATURE.len());
    if buf.get(..known) != V2_SIGNATURE.get(..known) {
        return Err(ParseError::Invalid("no PROXY signature"));
    }
    let Some(&[ver_cmd, family, hi, lo]) = buf.get(12..16) else {
        return Err(ParseError::Incomplete);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ParseError::Invalid("v2 version must be 2"));
    }
    let command = ver_cmd & 0x0f;
    if command > 1 {
        return Err(ParseError::Invalid("v2 command must be LOCAL or PROXY"));
    }
    let body_len = usize::from(u16::from_be_bytes([hi, lo]));
    let len = 16 + body_len;
    if len > V2_MAX {
        return Err(ParseError::Invalid("v2 header too long"));
    }
    let Some(body) = buf.get(16..len) else {
        return Err(ParseError::Incomplete);
    };
    if command == 0 {
        return Ok(Header {
            version: 2,
            addresses: None,
            len,
        });
    }
    let addresses = match family >> 4 {
        // AF_INET: 4 + 4 address bytes, 2 + 2 port bytes.
        1 => {
            let a: &[u8; 12] = body
                .get(..12)
                .and_then(|s| s.try_into().ok())
                .ok_or(ParseError::Invalid("v2 IPv4 addresses truncated"))?;
            // Indexes below are within the fixed-size array.
            let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
            Some(Addresses {
                source: SocketAddr::new(IpAddr::V4(ip(0)), u16::from_be_bytes([a[8], a[9]])),
                destination: SocketAddr::new(IpAddr::V4(ip(4)), u16::from_be_bytes([a[10], a[11]])),
            })
        }
        // AF_INET6: 16 + 16 address bytes, 2 + 2 port bytes.
        2 => {
            let a: &[u8; 36] = body
                .get(..36)
                .and_then(|s| s.try_into().ok())
                .ok_or(ParseError::Invalid("v2 IPv6 addresses truncated"))?;
            // Indexes below are within the fixed-size array.
            let ip = |from: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[from..from + 16]);
                Ipv6Addr::from(octets)
            };
            Some(Addresses {
                source: SocketAddr::new(IpAddr::V6(ip(0)), u16::from_be_bytes([a[32], a[33]])),
                destination: SocketAddr::new(
                    IpAddr::V6(ip(16)),
                    u16::from_be_bytes([a[34], a[35]]),
                ),
            })
        }
        // AF_UNSPEC, AF_UNIX or unknown: the receiver uses the connection's own addresses.
        _ => None,
    };
    Ok(Header {
        version: 2,
        addresses,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(family);
        out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        let line = b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
        let header = parse(line).unwrap();
        assert_eq!(header.len, 43);
        assert_eq!(
            header.addresses.unwrap().source,
            "203.0.113.7:56324".parse().unwrap()
        );
        assert_eq!(header.addresses.unwrap().destination.port(), 443);
        let six = parse(b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n").unwrap();
        assert_eq!(
            six.addresses.unwrap().source,
            "[2001:db8::1]:1".parse().unwrap()
        );
        let unknown = parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest").unwrap();
        assert_eq!(unknown.addresses, None);
        assert_eq!(unknown.len, 35);
    }

    #[test]
    fn v1_incomplete_and_invalid() {
        assert_eq!(parse(b""), Err(ParseError::Incomplete));
        assert_eq!(parse(b"PRO"), Err(ParseError::Incomplete));
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Err(ParseError::Incomplete));
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ParseError::Invalid(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b'P', b'R', b'O', b'X', b'Y', b' ']
            .into_iter()
            .chain(std::iter::repeat_n(b'1', 120))
            .collect::<Vec<_>>();
        assert!(matches!(parse(&long), Err(ParseError::Invalid(_))));
    }

    #[test]
    fn v1_bare_lf_before_the_crlf_is_invalid_however_it_is_split() {
        // Found by the proxy_protocol fuzz target: the whole header parsed (its CRLF came
        // later) while the same bytes cut after the bare LF were invalid.
        let header = b"PROXY UNKNOWN \x01\x00\x00\nTG2\r\n";
        for cut in 0..=header.len() {
            let result = parse(&header[..cut]);
            if cut <= 17 {
                assert_eq!(result, Err(ParseError::Incomplete), "{cut}");
            } else {
                assert!(matches!(result, Err(ParseError::Invalid(_))), "{cut}");
            }
        }
        assert!(matches!(
            parse(b"PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn v2_proxy_local_and_families() {
        let mut body = vec![203, 0, 113, 7, 10, 0, 0, 1];
        body.extend_from_slice(&56324u16.to_be_bytes());
        body.extend_from_slice(&443u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]); // a TLV, ignored
        let bytes = v2(1, 0x11, &body);
        let header = parse(&bytes).unwrap();
        assert_eq!(header.len, bytes.len());
        assert_eq!(
            header.addresses.unwrap().source,
            "203.0.113.7:56324".parse().unwrap()
        );

        let mut body6 = Vec::new();
        body6.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        body6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        body6.extend_from_slice(&[0, 9, 1, 187]);
        let header6 = parse(&v2(1, 0x21, &body6)).unwrap();
        assert_eq!(
            header6.addresses.unwrap().source,
            "[2001:db8::7]:9".parse().unwrap()
        );
        assert_eq!(header6.addresses.unwrap().destination.port(), 443);

        assert_eq!(parse(&v2(0, 0x00, &[])).unwrap().addresses, None);
        assert_eq!(parse(&v2(1, 0x31, &[0; 216])).unwrap().addresses, None);
    }

    #[test]
    fn v2_incomplete_and_invalid() {
        let bytes = v2(1, 0x11, &[0; 12]);
        for cut in 1..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Err(ParseError::Incomplete), "{cut}");
        }
        let mut wrong_version = bytes.clone();
        wrong_version[12] = 0x11;
        assert!(matches!(parse(&wrong_version), Err(ParseError::Invalid(_))));
        let mut wrong_command = bytes.clone();
        wrong_command[12] = 0x22;
        assert!(matches!(parse(&wrong_command), Err(ParseError::Invalid(_))));
        assert!(matches!(
            parse(&v2(1, 0x11, &[0; 4])),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(parse(b"\r\n\r\nX"), Err(ParseError::Invalid(_))));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic stand-in for the fuzz target: every prefix of every mutation.
        let seeds: [&[u8]; 3] = [
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 ::1 ::2 1 2\r\n",
            &v2(1, 0x21, &[7; 40]),
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for seed in seeds {
            for _ in 0..2000 {
                let mut bytes = seed.to_vec();
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % bytes.len();
                bytes[at] = (state >> 32) as u8;
                for end in 0..=bytes.len() {
                    if let Ok(header) = parse(&bytes[..end]) {
                        assert!(header.len <= end);
                    }
                }
            }
        }
    }
}
