//! Path normalisation: never panics, idempotent, always absolute, no empty or dot segments, and
//! only canonical escapes of reserved bytes left. Ingress paths that parse are stored normal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ingress_model::{PathMatch, normalize_path};

fuzz_target!(|path: &str| {
    let once = normalize_path(path);
    assert!(once.starts_with('/'), "{path:?} -> {once:?}");
    assert_eq!(normalize_path(&once), once, "not idempotent on {path:?}");
    assert!(!once.contains("//"), "{path:?} -> {once:?}");
    assert!(once.split('/').all(|s| s != "." && s != ".."), "{path:?} -> {once:?}");
    check_escapes(&once);
    assert!(PathMatch::Exact(once.to_string()).matches(&once));
    for strict in [true, false] {
        if let Ok(PathMatch::Prefix(p)) = PathMatch::prefix(path, strict) {
            assert_eq!(normalize_path(&p), p);
            assert!(p == "/" || !p.ends_with('/'), "{p:?}");
            assert!(PathMatch::Prefix(p.clone()).matches(&once), "{p:?} vs {once:?}");
        }
    }
    if let Ok(regex) = PathMatch::regex(path) {
        let _ = regex.matches(&once);
    }
});

/// Every byte is a path character, `/` or an escape `%XY` (uppercase hex) of a byte that is
/// not unreserved (those are always decoded).
fn check_escapes(path: &str) {
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let value = hex
                .filter(|h| h.bytes().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(value) = value else { panic!("bad escape in {path:?}") };
            assert!(!(value.is_ascii_alphanumeric() || b"-._~".contains(&value)), "{path:?}");
            i += 3;
        } else {
            assert!(b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b), "{path:?}");
            i += 1;
        }
    }
}
