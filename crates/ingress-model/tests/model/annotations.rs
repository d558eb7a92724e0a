//! Every annotation: a valid value is accepted, an invalid one rejects its Ingress (and only
//! it); then the typed effect of each group.

use sluice_ingress_model::annotations;
use sluice_ingress_model::policy::*;
use sluice_ingress_model::*;

use super::fixtures::*;

/// Every annotation with a parser: a valid value and, where one exists, an invalid value.
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("rewrite-target", "/$1", Some("/$document_root")),
    ("use-regex", "true", Some("yes")),
    ("app-root", "/app", Some("app")),
    ("permanent-redirect", "https://x.com/y", Some("/relative")),
    ("permanent-redirect-code", "308", Some("abc")),
    ("temporal-redirect", "https://x.com", Some("x.com")),
    ("temporal-redirect-code", "307", Some("-")),
    ("from-to-www-redirect", "true", Some("nope")),
    ("server-alias", "b.com, c.com", Some("bad host!")),
    ("x-forwarded-prefix", "/api", Some("api prefix")),
    ("preserve-trailing-slash", "true", Some("x")),
    ("relative-redirects", "false", Some("x")),
    ("use-port-in-redirects", "true", Some("x")),
    ("default-backend", "svc-c", Some("Bad_Name")),
    ("custom-http-errors", "404,503", Some("404,abc")),
    ("disable-proxy-intercept-errors", "true", Some("x")),
    ("ssl-redirect", "false", Some("x")),
    ("force-ssl-redirect", "true", Some("x")),
    ("ssl-passthrough", "true", Some("x")),
    (
        "ssl-ciphers",
        "ECDHE-RSA-AES128-GCM-SHA256",
        Some("AES128-SHA"),
    ),
    ("ssl-prefer-server-ciphers", "true", Some("x")),
    ("auth-tls-secret", "default/ca", Some("a/b/c")),
    ("auth-tls-verify-client", "optional", Some("maybe")),
    ("auth-tls-verify-depth", "2", Some("-1")),
    ("auth-tls-error-page", "https://x.com/err", Some("/err")),
    ("auth-tls-pass-certificate-to-upstream", "true", Some("x")),
    ("auth-tls-match-cn", "CN=client", Some("client")),
    ("backend-protocol", "GRPC", Some("SOAP")),
    ("proxy-http-version", "1.0", Some("2")),
    ("upstream-vhost", "internal.svc", Some("a b")),
    ("service-upstream", "true", Some("x")),
    ("connection-proxy-header", "keep-alive", Some("a;b")),
    ("load-balance", "ewma", Some("random")),
    ("upstream-hash-by", "$request_uri", Some("$document_root")),
    ("upstream-hash-by-subset", "true", Some("x")),
    ("upstream-hash-by-subset-size", "5", Some("0")),
    ("proxy-ssl-secret", "default/client", Some("")),
    ("proxy-ssl-verify", "off", Some("maybe")),
    ("proxy-ssl-verify-depth", "2", Some("x")),
    ("proxy-ssl-name", "backend.internal", Some("bad name")),
    ("proxy-ssl-server-name", "on", Some("x")),
    ("proxy-ssl-ciphers", "HIGH", Some("A;B")),
    ("proxy-ssl-protocols", "TLSv1.2 TLSv1.3", Some("TLSv9")),
    ("fastcgi-index", "index.php", Some("a;b")),
    ("fastcgi-params-configmap", "cm", Some("a/b/c")),
    ("proxy-connect-timeout", "10", Some("10s")),
    ("proxy-send-timeout", "120", Some("-5")),
    ("proxy-read-timeout", "3600", Some("x")),
    (
        "proxy-next-upstream",
        "error timeout http_502",
        Some("sometimes"),
    ),
    ("proxy-next-upstream-timeout", "10", Some("x")),
    ("proxy-next-upstream-tries", "5", Some("x")),
    ("proxy-request-buffering", "off", Some("x")),
    ("proxy-buffering", "on", Some("x")),
    ("proxy-buffer-size", "16k", Some("16 kb")),
    ("proxy-buffers-number", "8", Some("0")),
    ("proxy-busy-buffers-size", "16k", Some("x")),
    ("proxy-max-temp-file-size", "0", Some("x")),
    ("proxy-body-size", "8m", Some("8mb")),
    ("client-body-buffer-size", "1m", Some("x")),
    ("proxy-cookie-domain", "a.com b.com", Some("a.com")),
    ("proxy-cookie-path", "/ /app", Some("one two three")),
    ("proxy-redirect-from", "http://a/", Some("a b")),
    ("proxy-redirect-to", "http://b/", Some("a b")),
    ("canary", "false", Some("x")),
    ("canary-by-header", "X-Canary", Some("X Canary")),
    ("canary-by-header-value", "yes", Some("a;b")),
    ("canary-by-header-pattern", "^v[0-9]+$", Some("(")),
    ("canary-by-cookie", "canary", Some("a b")),
    ("canary-weight", "10", Some("x")),
    ("canary-weight-total", "1000", Some("0")),
    ("limit-rps", "10", Some("x")),
    ("limit-rpm", "100", Some("x")),
    ("limit-connections", "5", Some("x")),
    ("limit-burst-multiplier", "3", Some("x")),
    ("limit-rate", "100", Some("x")),
    ("limit-rate-after", "10", Some("x")),
    ("limit-allowlist", "10.0.0.0/8", Some("10.0.0.0/33")),
    ("limit-whitelist", "10.0.0.0/8", Some("10.0.0.0/33")),
    (
        "allowlist-source-range",
        "10.0.0.0/8,192.168.0.1",
        Some("nope"),
    ),
    ("whitelist-source-range", "10.0.0.0/8", Some("nope")),
    ("denylist-source-range", "1.2.3.4", Some("x")),
    ("enable-cors", "true", Some("x")),
    (
        "cors-allow-origin",
        "https://a.com, https://*.b.com:8443",
        None,
    ),
    ("cors-allow-methods", "GET, POST", Some("GET;rm")),
    (
        "cors-allow-headers",
        "X-Custom, Authorization",
        Some("X Custom"),
    ),
    ("cors-expose-headers", "*", Some("a;b")),
    ("cors-allow-credentials", "false", Some("x")),
    ("cors-max-age", "600", Some("x")),
    ("auth-type", "basic", None),
    ("auth-secret", "htpasswd", Some("a/b/c")),
    ("auth-secret-type", "auth-map", Some("other")),
    ("auth-realm", "Protected", Some("a\"b")),
    (
        "auth-url",
        "https://auth.example.com/check",
        Some("not a url"),
    ),
    (
        "auth-signin",
        "https://auth.example.com/start?rd=$escaped_request_uri",
        Some("start"),
    ),
    ("auth-signin-redirect-param", "redirect", Some("a b")),
    ("auth-response-headers", "X-User, X-Email", Some("X User")),
    (
        "auth-request-redirect",
        "$request_uri",
        Some("$document_root"),
    ),
    ("auth-method", "POST", Some("FETCH")),
    ("auth-proxy-set-headers", "auth-headers", Some("a/b/c")),
    (
        "auth-cache-key",
        "$remote_addr$http_authorization",
        Some("$nope_x"),
    ),
    (
        "auth-cache-duration",
        "200 202 10m, 401 5m",
        Some("200 forever"),
    ),
    ("auth-keepalive", "10", Some("x")),
    ("auth-keepalive-share-vars", "true", Some("x")),
    ("auth-keepalive-requests", "100", Some("x")),
    ("auth-keepalive-timeout", "30", Some("x")),
    ("auth-always-set-cookie", "true", Some("x")),
    ("enable-global-auth", "false", Some("x")),
    ("satisfy", "any", Some("some")),
    ("affinity", "cookie", Some("ip")),
    ("affinity-mode", "persistent", Some("x")),
    ("affinity-canary-behavior", "legacy", Some("x")),
    ("session-cookie-name", "route", Some("a b")),
    ("session-cookie-path", "/app", Some("app")),
    ("session-cookie-domain", ".example.com", Some("bad domain")),
    ("session-cookie-max-age", "3600", Some("x")),
    ("session-cookie-expires", "3600", Some("x")),
    ("session-cookie-samesite", "Lax", Some("Sometimes")),
    (
        "session-cookie-conditional-samesite-none",
        "true",
        Some("x"),
    ),
    ("session-cookie-secure", "true", Some("x")),
    ("session-cookie-change-on-failure", "true", Some("x")),
    ("session-cookie-partitioned", "true", Some("x")),
    ("custom-headers", "resp-headers", Some("a/b/c")),
    (
        "mirror-target",
        "https://mirror.example.com$request_uri",
        Some("mirror"),
    ),
    ("mirror-request-body", "off", Some("x")),
    ("mirror-host", "mirror.example.com", Some("bad host")),
    ("enable-access-log", "false", Some("x")),
    ("enable-rewrite-log", "true", Some("x")),
    ("enable-opentelemetry", "true", Some("x")),
    ("opentelemetry-trust-incoming-span", "false", Some("x")),
    ("opentelemetry-operation-name", "op", Some("a;b")),
    ("enable-modsecurity", "true", Some("x")),
    ("enable-owasp-core-rules", "true", Some("x")),
    (
        "modsecurity-transaction-id",
        "$request_id",
        Some("$document_root"),
    ),
    ("http2-push-preload", "true", Some("x")),
];

