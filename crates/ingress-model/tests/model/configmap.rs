//! Every ConfigMap key: a valid value changes the table (unless the key has no effect), an
//! invalid one keeps the default with a warning; ConfigMap values are the per-route defaults
//! and annotations override them.

use sluice_ingress_model::annotations::Status;
use sluice_ingress_model::config::{self, KeyParse};
use sluice_ingress_model::policy::*;
use sluice_ingress_model::*;

use super::fixtures::*;

/// Key, a valid value (different from the default), an invalid value if one exists.
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("keep-alive", "30", Some("x")),
    ("keep-alive-requests", "100", Some("x")),
    ("use-http2", "false", Some("x")),
    ("http2-max-concurrent-streams", "256", Some("x")),
    ("client-header-timeout", "30", Some("x")),
    ("client-body-timeout", "30s", Some("x")),
    ("client-header-buffer-size", "2k", Some("x")),
    ("large-client-header-buffers", "8 16k", Some("8k")),
    ("enable-underscores-in-headers", "true", Some("x")),
    ("ignore-invalid-headers", "false", Some("x")),
    ("use-proxy-protocol", "true", Some("x")),
    ("proxy-protocol-header-timeout", "10s", Some("x")),
    ("bind-address", "10.0.0.1", Some("x")),
    ("bind-address-ipv4", "10.0.0.2", Some("x")),
    ("bind-address-ipv6", "::1", Some("x")),
    ("disable-ipv6", "true", Some("x")),
    ("reuse-port", "false", Some("x")),
    ("server-tokens", "true", Some("x")),
    ("default-type", "application/octet-stream", Some("a;b")),
    ("proxy-connect-timeout", "10", Some("x")),
    ("proxy-read-timeout", "120", Some("x")),
    ("proxy-send-timeout", "120", Some("x")),
    ("proxy-next-upstream", "error", Some("x")),
    ("proxy-next-upstream-timeout", "5", Some("x")),
    ("proxy-next-upstream-tries", "1", Some("x")),
    ("retry-non-idempotent", "true", Some("x")),
    ("upstream-keepalive-connections", "10", Some("x")),
    ("upstream-keepalive-timeout", "30", Some("x")),
    ("upstream-keepalive-requests", "10", Some("x")),
    ("upstream-keepalive-time", "30m", Some("x")),
    ("proxy-body-size", "10m", Some("x")),
    ("client-body-buffer-size", "16k", Some("x")),
    ("proxy-request-buffering", "off", Some("x")),
    ("proxy-buffering", "on", Some("x")),
    ("proxy-buffer-size", "8k", Some("x")),
    ("proxy-buffers-number", "8", Some("0")),
    ("proxy-busy-buffers-size", "8k", Some("x")),
    ("proxy-max-temp-file-size", "0", Some("x")),
    ("proxy-http-version", "1.0", Some("3")),
    ("proxy-cookie-domain", "a b", Some("a")),
    ("proxy-cookie-path", "a b", Some("a")),
    ("proxy-redirect-from", "default", Some("a b")),
    ("proxy-redirect-to", "http://x/", Some("a b")),
    ("grpc-buffer-size-kb", "8", Some("x")),
    ("load-balance", "ewma", Some("x")),
    ("upstream-hash-by", "$request_uri", Some("$x_y")),
    ("service-upstream", "true", Some("x")),
    ("proxy-ssl-location-only", "true", Some("x")),
    ("worker-shutdown-timeout", "60s", Some("x")),
    ("use-forwarded-headers", "true", Some("x")),
    ("enable-real-ip", "true", Some("x")),
    ("forwarded-for-header", "CF-Connecting-IP", Some("a b")),
    ("compute-full-forwarded-for", "true", Some("x")),
    ("proxy-real-ip-cidr", "10.0.0.0/8", Some("x")),
    ("forwarded-for-proxy-protocol-header", "X-PP", Some("a b")),
    ("proxy-add-original-uri-header", "true", Some("x")),
    ("generate-request-id", "false", Some("x")),
    ("proxy-set-headers", "ingress/req", Some("a;b")),
    ("add-headers", "ingress/resp", Some("a;b")),
    ("hide-headers", "X-Powered-By", Some("a b")),
    ("allow-backend-server-header", "true", Some("x")),
    (
        "global-allowed-response-headers",
        "X-Frame-Options",
        Some("a b"),
    ),
    ("ssl-protocols", "TLSv1.3", Some("TLSv9")),
    (
        "ssl-ciphers",
        "ECDHE-RSA-AES128-GCM-SHA256",
        Some("AES128-SHA"),
    ),
    ("ssl-prefer-server-ciphers", "false", Some("x")),
    ("ssl-ecdh-curve", "X25519", Some("brainpool")),
    ("ssl-session-cache", "false", Some("x")),
    ("ssl-session-cache-size", "20m", Some("x")),
    ("ssl-session-timeout", "1h", Some("x")),
    ("ssl-session-tickets", "true", Some("x")),
    ("ssl-buffer-size", "8k", Some("x")),
    ("enable-ocsp", "true", Some("x")),
    ("ssl-reject-handshake", "true", Some("x")),
    ("ssl-early-data", "true", Some("x")),
    ("ssl-redirect", "false", Some("x")),
    ("force-ssl-redirect", "true", Some("x")),
    ("preserve-trailing-slash", "true", Some("x")),
    ("http-redirect-code", "301", Some("303")),
    ("no-tls-redirect-locations", "/acme", Some("acme")),
    ("hsts", "false", Some("x")),
    ("hsts-max-age", "60", Some("x")),
    ("hsts-include-subdomains", "false", Some("x")),
    ("hsts-preload", "true", Some("x")),
    ("relative-redirects", "true", Some("x")),
    ("use-port-in-redirects", "true", Some("x")),
    ("custom-http-errors", "404", Some("x")),
    ("disable-proxy-intercept-errors", "true", Some("x")),
    ("whitelist-source-range", "10.0.0.0/8", Some("x")),
    ("denylist-source-range", "10.0.0.0/8", Some("x")),
    ("block-cidrs", "1.2.3.4", Some("x")),
    ("block-user-agents", "~*bot", Some("~*(")),
    ("block-referers", "~evil", Some("~(")),
    ("limit-req-status-code", "429", Some("200")),
    ("limit-conn-status-code", "429", Some("x")),
    ("limit-rate", "10", Some("x")),
    ("limit-rate-after", "10", Some("x")),
    ("global-auth-url", "https://b.example.com/", Some("nope")),
    ("global-auth-method", "POST", Some("FETCH")),
    ("global-auth-signin", "https://s.example.com/", Some("nope")),
    ("global-auth-signin-redirect-param", "r", Some("a;b")),
    ("global-auth-response-headers", "X-User", Some("a b")),
    ("global-auth-request-redirect", "$request_uri", Some("$x_y")),
    ("global-auth-cache-key", "$remote_addr", Some("$x_y")),
    ("global-auth-cache-duration", "200 1m", Some("200 x")),
    ("global-auth-always-set-cookie", "true", Some("x")),
    ("no-auth-locations", "/health", Some("health")),
    ("log-format-upstream", "$remote_addr $status", None),
    ("log-format-escape-json", "true", Some("x")),
    ("log-format-escape-none", "true", Some("x")),
    ("disable-access-log", "true", Some("x")),
    ("disable-http-access-log", "true", Some("x")),
    ("skip-access-log-urls", "/healthz", Some("healthz")),
    ("enable-access-log-for-default-backend", "true", Some("x")),
    ("enable-opentelemetry", "true", Some("x")),
    ("opentelemetry-trust-incoming-span", "false", Some("x")),
    ("opentelemetry-operation-name", "op", Some("a;b")),
    ("use-gzip", "true", Some("x")),
    ("gzip-level", "5", Some("10")),
    ("gzip-min-length", "100", Some("x")),
    ("gzip-types", "text/html", Some("nope")),
    ("gzip-disable", "msie6", None),
    ("enable-brotli", "true", Some("x")),
    ("brotli-level", "6", Some("12")),
    ("brotli-min-length", "10", Some("x")),
    ("brotli-types", "text/css", Some("x")),
    ("allow-snippet-annotations", "true", Some("x")),
    ("annotations-risk-level", "Critical", Some("Extreme")),
    ("annotation-value-word-blocklist", "a,b", None),
    ("allow-cross-namespace-resources", "true", Some("x")),
    ("strict-validate-path-type", "false", Some("x")),
    ("worker-processes", "3", Some("many")),
    ("max-worker-connections", "100", Some("x")),
];

