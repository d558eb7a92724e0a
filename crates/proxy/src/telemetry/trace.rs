//! W3C trace context (`traceparent`). An incoming header is passed upstream unchanged (the
//! proxy forwards it like any other header); with `enable-opentelemetry` on and no usable
//! incoming header (or with `opentelemetry-trust-incoming-span: "false"`), the proxy starts a
//! new trace: random trace-id and span-id, sampled flag set. Spans are not exported.

use std::fmt::Write;

use http::HeaderValue;
use http::header::HeaderName;

/// The `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte id of the parent span as sent upstream.
    pub span_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
    /// Whether sluice started this trace.
    pub started: bool,
}

impl TraceContext {
    /// Parses a version-00 `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`); invalid or
    /// all-zero ids give `None`. Future versions are read by their first four fields.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let text = value.to_str().ok()?.trim();
        let mut parts = text.split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version.eq_ignore_ascii_case("ff") {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        let mut flag = [0u8; 1];
        hex_into(trace, &mut trace_id)?;
        hex_into(span, &mut span_id)?;
        hex_into(flags, &mut flag)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            flags: flag[0],
            started: false,
        })
    }

    /// A new sampled trace with random ids.
    pub fn start() -> Self {
        let mut bytes = [0u8; 24];
        if getrandom::fill(&mut bytes).is_err() {
            // Near impossible; fall back to the clock so ids still differ.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes[..16].copy_from_slice(&nanos.to_le_bytes());
            bytes[16..].copy_from_slice(&nanos.to_be_bytes()[..8]);
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        trace_id.copy_from_slice(&bytes[..16]);
        span_id.copy_from_slice(&bytes[16..]);
        // All-zero ids are invalid; one bit fixes the (2^-64) case.
        trace_id[15] |= u8::from(trace_id == [0; 16]);
        span_id[7] |= u8::from(span_id == [0; 8]);
        Self {
            trace_id,
            span_id,
            flags: 1,
            started: true,
        }
    }

    /// The `traceparent` value.
    pub fn header_value(&self) -> HeaderValue {
        let mut text = String::with_capacity(55);
        text.push_str("00-");
        push_hex(&mut text, &self.trace_id);
        text.push('-');
        push_hex(&mut text, &self.span_id);
        let _ = write!(text, "-{:02x}", self.flags);
        // Hex digits and dashes are always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        let mut text = String::with_capacity(32);
        push_hex(&mut text, &self.trace_id);
        text
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        let mut text = String::with_capacity(16);
        push_hex(&mut text, &self.span_id);
        text
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn hex_into(text: &str, out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let pair = text.get(i * 2..i * 2 + 2)?;
        if !pair
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let value =
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let trace = TraceContext::parse(&value).unwrap();
        assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(trace.header_value(), value);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert!(
                TraceContext::parse(&HeaderValue::from_static(bad)).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn started_traces_are_valid_and_differ() {
        let a = TraceContext::start();
        let b = TraceContext::start();
        assert_ne!(a.trace_id, b.trace_id);
        let parsed = TraceContext::parse(&a.header_value()).unwrap();
        assert_eq!(
            (parsed.trace_id, parsed.span_id, parsed.flags),
            (a.trace_id, a.span_id, 1)
        );
    }
}