fn invalid_for<'a>(built: &'a Built, name: &str) -> Vec<&'a Diagnostic> {
    codes_for(built, "ing", "invalid_annotation")
        .into_iter()
        .filter(|d| d.field == format!("metadata.annotations.{}", ann(name)))
        .collect()
}

#[test]
fn every_parsed_annotation_has_a_case() {
    for spec in annotations::registry().filter(|s| s.parse.is_some()) {
        assert!(
            CASES.iter().any(|(n, _, _)| *n == spec.name),
            "no test case for {}",
            spec.name
        );
    }
}

#[test]
fn valid_values_are_accepted_and_invalid_ones_reject_only_their_ingress() {
    for (name, valid, invalid) in CASES {
        let mut s = with_good();
        s.insert_ingress(annotated("ing", "a.com", &[(name, valid)]));
        let built = build_default(&s);
        assert!(
            invalid_for(&built, name).is_empty(),
            "{name}: {valid:?} rejected: {:#?}",
            built.diagnostics
        );
        assert!(good_served(&built));
        let Some(invalid) = invalid else { continue };
        let mut s = with_good();
        s.insert_ingress(annotated("ing", "a.com", &[(name, invalid)]));
        let built = build_default(&s);
        let found = invalid_for(&built, name);
        assert_eq!(
            found.len(),
            1,
            "{name}: {invalid:?} accepted: {:#?}",
            built.diagnostics
        );
        assert_eq!(found[0].severity, Severity::Error);
        let DiagnosticKind::InvalidAnnotation {
            annotation,
            value,
            reason,
        } = &found[0].kind
        else {
            panic!("{name}");
        };
        assert_eq!(
            (annotation.as_str(), value.as_str()),
            (ann(name).as_str(), *invalid)
        );
        assert!(!reason.is_empty());
        assert!(
            built.table.lookup("a.com", "/").is_none(),
            "{name}: rejected Ingress served"
        );
        assert!(good_served(&built), "{name}");
    }
}

