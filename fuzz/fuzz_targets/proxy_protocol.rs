//! The PROXY protocol header parser (`sluice_proxy::proxy_protocol::parse`) never panics, never
//! claims more bytes than it was given, and is consistent with itself: a header parses the same
//! without the bytes after it, and every strict prefix of a header is `Incomplete` (never
//! `Invalid`: a header split across reads must not be refused).
//!
//! The parser is a pure file that depends only on std and thiserror, so it is compiled here on
//! its own: depending on `sluice-proxy` would build its whole async and TLS stack into every
//! fuzz build. Should the file ever need the rest of its crate, depend on the crate instead.
#![no_main]

#[path = "../../crates/proxy/src/proxy_protocol.rs"]
#[allow(dead_code)]
mod proxy_protocol;

use libfuzzer_sys::fuzz_target;
use proxy_protocol::{ParseError, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = parse(data) else { return };
    assert!(header.len <= data.len() && header.len > 0);
    assert!(header.version == 1 || header.version == 2);
    let exact = data.get(..header.len).unwrap_or_default();
    assert_eq!(parse(exact), Ok(header));
    let cuts: Vec<usize> = if header.len <= 128 {
        (0..header.len).collect()
    } else {
        vec![0, 1, 12, 15, header.len / 2, header.len - 1]
    };
    for cut in cuts {
        let prefix = data.get(..cut).unwrap_or_default();
        assert_eq!(parse(prefix), Err(ParseError::Incomplete), "prefix of {cut} bytes");
    }
});