/// The snapshot and the base ConfigMap data every case starts from (a global auth URL so the
/// `global-auth-*` keys have something to modify, the header ConfigMaps to point at).
fn snapshot() -> Snapshot {
    let mut s = with_good();
    s.insert_config_map(config_map("ingress", "req", &[("X-A", "1")]));
    s.insert_config_map(config_map("ingress", "resp", &[("X-B", "2")]));
    s
}

const BASE: &[(&str, &str)] = &[("global-auth-url", "https://a.example.com/")];

/// Builds with `BASE` (minus `key`) plus `key: value` when a value is given.
fn build_with(key: &str, value: Option<&str>) -> Built {
    let mut data: Vec<(&str, &str)> = BASE.to_vec();
    data.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        data.push((key, v));
    }
    let mut s = snapshot();
    let opts = with_config(&mut s, &data);
    build(&s, &opts)
}

#[test]
fn every_parsed_key_has_a_case() {
    for key in config::keys().filter(|k| !matches!(k.parse, KeyParse::Ignored)) {
        assert!(
            CASES.iter().any(|(n, _, _)| *n == key.name),
            "no case for {}",
            key.name
        );
    }
}

#[test]
fn valid_values_take_effect_and_invalid_ones_keep_the_default() {
    for (key, valid, invalid) in CASES {
        let default = build_with(key, None);
        let spec = config::key_spec(key).unwrap();
        let built = build_with(key, Some(valid));
        let invalid_setting: Vec<_> = built
            .diagnostics
            .iter()
            .filter(|d| d.kind.code() == "invalid_setting")
            .collect();
        assert!(invalid_setting.is_empty(), "{key}: {invalid_setting:#?}");
        let no_effect = matches!(spec.status, Status::NoEffect(_));
        if !no_effect && *key != "proxy-redirect-to" {
            assert!(
                built.table != default.table,
                "{key}: {valid:?} had no effect"
            );
        }
        let Some(invalid) = invalid else { continue };
        let built = build_with(key, Some(invalid));
        let d: Vec<_> = built
            .diagnostics
            .iter()
            .filter(|d| d.kind.code() == "invalid_setting")
            .collect();
        assert_eq!(d.len(), 1, "{key}: {invalid:?}: {:#?}", built.diagnostics);
        assert_eq!(
            (d[0].severity, d[0].object.kind, d[0].field.as_str()),
            (
                Severity::Warning,
                Kind::ConfigMap,
                format!("data.{key}").as_str()
            )
        );
        assert!(
            built.table == default.table,
            "{key}: invalid value changed the table"
        );
        assert!(good_served(&built));
    }
}