fn policy(annotations: &[(&str, &str)]) -> (Built, std::sync::Arc<Policy>) {
    let mut s = with_good();
    s.insert_ingress(annotated("ing", "a.com", annotations));
    let built = build_default(&s);
    let policy = route_of(&built, "a.com", "/").policy.clone();
    (built, policy)
}

#[test]
fn absent_annotations_give_ingress_nginx_defaults() {
    let (_, p) = policy(&[]);
    assert_eq!(
        p.timeouts,
        Timeouts {
            connect_ms: 5_000,
            read_ms: 60_000,
            send_ms: 60_000
        }
    );
    assert_eq!(p.request_body.max_bytes, Some(1 << 20));
    assert_eq!(p.request_body.buffer_bytes, 8 << 10);
    assert!(p.request_body.buffering);
    assert_eq!(p.retry.tries, 3);
    assert!(p.retry.on.error && p.retry.on.timeout && !p.retry.on.non_idempotent);
    assert!(p.redirects.ssl_redirect && !p.redirects.force_ssl_redirect);
    assert_eq!(p.redirects.code, 308);
    assert_eq!(p.response_buffering.header_bytes, 4096);
    assert!(!p.response_buffering.enabled);
    assert_eq!(p.rate_limit.burst_multiplier, 5);
    assert!(p.auth.global && p.auth.basic.is_none() && p.deny.is_none());
    assert!(p.cors.is_none() && p.rewrite.is_none() && p.mirror.is_none());
    assert!(p.logging.access_log);
}

