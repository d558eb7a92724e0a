//! Rule hosts and request hosts: parsing never panics; an accepted pattern is normal (lowercase,
//! no trailing dot, no port), parses to itself again and matches its own hosts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ingress_model::{HostPattern, ObjectKey, normalize_host};

fuzz_target!(|host: &str| {
    assert!(!normalize_host(host).bytes().any(|b| b.is_ascii_uppercase()));
    let _ = ObjectKey::parse(host, "default");
    let Ok(pattern) = HostPattern::parse(Some(host)) else { return };
    let _ = pattern.covered_by_certificate_name(host);
    match &pattern {
        HostPattern::Exact(h) => assert!(pattern.matches(&normalize_host(h)), "{h:?}"),
        HostPattern::Wildcard(s) => assert!(pattern.matches(&format!("x.{s}")), "{s:?}"),
        HostPattern::Any => return,
    }
    assert_eq!(HostPattern::parse(Some(&pattern.to_string())), Ok(pattern));
});