#[test]
fn configmap_values_are_route_defaults_and_annotations_override_them() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("proxy-body-size", "2m"), ("proxy-read-timeout", "5")],
    ));
    let opts = with_config(
        &mut s,
        &[
            ("proxy-body-size", "50m"),
            ("proxy-read-timeout", "300"),
            ("ssl-redirect", "false"),
            ("whitelist-source-range", "10.0.0.0/8"),
            ("load-balance", "ewma"),
            ("limit-req-status-code", "429"),
        ],
    );
    let built = build(&s, &opts);
    let good = &route_of(&built, "good.com", "/").policy;
    assert_eq!(good.request_body.max_bytes, Some(50 << 20));
    assert_eq!(good.timeouts.read_ms, 300_000);
    assert!(!good.redirects.ssl_redirect);
    assert_eq!(good.access.allow, ["10.0.0.0/8".parse().unwrap()]);
    let annotated = &route_of(&built, "a.com", "/").policy;
    assert_eq!(annotated.request_body.max_bytes, Some(2 << 20));
    assert_eq!(annotated.timeouts.read_ms, 5_000);
    assert!(
        !annotated.redirects.ssl_redirect,
        "not annotated: the ConfigMap value"
    );
    let upstream = UpstreamId::new("default", "svc-b", PortRef::Number(80));
    assert_eq!(
        built.table.routes.upstreams[&upstream].policy.balance,
        Balance::Ewma
    );
    assert_eq!(built.table.routes.settings.limit_req_status, 429);
}

