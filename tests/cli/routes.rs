//! `sluice routes`: the compiled table as text (match kinds, targets, origins, non-default
//! policy fields) and JSON.

use super::support::*;

#[test]
fn prints_hosts_routes_upstreams_and_policies() {
    let dir = fixtures();
    let mut args = vec!["routes", "--manifests", dir.to_str().unwrap()];
    args.extend(TAKE_OVER);
    let (code, text) = sluice(&args);
    assert_eq!(code, 0);
    for expected in [
        "host api.example.com\n  Regex  /api(/|$)(.*) -> shop-api-8080 (weight 1) [10.1.1.20:8080]  # Ingress shop/api-rewrite path /api(/|$)(.*)\n      policy: request_body.max_bytes=8388608 rewrite.target=/$2 timeouts.read_ms=120000\n",
        "  Exact  /healthz -> shop-web-80 (weight 1) [10.1.0.10:8080, 10.1.0.11:8080]  # Ingress shop/shop path /healthz\n",
        "; canary shop-api-canary-8080 [10.1.2.30:8080] by header x-canary, weight 20/100 (Ingress shop/api-canary)",
        "host ec.example.com (tls: shop/ec-tls)\n",
        "  Prefix / -> shop-nowhere-80 (weight 1) [no endpoints]  # Ingress shop/orphan path /\n",
        "  Prefix / -> redirect 308 https://www.example.net$request_uri  # Ingress shop/moved path /\n",
        "host www.root.example.com\n  host policy: alias_of=root.example.com\n",
        "policy: auth.basic.credentials.admin=apr1 auth.basic.kind=basic auth.basic.realm=Authentication Required - admin request_body.max_bytes=20971520\n",
        "default -> 404\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        !text.contains("snippet.example.com"),
        "rejected Ingresses add no host"
    );

    args.extend(["--output", "json"]);
    let (code, json) = sluice(&args);
    assert_eq!(code, 0);
    let table: serde_json::Value = serde_json::from_str(&json).unwrap();
    let hosts = table["routes"]["virtual_hosts"].as_array().unwrap();
    assert!(hosts.iter().any(|h| h["host"] == "api.example.com"));
    assert_eq!(table["endpoints"]["shop-api-8080"][0], "10.1.1.20:8080");
}
