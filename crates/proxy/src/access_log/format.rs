//! ingress-nginx's `log-format-upstream`: an nginx `log_format` string, parsed once per applied
//! table into literal text and variables. Variables are `$name` or `${name}`; names sluice does
//! not know (or cannot know, like `$ssl_cipher` on a plain connection) log as nginx logs an
//! unset variable: `-`, or nothing with `escape=json`/`escape=none`.

use http::HeaderName;
use sluice_ingress_model::policy::LogEscape;

/// A parsed format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// Literal text and variables in order.
    pub segments: Vec<Segment>,
    /// Request headers the variables read, captured when the request arrives; a
    /// [`Var::Header`] holds an index into this list.
    pub headers: Vec<HeaderName>,
    /// How variable values are escaped.
    pub escape: LogEscape,
}

/// One piece of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text copied as is.
    Literal(String),
    /// A variable.
    Var(Var),
}

/// The variables sluice knows.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the nginx variable of the same name
pub enum Var {
    RemoteAddr,
    RemotePort,
    RemoteUser,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Uri,
    Args,
    IsArgs,
    ServerProtocol,
    Scheme,
    Host,
    ServerName,
    ServerPort,
    Status,
    BodyBytesSent,
    BytesSent,
    RequestLength,
    RequestTime,
    ProxyUpstreamName,
    ProxyAlternativeUpstreamName,
    UpstreamAddr,
    UpstreamResponseLength,
    UpstreamResponseTime,
    UpstreamStatus,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    ReqId,
    Namespace,
    IngressName,
    ServiceName,
    ServicePort,
    LocationPath,
    ProxyAddXForwardedFor,
    Hostname,
    Pid,
    TraceId,
    SpanId,
    /// `$http_<name>`: index into [`Template::headers`].
    Header(usize),
    /// `$cookie_<name>`: read from the captured `Cookie` header (an index into
    /// [`Template::headers`]).
    Cookie(usize, String),
    /// `$arg_<name>`: a query parameter.
    Arg(String),
    /// Anything else: logged as unset.
    Unknown(String),
}

impl Template {
    /// Parses a `log_format` string.
    pub fn parse(format: &str, escape: LogEscape) -> Self {
        let mut template = Self {
            segments: Vec::new(),
            headers: Vec::new(),
            escape,
        };
        let mut literal = String::new();
        let mut rest = format;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.is_empty() {
                literal.push('$');
                rest = after;
                continue;
            }
            if !literal.is_empty() {
                template
                    .segments
                    .push(Segment::Literal(std::mem::take(&mut literal)));
            }
            let var = template.variable(name);
            template.segments.push(Segment::Var(var));
            rest = &after[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            template.segments.push(Segment::Literal(literal));
        }
        template
    }

    fn capture(&mut self, name: &str) -> Option<usize> {
        let name = HeaderName::from_bytes(name.replace('_', "-").as_bytes()).ok()?;
        if let Some(i) = self.headers.iter().position(|h| *h == name) {
            return Some(i);
        }
        self.headers.push(name);
        Some(self.headers.len() - 1)
    }

    fn variable(&mut self, name: &str) -> Var {
        let name = name.to_ascii_lowercase();
        if let Some(header) = name.strip_prefix("http_") {
            return match self.capture(header) {
                Some(i) => Var::Header(i),
                None => Var::Unknown(name),
            };
        }
        if let Some(cookie) = name.strip_prefix("cookie_") {
            let cookie = cookie.to_owned();
            return match self.capture("cookie") {
                Some(i) => Var::Cookie(i, cookie),
                None => Var::Unknown(name),
            };
        }
        if let Some(arg) = name.strip_prefix("arg_") {
            return Var::Arg(arg.to_owned());
        }
        match name.as_str() {
            "remote_addr" | "realip_remote_addr" | "binary_remote_addr" => Var::RemoteAddr,
            "remote_port" | "realip_remote_port" => Var::RemotePort,
            "remote_user" => Var::RemoteUser,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "request" => Var::Request,
            "request_method" => Var::RequestMethod,
            "request_uri" => Var::RequestUri,
            "uri" | "document_uri" => Var::Uri,
            "args" | "query_string" => Var::Args,
            "is_args" => Var::IsArgs,
            "server_protocol" => Var::ServerProtocol,
            "scheme" => Var::Scheme,
            "host" | "best_http_host" => Var::Host,
            "server_name" => Var::ServerName,
            "server_port" => Var::ServerPort,
            "status" => Var::Status,
            "body_bytes_sent" => Var::BodyBytesSent,
            "bytes_sent" => Var::BytesSent,
            "request_length" => Var::RequestLength,
            "request_time" => Var::RequestTime,
            "proxy_upstream_name" => Var::ProxyUpstreamName,
            "proxy_alternative_upstream_name" => Var::ProxyAlternativeUpstreamName,
            "upstream_addr" => Var::UpstreamAddr,
            "upstream_response_length" | "upstream_bytes_received" => Var::UpstreamResponseLength,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "upstream_status" => Var::UpstreamStatus,
            "upstream_connect_time" => Var::UpstreamConnectTime,
            "upstream_header_time" => Var::UpstreamHeaderTime,
            "req_id" | "request_id" => Var::ReqId,
            "namespace" => Var::Namespace,
            "ingress_name" => Var::IngressName,
            "service_name" => Var::ServiceName,
            "service_port" => Var::ServicePort,
            "location_path" => Var::LocationPath,
            "proxy_add_x_forwarded_for" => Var::ProxyAddXForwardedFor,
            "hostname" => Var::Hostname,
            "pid" => Var::Pid,
            "opentelemetry_trace_id" | "otel_trace_id" | "trace_id" => Var::TraceId,
            "opentelemetry_span_id" | "otel_span_id" | "span_id" => Var::SpanId,
            _ => Var::Unknown(name),
        }
    }
}