#[test]
fn proxy_annotations_fill_the_route_policy() {
    let (_, p) = policy(&[
        ("proxy-connect-timeout", "10"),
        ("proxy-read-timeout", "3600"),
        ("proxy-send-timeout", "120"),
        ("proxy-body-size", "0"),
        ("client-body-buffer-size", "1m"),
        ("proxy-request-buffering", "off"),
        ("proxy-buffering", "on"),
        ("proxy-buffer-size", "16k"),
        ("proxy-buffers-number", "8"),
        (
            "proxy-next-upstream",
            "error http_502 http_503 non_idempotent",
        ),
        ("proxy-next-upstream-tries", "0"),
        ("proxy-next-upstream-timeout", "15"),
        ("proxy-http-version", "1.0"),
        ("upstream-vhost", "$service_name.internal"),
        ("proxy-cookie-path", "/ /app"),
        ("proxy-redirect-from", "http://internal/"),
        ("proxy-redirect-to", "https://public/"),
        ("limit-rps", "10"),
        ("limit-burst-multiplier", "3"),
        ("limit-rate", "100"),
        ("limit-whitelist", "10.0.0.0/8"),
        ("whitelist-source-range", "192.168.0.0/16, 10.1.2.3"),
        ("denylist-source-range", "1.2.3.4"),
        ("satisfy", "any"),
        ("enable-access-log", "false"),
        ("custom-http-errors", "404, 503"),
        ("disable-proxy-intercept-errors", "true"),
    ]);
    assert_eq!(
        p.timeouts,
        Timeouts {
            connect_ms: 10_000,
            read_ms: 3_600_000,
            send_ms: 120_000
        }
    );
    assert_eq!(
        p.request_body,
        RequestBody {
            max_bytes: None,
            buffer_bytes: 1 << 20,
            buffering: false
        }
    );
    assert!(p.response_buffering.enabled);
    assert_eq!(
        (
            p.response_buffering.header_bytes,
            p.response_buffering.buffers
        ),
        (16 << 10, 8)
    );
    assert!(p.retry.on.error && !p.retry.on.timeout && p.retry.on.non_idempotent);
    assert_eq!(
        p.retry.on.statuses.iter().copied().collect::<Vec<_>>(),
        [502, 503]
    );
    assert_eq!((p.retry.tries, p.retry.timeout_ms), (0, 15_000));
    assert_eq!(p.upstream_request.http_version, HttpVersion::Http10);
    assert_eq!(
        p.upstream_request.host.as_ref().unwrap().text,
        "$service_name.internal"
    );
    assert_eq!(
        p.response_rewrite.cookie_path,
        Some(("/".into(), "/app".into()))
    );
    assert_eq!(
        p.response_rewrite.redirect,
        ProxyRedirect::Replace {
            from: "http://internal/".into(),
            to: "https://public/".into()
        }
    );
    assert_eq!((p.rate_limit.rps, p.rate_limit.burst_multiplier), (10, 3));
    assert_eq!(p.rate_limit.rate_bytes_per_sec, 100 * 1024);
    assert_eq!(p.rate_limit.allowlist, ["10.0.0.0/8".parse().unwrap()]);
    assert_eq!(
        p.access.allow,
        [
            "192.168.0.0/16".parse().unwrap(),
            "10.1.2.3/32".parse().unwrap()
        ]
    );
    assert_eq!(p.access.deny, ["1.2.3.4/32".parse().unwrap()]);
    assert_eq!(p.access.satisfy, Satisfy::Any);
    assert!(!p.logging.access_log);
    assert_eq!(
        p.errors.codes.iter().copied().collect::<Vec<_>>(),
        [404, 503]
    );
    assert!(!p.errors.intercept);
}

