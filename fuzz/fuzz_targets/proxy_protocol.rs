//! The PROXY protocol header parser never panics and never claims more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = sluice_proxy::proxy_protocol::parse(data) {
        assert!(header.len <= data.len());
        assert!(header.version == 1 || header.version == 2);
    }
});