#[test]
fn global_defaults_are_ingress_nginx_defaults() {
    let settings = Settings::default();
    assert_eq!(settings.client.keepalive_timeout_ms, 75_000);
    assert_eq!(settings.client.keepalive_requests, 1000);
    assert_eq!(
        (
            settings.client.large_header_buffers,
            settings.client.large_header_buffer_bytes
        ),
        (4, 8192)
    );
    assert_eq!(
        settings.tls.protocols,
        [TlsVersion::Tls12, TlsVersion::Tls13]
    );
    assert_eq!(
        settings.tls.hsts,
        Hsts {
            enabled: true,
            max_age: 31_536_000,
            include_subdomains: true,
            preload: false
        }
    );
    assert_eq!(settings.tls.ciphers.len(), 6);
    assert_eq!(
        (settings.limit_req_status, settings.limit_conn_status),
        (503, 503)
    );
    assert_eq!(settings.forwarded.trusted, ["0.0.0.0/0".parse().unwrap()]);
    assert!(settings.forwarded.generate_request_id && !settings.forwarded.use_forwarded_headers);
    assert_eq!(settings.upstream.keepalive_connections, 320);
    assert_eq!(settings.shutdown_timeout_ms, 240_000);
    assert!(
        settings
            .access_log
            .format
            .starts_with("$remote_addr - $remote_user")
    );
    assert_eq!(settings.admission.risk_level, RiskLevel::High);
    assert!(!settings.admission.allow_cross_namespace && settings.admission.strict_path_type);
}

#[test]
fn header_configmaps_are_read_and_unknown_or_snippet_keys_reported() {
    let mut s = snapshot();
    let opts = with_config(
        &mut s,
        &[
            ("proxy-set-headers", "ingress/req"),
            ("add-headers", "resp"),
            ("no-such-key", "1"),
            ("http-snippet", "lua_shared_dict x 1m;"),
            ("server-name-hash-bucket-size", "128"),
        ],
    );
    let built = build(&s, &opts);
    let forwarded = &built.table.routes.settings.forwarded;
    assert_eq!(forwarded.request_headers["X-A"], "1");
    assert_eq!(forwarded.response_headers["X-B"], "2");
    let code = |c: &str| {
        built
            .diagnostics
            .iter()
            .filter(|d| d.kind.code() == c)
            .count()
    };
    assert_eq!(code("unknown_setting"), 1);
    assert_eq!(code("no_effect"), 2, "{:#?}", built.diagnostics);
    let snippet = built
        .diagnostics
        .iter()
        .find(|d| d.field == "data.http-snippet")
        .unwrap();
    assert_eq!(snippet.severity, Severity::Warning);
    let opts = with_config(&mut s, &[("proxy-set-headers", "ingress/missing")]);
    assert_eq!(
        build(&s, &opts)
            .diagnostics
            .iter()
            .filter(|d| d.kind.code() == "reference")
            .count(),
        1
    );
}

#[test]
fn strict_path_validation_drops_regex_like_typed_paths() {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "ing",
        Some("a.com"),
        vec![
            path("/api/v1.0", PathType::Prefix, "svc-a", 80),
            path("/ok", PathType::Prefix, "svc-a", 80),
        ],
    ));
    let built = build_default(&s);
    assert_eq!(codes_for(&built, "ing", "invalid_path").len(), 1);
    assert!(built.table.lookup("a.com", "/ok").is_some());
    let opts = with_config(&mut s, &[("strict-validate-path-type", "false")]);
    assert!(
        build(&s, &opts)
            .diagnostics
            .iter()
            .all(|d| d.kind.code() != "invalid_path")
    );
}