/// Appends `value` escaped the way nginx's `escape=` mode does.
pub fn push_escaped(out: &mut String, value: &[u8], escape: LogEscape) {
    match escape {
        LogEscape::None => out.push_str(&String::from_utf8_lossy(value)),
        LogEscape::Json => push_json_escaped(out, value),
        LogEscape::Default => {
            for &b in value {
                if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
                    push_hex(out, b, "\\x");
                } else {
                    out.push(char::from(b));
                }
            }
        }
    }
}

/// Appends `value` as the inside of a JSON string (nginx `escape=json`: `"`, `\` and control
/// characters escaped; invalid UTF-8 replaced). Runs without escapes are copied whole.
pub fn push_json_escaped(out: &mut String, value: &[u8]) {
    let text = match std::str::from_utf8(value) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    };
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `run` and `i` sit right after and at ASCII bytes: both are char boundaries.
        out.push_str(&text[run..i]);
        if escape.is_empty() {
            push_hex(out, b, "\\u00");
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&text[run..]);
}

/// Appends seconds with millisecond resolution (`0.003`), as nginx writes `$request_time`.
pub fn push_seconds(out: &mut String, seconds: f64) {
    use std::fmt::Write;
    // Rounded to whole milliseconds; the cast saturates for absurd values.
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let _ = write!(out, "{}.{:03}", millis / 1000, millis % 1000);
}

fn push_hex(out: &mut String, b: u8, prefix: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push_str(prefix);
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variables_literals_and_headers() {
        let t = Template::parse(
            r#"$remote_addr - [${time_local}] "$http_x_forwarded_for" $cookie_session $foo$$ $"#,
            LogEscape::Default,
        );
        assert_eq!(
            t.headers,
            [
                HeaderName::from_static("x-forwarded-for"),
                HeaderName::from_static("cookie")
            ]
        );
        assert_eq!(
            t.segments,
            [
                Segment::Var(Var::RemoteAddr),
                Segment::Literal(" - [".into()),
                Segment::Var(Var::TimeLocal),
                Segment::Literal("] \"".into()),
                Segment::Var(Var::Header(0)),
                Segment::Literal("\" ".into()),
                Segment::Var(Var::Cookie(1, "session".into())),
                Segment::Literal(" ".into()),
                Segment::Var(Var::Unknown("foo".into())),
                Segment::Literal("$$ $".into()),
            ]
        );
    }

    #[test]
    fn seconds_have_millisecond_resolution() {
        let mut out = String::new();
        for v in [0.0, 0.0004, 0.0025, 1.5, 12.3456] {
            push_seconds(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "0.000 0.000 0.003 1.500 12.346 ");
    }

    #[test]
    fn escapes_like_nginx() {
        let mut out = String::new();
        push_escaped(&mut out, "a\"b\\c\n\u{e9}".as_bytes(), LogEscape::Default);
        assert_eq!(out, r#"a\x22b\x5Cc\x0A\xC3\xA9"#);
        out.clear();
        push_escaped(&mut out, "a\"b\\c\n\u{1}\u{e9}".as_bytes(), LogEscape::Json);
        assert_eq!(out, "a\\\"b\\\\c\\n\\u0001\u{e9}");
        out.clear();
        push_escaped(&mut out, b"a\"b", LogEscape::None);
        assert_eq!(out, "a\"b");
    }
}
