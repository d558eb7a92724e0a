//! One request as the access log sees it, and its two renderings: the default JSON object and
//! an nginx `log_format` template.

use std::fmt::Write;
use std::time::Instant;

use http::{HeaderValue, Version};
use sluice_ingress_model::policy::LogEscape;
use sluice_ingress_model::{Action, UpstreamId};

use super::clock::Stamp;
use super::format::{Segment, Template, Var, push_escaped, push_json_escaped, push_seconds};
use crate::filter::RequestContext;
use crate::telemetry::Observed;

/// ingress-nginx's upstream name for requests no route matched.
pub const DEFAULT_BACKEND_UPSTREAM: &str = "upstream-default-backend";

/// A finished request with the numbers computed once for logs and metrics.
pub struct Entry<'a> {
    /// The context.
    pub ctx: &'a RequestContext,
    /// When the response ended.
    pub end: Instant,
    /// The wall-clock time of the end (taken only when a log line is written).
    pub stamp: Option<Stamp>,
    /// `$request_length`.
    pub request_bytes: u64,
    /// `$bytes_sent`.
    pub bytes_sent: u64,
}

impl Entry<'_> {
    fn observed(&self) -> &Observed {
        &self.ctx.observed
    }

    /// `$request_time` in seconds.
    pub fn request_time(&self) -> f64 {
        self.end
            .saturating_duration_since(self.ctx.start)
            .as_secs_f64()
    }

    fn since_upstream_start(&self, at: Option<Instant>) -> Option<f64> {
        let start = self.ctx.upstream_timing.start?;
        Some(at?.saturating_duration_since(start).as_secs_f64())
    }

    /// `$upstream_connect_time`.
    pub fn upstream_connect_time(&self) -> Option<f64> {
        self.since_upstream_start(self.ctx.upstream_timing.connected)
    }

    /// `$upstream_header_time`.
    pub fn upstream_header_time(&self) -> Option<f64> {
        self.since_upstream_start(self.ctx.upstream_timing.header)
    }

    /// `$upstream_response_time` (the response body streams through, so it ends with the
    /// client's response).
    pub fn upstream_response_time(&self) -> Option<f64> {
        if self.ctx.attempts == 0 {
            return None;
        }
        self.since_upstream_start(Some(self.end))
    }

    /// The canary upstream, when it served the request.
    pub fn canary(&self) -> Option<&UpstreamId> {
        let upstream = self.ctx.upstream.as_ref()?;
        match &self.ctx.route.as_ref()?.action {
            Action::Forward(f) => f.canary.as_ref().map(|c| &c.upstream),
            _ => None,
        }
        .filter(|canary| *canary == upstream)
    }

    /// `$request_uri`: the request target as the client sent it.
    fn uri_text(&self) -> &str {
        match self.ctx.request_uri() {
            "" => self.ctx.path.as_str(),
            uri => uri,
        }
    }

    fn path(&self) -> &str {
        let uri = self.uri_text();
        uri.split_once('?').map_or(uri, |(path, _)| path)
    }

    fn query(&self) -> Option<&str> {
        self.uri_text().split_once('?').map(|(_, query)| query)
    }

    fn status(&self) -> u16 {
        self.ctx.status.map_or(0, |s| s.as_u16())
    }

    fn version(&self) -> &'static str {
        match self.ctx.version {
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        }
    }

    fn upstream_name(&self) -> String {
        match (&self.ctx.upstream, &self.ctx.route) {
            (Some(upstream), _) => upstream.to_string(),
            (None, None) => DEFAULT_BACKEND_UPSTREAM.to_owned(),
            (None, Some(_)) => String::new(),
        }
    }

    fn remote_user(&self) -> Option<String> {
        let value = self.observed().authorization.as_ref()?.to_str().ok()?;
        let encoded = value
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("basic "))?;
        let decoded = base64_decode(value.get(encoded.len()..)?.trim())?;
        let text = String::from_utf8(decoded).ok()?;
        text.split_once(':').map(|(user, _)| user.to_owned())
    }

    fn header(&self, index: usize) -> Option<&HeaderValue> {
        self.observed().headers.get(index)?.as_ref()
    }

    /// The default access-log line: one JSON object.
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(1024);
        let ctx = self.ctx;
        let origin = ctx.origin();
        out.push('{');
        let mut first = true;
        let mut field = |out: &mut String, key: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
        };
        let text = |out: &mut String, value: &[u8]| {
            out.push('"');
            push_json_escaped(out, value);
            out.push('"');
        };
        field(&mut out, "remote_addr");
        let _ = write!(out, "\"{}\"", ctx.client_ip());
        field(&mut out, "remote_user");
        text(&mut out, self.remote_user().unwrap_or_default().as_bytes());
        field(&mut out, "time");
        out.push('"');
        if let Some(stamp) = &self.stamp {
            out.push_str(&stamp.second.iso8601);
        }
        out.push('"');
        field(&mut out, "request");
        out.push('"');
        push_json_escaped(&mut out, ctx.method.as_str().as_bytes());
        out.push(' ');
        push_json_escaped(&mut out, self.uri_text().as_bytes());
        out.push(' ');
        out.push_str(self.version());
        out.push('"');
        field(&mut out, "status");
        let _ = write!(out, "{}", self.status());
        field(&mut out, "body_bytes_sent");
        let _ = write!(out, "{}", ctx.bytes_sent());
        field(&mut out, "http_referer");
        text(
            &mut out,
            self.observed()
                .referer
                .as_ref()
                .map_or(b"", |v| v.as_bytes()),
        );
        field(&mut out, "http_user_agent");
        text(
            &mut out,
            self.observed()
                .user_agent
                .as_ref()
                .map_or(b"", |v| v.as_bytes()),
        );
        field(&mut out, "request_length");
        let _ = write!(out, "{}", self.request_bytes);
        field(&mut out, "request_time");
        push_seconds(&mut out, self.request_time());
        field(&mut out, "proxy_upstream_name");
        text(&mut out, self.upstream_name().as_bytes());
        field(&mut out, "proxy_alternative_upstream_name");
        text(
            &mut out,
            self.canary()
                .map(ToString::to_string)
                .unwrap_or_default()
                .as_bytes(),
        );
        let contacted = ctx.attempts > 0;
        field(&mut out, "upstream_addr");
        match ctx.endpoint.filter(|_| contacted) {
            Some(addr) => {
                let _ = write!(out, "\"{addr}\"");
            }
            None => out.push_str("\"\""),
        }
        field(&mut out, "upstream_response_length");
        if ctx.upstream_status.is_some() {
            let _ = write!(out, "\"{}\"", ctx.bytes_sent());
        } else {
            out.push_str("\"\"");
        }
        field(&mut out, "upstream_response_time");
        out.push('"');
        if let Some(t) = self.upstream_response_time() {
            push_seconds(&mut out, t);
        }
        out.push('"');
        field(&mut out, "upstream_status");
        match self.upstream_status() {
            Some(status) => {
                let _ = write!(out, "\"{status}\"");
            }
            None => out.push_str("\"\""),
        }
        field(&mut out, "req_id");
        text(&mut out, ctx.request_id.as_bytes());
        field(&mut out, "namespace");
        text(
            &mut out,
            origin.map_or(b"", |o| o.ingress.namespace.as_bytes()),
        );
        field(&mut out, "ingress");
        text(&mut out, origin.map_or(b"", |o| o.ingress.name.as_bytes()));
        field(&mut out, "service");
        text(
            &mut out,
            ctx.upstream.as_ref().map_or(b"", |u| u.service.as_bytes()),
        );
        field(&mut out, "service_port");
        text(
            &mut out,
            ctx.upstream
                .as_ref()
                .map(|u| u.port.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        field(&mut out, "location_path");
        text(&mut out, origin.map_or(b"", |o| o.path.as_bytes()));
        field(&mut out, "host");
        text(&mut out, ctx.host.as_bytes());
        field(&mut out, "method");
        text(&mut out, ctx.method.as_str().as_bytes());
        field(&mut out, "path");
        text(&mut out, self.path().as_bytes());
        if let Some(trace) = &self.observed().trace {
            field(&mut out, "trace_id");
            let _ = write!(out, "\"{}\"", trace.trace_id_hex());
        }
        out.push('}');
        out
    }

    /// `$upstream_status`: the upstream's status, or for an attempt that failed, the status
    /// the client got (nginx logs 502/504 there).
    fn upstream_status(&self) -> Option<u16> {
        match self.ctx.upstream_status {
            Some(status) => Some(status.as_u16()),
            None if self.ctx.attempts > 0 => Some(self.status()),
            None => None,
        }
    }

    /// The line for an nginx `log_format` template.
    pub fn render(&self, template: &Template) -> String {
        let mut out = String::with_capacity(320);
        for segment in &template.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Var(var) => self.push_var(&mut out, var, template.escape),
            }
        }
        out
    }

    fn push_var(&self, out: &mut String, var: &Var, escape: LogEscape) {
        let ctx = self.ctx;
        let origin = ctx.origin();
        let mut scratch = String::new();
        let value: Option<&str> = match var {
            Var::RemoteAddr => {
                let _ = write!(scratch, "{}", ctx.client_ip());
                Some(&scratch)
            }
            Var::RemotePort => {
                let _ = write!(scratch, "{}", ctx.connection.client.port());
                Some(&scratch)
            }
            Var::RemoteUser => {
                scratch = self.remote_user().unwrap_or_default();
                (!scratch.is_empty()).then_some(scratch.as_str())
            }
            Var::TimeLocal => self.stamp.as_ref().map(|s| s.second.local.as_str()),
            Var::TimeIso8601 => self.stamp.as_ref().map(|s| s.second.iso8601.as_str()),
            Var::Msec => match &self.stamp {
                Some(stamp) => {
                    let _ = write!(scratch, "{}.{:03}", stamp.second.unix_seconds, stamp.millis);
                    Some(&scratch)
                }
                None => None,
            },
            Var::Request => {
                let _ = write!(
                    scratch,
                    "{} {} {}",
                    ctx.method,
                    self.uri_text(),
                    self.version()
                );
                Some(&scratch)
            }
            Var::RequestMethod => Some(ctx.method.as_str()),
            Var::RequestUri => Some(self.uri_text()),
            Var::Uri => Some(ctx.path.as_str()),
            Var::Args => self.query(),
            Var::IsArgs => Some(if self.query().is_some() { "?" } else { "" }),
            Var::ServerProtocol => Some(self.version()),
            Var::Scheme => Some(ctx.connection.scheme.as_str()),
            Var::Host | Var::ServerName => Some(ctx.host.as_str()),
            Var::ServerPort => {
                let _ = write!(scratch, "{}", ctx.connection.port);
                Some(&scratch)
            }
            Var::Status => {
                let _ = write!(scratch, "{}", self.status());
                Some(&scratch)
            }
            Var::BodyBytesSent => {
                let _ = write!(scratch, "{}", ctx.bytes_sent());
                Some(&scratch)
            }
            Var::BytesSent => {
                let _ = write!(scratch, "{}", self.bytes_sent);
                Some(&scratch)
            }
            Var::RequestLength => {
                let _ = write!(scratch, "{}", self.request_bytes);
                Some(&scratch)
            }
            Var::RequestTime => {
                push_seconds(&mut scratch, self.request_time());
                Some(&scratch)
            }
            Var::ProxyUpstreamName => {
                scratch = self.upstream_name();
                Some(&scratch)
            }
            Var::ProxyAlternativeUpstreamName => {
                scratch = self.canary().map(ToString::to_string).unwrap_or_default();
                Some(&scratch)
            }
            Var::UpstreamAddr => match ctx.endpoint.filter(|_| ctx.attempts > 0) {
                Some(addr) => {
                    let _ = write!(scratch, "{addr}");
                    Some(&scratch)
                }
                None => None,
            },
            Var::UpstreamResponseLength => match ctx.upstream_status {
                Some(_) => {
                    let _ = write!(scratch, "{}", ctx.bytes_sent());
                    Some(&scratch)
                }
                None => None,
            },
            Var::UpstreamResponseTime => seconds(&mut scratch, self.upstream_response_time()),
            Var::UpstreamConnectTime => seconds(&mut scratch, self.upstream_connect_time()),
            Var::UpstreamHeaderTime => seconds(&mut scratch, self.upstream_header_time()),
            Var::UpstreamStatus => match self.upstream_status() {
                Some(status) => {
                    let _ = write!(scratch, "{status}");
                    Some(&scratch)
                }
                None => None,
            },
            Var::ReqId => Some(ctx.request_id.as_str()),
            Var::Namespace => origin.map(|o| o.ingress.namespace.as_str()),
            Var::IngressName => origin.map(|o| o.ingress.name.as_str()),
            Var::ServiceName => ctx.upstream.as_ref().map(|u| u.service.as_str()),
            Var::ServicePort => match &ctx.upstream {
                Some(u) => {
                    let _ = write!(scratch, "{}", u.port);
                    Some(&scratch)
                }
                None => None,
            },
            Var::LocationPath => origin.map(|o| o.path.as_str()),
            Var::ProxyAddXForwardedFor => {
                // The incoming X-Forwarded-For is not kept; nginx appends the client to it.
                let _ = write!(scratch, "{}", ctx.client_ip());
                Some(&scratch)
            }
            Var::Hostname => Some(super::hostname()),
            Var::Pid => {
                let _ = write!(scratch, "{}", std::process::id());
                Some(&scratch)
            }
            Var::TraceId => match &self.observed().trace {
                Some(trace) => {
                    scratch = trace.trace_id_hex();
                    Some(&scratch)
                }
                None => None,
            },
            Var::SpanId => match &self.observed().trace {
                Some(trace) => {
                    scratch = trace.span_id_hex();
                    Some(&scratch)
                }
                None => None,
            },
            Var::Header(index) => {
                return push_value(out, self.header(*index).map(HeaderValue::as_bytes), escape);
            }
            Var::Cookie(index, name) => self
                .header(*index)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| cookie(v, name)),
            Var::Arg(name) => self.query().and_then(|q| query_arg(q, name)),
            Var::Unknown(_) => None,
        };
        push_value(out, value.map(str::as_bytes), escape);
    }
}

fn seconds(scratch: &mut String, value: Option<f64>) -> Option<&str> {
    push_seconds(scratch, value?);
    Some(scratch.as_str())
}

/// Appends a variable's value, or what nginx logs for an unset variable.
fn push_value(out: &mut String, value: Option<&[u8]>, escape: LogEscape) {
    match value {
        Some(value) => push_escaped(out, value, escape),
        None if escape == LogEscape::Default => out.push('-'),
        None => {}
    }
}

fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn query_arg<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Standard base64 (with or without padding); `None` on any other byte.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in text.bytes().filter(|b| *b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // The shift leaves at most 8 significant bits.
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_and_reads_cookies_and_args() {
        assert_eq!(base64_decode("YWxpY2U6c2VjcmV0").unwrap(), b"alice:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
        assert_eq!(cookie("a=1; session=xyz", "session"), Some("xyz"));
        assert_eq!(query_arg("x=1&y=2", "y"), Some("2"));
        assert_eq!(query_arg("x", "x"), Some(""));
    }
}
