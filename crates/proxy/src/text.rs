//! Header text a request reuses instead of formatting and copying it: values taken from the
//! request's own headers (cloning a parsed header value shares its bytes), static strings, and
//! a connection's peer address and port formatted once for all its requests.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use bytes::Bytes;
use http::HeaderValue;

use crate::filter::Connection;

/// Visible-ASCII text held as a header value, so it goes into a header map without a copy and
/// reads as `&str` without a failure case.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Text(HeaderValue);

impl Text {
    /// The empty text.
    pub fn empty() -> Self {
        Self(HeaderValue::from_static(""))
    }

    /// A static text (visible ASCII).
    pub fn from_static(text: &'static str) -> Self {
        Self(HeaderValue::from_static(text))
    }

    /// A copy of `text`; empty when it is not visible ASCII.
    pub fn copy(text: &str) -> Self {
        match HeaderValue::from_str(text) {
            Ok(value) if value.to_str().is_ok() => Self(value),
            _ => Self::empty(),
        }
    }

    /// A header's value, shared, when it is visible ASCII.
    pub fn header(value: &HeaderValue) -> Option<Self> {
        value.to_str().is_ok().then(|| Self(value.clone()))
    }

    /// A number in decimal.
    pub fn number(n: u16) -> Self {
        Self(HeaderValue::from(n))
    }

    /// `bytes` (shared) as text; empty when it is not visible ASCII.
    fn shared(bytes: Bytes) -> Self {
        match HeaderValue::from_maybe_shared(bytes) {
            Ok(value) if value.to_str().is_ok() => Self(value),
            _ => Self::empty(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor keeps only visible ASCII, which `to_str` accepts.
        self.0.to_str().unwrap_or_default()
    }

    /// The text as a header value (a cheap clone of it goes into a header map).
    pub fn value(&self) -> &HeaderValue {
        &self.0
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A connection's peer address and listener port as text, formatted once when the connection
/// opens: most requests pass exactly these upstream (`X-Real-IP`, `X-Forwarded-For`,
/// `X-Forwarded-Port`). Both share one buffer; a clone costs two reference counts.
#[derive(Clone, Debug)]
pub(crate) struct ConnTexts {
    peer: IpAddr,
    peer_text: Text,
    port: u16,
    port_text: Text,
}

impl ConnTexts {
    /// The texts of `connection`.
    pub fn new(connection: &Connection) -> Self {
        let peer = connection.client.ip().to_canonical();
        let mut text = String::with_capacity(48);
        // IPv4 digit by digit: `Display` goes through the formatting machinery and a padding
        // buffer, a third of this function's cost on every new connection.
        match peer {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push('.');
                    }
                    push_decimal(&mut text, octet.into());
                }
            }
            IpAddr::V6(v6) => {
                let _ = write!(text, "{v6}");
            }
        }
        let split = text.len();
        push_decimal(&mut text, connection.port);
        let bytes = Bytes::from(text);
        Self {
            peer,
            peer_text: Text::shared(bytes.slice(..split)),
            port: connection.port,
            port_text: Text::shared(bytes.slice(split..)),
        }
    }

    /// `ip` as text when it is the peer's address.
    pub fn ip(&self, ip: IpAddr) -> Option<&Text> {
        (ip == self.peer).then_some(&self.peer_text)
    }

    /// `port` as text when it is the listener's port.
    pub fn port(&self, port: u16) -> Option<&Text> {
        (port == self.port).then_some(&self.port_text)
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u16) {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is below 10.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Scheme;

    #[test]
    fn texts_read_back_and_compare() {
        assert_eq!(Text::copy("a.example.com"), "a.example.com");
        assert!(Text::copy("caf\u{e9}").is_empty());
        assert_eq!(Text::number(8080).as_str(), "8080");
        let header = HeaderValue::from_static("b.example.com:80");
        assert_eq!(Text::header(&header).unwrap(), "b.example.com:80");
        let opaque = HeaderValue::from_bytes(b"\xff").unwrap();
        assert!(Text::header(&opaque).is_none());
    }

    #[test]
    fn connection_texts_answer_for_the_peer_and_port_only() {
        let connection = Connection {
            client: "[::ffff:10.0.0.9]:40000".parse().unwrap(),
            scheme: Scheme::Http,
            port: 8080,
        };
        let texts = ConnTexts::new(&connection);
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(texts.ip(peer).unwrap(), "10.0.0.9");
        assert!(texts.ip("10.0.0.8".parse().unwrap()).is_none());
        assert_eq!(texts.port(8080).unwrap(), "8080");
        assert!(texts.port(80).is_none());
    }

    #[test]
    fn addresses_and_ports_are_written_as_display_writes_them() {
        for (client, port) in [
            ("0.0.0.0:1", 0),
            ("127.0.0.1:1", 9),
            ("10.20.100.255:1", 10),
            ("255.255.255.255:1", 65535),
            ("192.168.1.10:1", 443),
            ("[2001:db8::1]:1", 80),
            ("[::1]:1", 12345),
        ] {
            let connection = Connection {
                client: client.parse().unwrap(),
                scheme: Scheme::Http,
                port,
            };
            let texts = ConnTexts::new(&connection);
            let ip = connection.client.ip();
            assert_eq!(texts.ip(ip).unwrap().as_str(), ip.to_string());
            assert_eq!(texts.port(port).unwrap().as_str(), port.to_string());
        }
    }
}