#[test]
fn cors_is_typed_with_its_defaults() {
    let (built, p) = policy(&[
        ("enable-cors", "true"),
        (
            "cors-allow-origin",
            "https://a.com, https://*.b.com:8443, ftp://bad",
        ),
        ("cors-allow-credentials", "false"),
    ]);
    let cors = p.cors.as_ref().unwrap();
    assert_eq!(
        cors.allow_origin,
        [
            CorsOrigin::Exact("https://a.com".into()),
            CorsOrigin::Wildcard {
                scheme: "https".into(),
                suffix: "b.com".into(),
                port: Some(8443)
            }
        ]
    );
    assert!(!cors.allow_credentials);
    assert_eq!(cors.allow_methods, Cors::default().allow_methods);
    assert_eq!(cors.max_age, 1_728_000);
    assert_eq!(
        codes_for(&built, "ing", "unsupported").len(),
        1,
        "the skipped origin is reported"
    );
    let (_, p) = policy(&[
        ("enable-cors", "true"),
        ("cors-allow-origin", "https://a.com, *"),
    ]);
    assert_eq!(p.cors.as_ref().unwrap().allow_origin, [CorsOrigin::Any]);
    let (_, p) = policy(&[("cors-allow-origin", "https://a.com")]);
    assert!(p.cors.is_none(), "CORS needs enable-cors");
}

#[test]
fn redirect_annotations_make_redirect_routes_temporal_first() {
    let (_, route_policy) = policy(&[("app-root", "/app")]);
    assert_eq!(route_policy.redirects.app_root.as_deref(), Some("/app"));
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("permanent-redirect", "https://new.example.com$request_uri"),
            ("temporal-redirect", "https://tmp.example.com/"),
            ("temporal-redirect-code", "307"),
        ],
    ));
    s.insert_ingress(annotated(
        "perm",
        "p.com",
        &[
            ("permanent-redirect", "https://new.example.com$request_uri"),
            ("permanent-redirect-code", "399"),
        ],
    ));
    let built = build_default(&s);
    let Action::Redirect(r) = &route_of(&built, "a.com", "/x").action else {
        panic!("redirect")
    };
    assert_eq!(
        (r.location.as_str(), r.status),
        ("https://tmp.example.com/", 307)
    );
    let Action::Redirect(r) = &route_of(&built, "p.com", "/x").action else {
        panic!("redirect")
    };
    assert_eq!(
        (r.location.as_str(), r.status),
        ("https://new.example.com$request_uri", 301)
    );
    assert_eq!(r.template.parts.len(), 2);
    assert_eq!(
        codes_for(&built, "perm", "unsupported").len(),
        1,
        "out-of-range code reported"
    );
}

#[test]
fn rewrite_target_is_stored_with_captures_and_forwarded_prefix() {
    let mut s = with_good();
    let mut ing = annotated(
        "ing",
        "a.com",
        &[("rewrite-target", "/$2"), ("x-forwarded-prefix", "/api")],
    );
    ing.rules[0].paths = vec![path(
        "/api(/|$)(.*)",
        PathType::ImplementationSpecific,
        "svc-a",
        80,
    )];
    s.insert_ingress(ing);
    let built = build_default(&s);
    let route = route_of(&built, "a.com", "/api/users");
    assert_eq!(route.path, PathMatch::Regex("/api(/|$)(.*)".into()));
    let rewrite = route.policy.rewrite.as_ref().unwrap();
    assert_eq!(rewrite.target.max_capture(), 2);
    assert_eq!(
        route.policy.upstream_request.forwarded_prefix.as_deref(),
        Some("/api")
    );
    let (_, p) = policy(&[("x-forwarded-prefix", "/api")]);
    assert_eq!(
        p.upstream_request.forwarded_prefix, None,
        "only with rewrite-target"
    );
}

