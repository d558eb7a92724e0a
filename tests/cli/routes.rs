//! `sluice routes`: the compiled table as text and JSON.

use super::support::*;

#[test]
fn prints_hosts_routes_upstreams_and_policies() {
    let dir = fixtures();
    let mut args = vec!["routes", "--manifests", dir.to_str().unwrap()];
    args.extend(TAKE_OVER);
    let (code, text) = sluice(&args);
    assert_eq!(code, 0);
    assert!(text.contains("host api.example.com"), "{text}");
    let _ = text;
}