#[test]
fn upstream_annotations_fill_the_upstream_policy() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("backend-protocol", "grpcs"),
            ("upstream-hash-by", "$http_x_user"),
            ("upstream-hash-by-subset", "true"),
            ("affinity", "cookie"),
            ("session-cookie-name", "route"),
            ("session-cookie-samesite", "None"),
            ("session-cookie-max-age", "60"),
            ("affinity-mode", "persistent"),
        ],
    ));
    let built = build_default(&s);
    let upstream =
        &built.table.routes.upstreams[&UpstreamId::new("default", "svc-a", PortRef::Number(80))];
    assert_eq!(
        route_of(&built, "a.com", "/")
            .policy
            .upstream_request
            .protocol,
        BackendProtocol::Grpcs
    );
    let p = &upstream.policy;
    let Balance::ConsistentHash { key, subset } = &p.balance else {
        panic!("{:?}", p.balance)
    };
    assert_eq!((key.text.as_str(), *subset), ("$http_x_user", Some(3)));
    let affinity = p.affinity.as_ref().unwrap();
    assert_eq!(affinity.mode, AffinityMode::Persistent);
    assert_eq!(affinity.cookie.name, "route");
    assert_eq!(affinity.cookie.samesite, Some(SameSite::None));
    assert_eq!(affinity.cookie.max_age, Some(60));
    let good =
        &built.table.routes.upstreams[&UpstreamId::new("default", "svc-b", PortRef::Number(80))];
    assert_eq!(good.policy, UpstreamPolicy::default());
}

#[test]
fn oldest_ingress_keeps_a_shared_upstreams_policy() {
    let mut s = services();
    let mut first = annotated("first", "a.com", &[("load-balance", "ewma")]);
    first.created = Some(1);
    let mut second = annotated("second", "b.com", &[("load-balance", "round_robin")]);
    second.created = Some(2);
    let mut plain = annotated("plain", "c.com", &[]);
    plain.created = Some(0);
    s.insert_ingress(first);
    s.insert_ingress(second);
    s.insert_ingress(plain);
    let built = build_default(&s);
    let id = UpstreamId::new("default", "svc-a", PortRef::Number(80));
    assert_eq!(
        built.table.routes.upstreams[&id].policy.balance,
        Balance::Ewma
    );
    let conflicts = codes_for(&built, "second", "upstream_conflict");
    assert_eq!(conflicts.len(), 1);
    assert!(codes_for(&built, "plain", "upstream_conflict").is_empty());
}

#[test]
fn backend_protocol_is_per_location_on_a_shared_upstream() {
    // ingress-nginx sets the protocol per location: gRPC on one Ingress does not switch
    // another Ingress of the same Service port to HTTP/2.
    let mut s = services();
    let mut plain = annotated("plain", "a.com", &[]);
    plain.created = Some(0);
    let mut grpc = annotated("grpc", "b.com", &[("backend-protocol", "GRPC")]);
    grpc.created = Some(1);
    let mut tls = annotated("tls", "c.com", &[("backend-protocol", "HTTPS")]);
    tls.created = Some(2);
    s.insert_ingress(plain);
    s.insert_ingress(grpc);
    s.insert_ingress(tls);
    let built = build_default(&s);
    let protocol = |host: &str| route_of(&built, host, "/").policy.upstream_request.protocol;
    assert_eq!(protocol("a.com"), BackendProtocol::Http);
    assert_eq!(protocol("b.com"), BackendProtocol::Grpc);
    assert_eq!(protocol("c.com"), BackendProtocol::Https);
    for name in ["plain", "grpc", "tls"] {
        assert!(
            codes_for(&built, name, "upstream_conflict").is_empty(),
            "{name}"
        );
    }
}

#[test]
fn fastcgi_fails_closed() {
    let (built, p) = policy(&[("backend-protocol", "FCGI")]);
    assert_eq!(p.deny.as_ref().map(|d| d.status), Some(503));
    assert_eq!(codes_for(&built, "ing", "fail_closed").len(), 1);
}

#[test]
fn no_effect_annotations_are_reported_as_info() {
    let (built, _) = policy(&[("enable-modsecurity", "true"), ("secure-backends", "true")]);
    let infos = codes_for(&built, "ing", "no_effect");
    assert_eq!(infos.len(), 2, "{infos:#?}");
    assert!(infos.iter().all(|d| d.severity == Severity::Info));
}

#[test]
fn mirror_and_custom_headers() {
    let mut s = with_good();
    s.insert_config_map(config_map(
        "default",
        "resp",
        &[("X-Frame-Options", "DENY")],
    ));
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("mirror-target", "https://mirror.example.com$request_uri"),
            ("mirror-request-body", "off"),
            ("custom-headers", "resp"),
        ],
    ));
    let mut opts = with_config(
        &mut s,
        &[("global-allowed-response-headers", "X-Frame-Options")],
    );
    opts.controller_config = Some(ObjectKey::new("ingress", "sluice"));
    let built = build(&s, &opts);
    let p = &route_of(&built, "a.com", "/").policy;
    let mirror = p.mirror.as_ref().unwrap();
    assert!(!mirror.request_body);
    assert_eq!(mirror.target.text, "https://mirror.example.com$request_uri");
    assert_eq!(
        p.response_headers
            .get("X-Frame-Options")
            .map(String::as_str),
        Some("DENY")
    );
    assert!(p.deny.is_none());
    // Without the allow list the route fails closed, as in ingress-nginx.
    let built = build_default(&s);
    let p = &route_of(&built, "a.com", "/").policy;
    assert_eq!(p.deny.as_ref().map(|d| d.status), Some(503));
    assert!(good_served(&built));
}

#[test]
fn default_backend_annotation_names_a_service_of_the_namespace() {
    let (built, p) = policy(&[("default-backend", "svc-c")]);
    assert_eq!(
        p.default_backend,
        Some(UpstreamId::new("default", "svc-c", PortRef::Number(80)))
    );
    assert!(
        built
            .table
            .routes
            .upstreams
            .contains_key(p.default_backend.as_ref().unwrap())
    );
    assert!(
        built
            .table
            .endpoints
            .get(p.default_backend.as_ref().unwrap())
            .is_some()
    );
    let (built, p) = policy(&[("default-backend", "ghost")]);
    assert_eq!(p.default_backend, None);
    assert_eq!(codes_for(&built, "ing", "reference").len(), 1);
}

#[test]
fn service_upstream_uses_the_cluster_ip() {
    let mut s = with_good();
    let mut svc = service("default", "svc-a", 80);
    svc.cluster_ip = Some("10.96.0.10".into());
    s.insert_service(svc);
    s.insert_ingress(annotated("ing", "a.com", &[("service-upstream", "true")]));
    let built = build_default(&s);
    let id = UpstreamId::new("default", "svc-a", PortRef::Number(80));
    assert!(built.table.routes.upstreams[&id].policy.service_upstream);
    let set: Vec<String> = built
        .table
        .endpoints
        .get(&id)
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(set, ["10.96.0.10:80"]);
}

#[test]
fn sluice_annotations_set_the_aggregate_limits() {
    let mut s = with_good();
    let mut ing = annotated("ing", "a.com", &[("limit-rps", "5")]);
    ing.annotations
        .insert("sluice.dev/limit-rps-total".into(), "100".into());
    ing.annotations
        .insert("sluice.dev/limit-connections-total".into(), "20".into());
    ing.annotations
        .insert("sluice.dev/no-such-thing".into(), "1".into());
    s.insert_ingress(ing);
    let built = build_default(&s);
    let limits = &route_of(&built, "a.com", "/").policy.rate_limit;
    assert_eq!(
        (limits.rps, limits.rps_total, limits.connections_total),
        (5, 100, 20)
    );
    assert_eq!(codes_for(&built, "ing", "unknown_annotation").len(), 1);

    let mut s = with_good();
    let mut bad = annotated("ing", "a.com", &[]);
    bad.annotations
        .insert("sluice.dev/limit-rps-total".into(), "many".into());
    s.insert_ingress(bad);
    let built = build_default(&s);
    assert!(built.table.lookup("a.com", "/").is_none());
    assert_eq!(codes_for(&built, "ing", "invalid_annotation").len(), 1);
    assert!(good_served(&built));
    let names: Vec<&str> = annotations::sluice_registry().map(|s| s.name).collect();
    assert_eq!(names, ["limit-rps-total", "limit-connections-total"]);
    assert!(
        names
            .iter()
            .all(|n| !annotations::sluice_description(n).is_empty())
    );
}
