//! Authentication and client certificates: credentials from Secrets, external auth, global
//! auth, and fail-closed (503) misconfiguration that never rejects the Ingress.

use sluice_ingress_model::policy::*;
use sluice_ingress_model::*;

use super::fixtures::*;

const HTPASSWD: &str = "alice:$apr1$Xy1$abcdefghijklmnopqrstuv\nbob:$2y$05$0123456789012345678901uabcdefghijklmnopqrstuvwxyzABCD\n";

fn basic(secret_ns: &str, extra: &[(&str, &str)]) -> Snapshot {
    let mut s = with_good();
    s.insert_secret(opaque(secret_ns, "htpasswd", &[("auth", HTPASSWD)]));
    let secret_ref = format!("{secret_ns}/htpasswd");
    let mut annotations = vec![
        ("auth-type", "basic"),
        ("auth-secret", secret_ref.as_str()),
        ("auth-realm", "Authentication Required - foo"),
    ];
    annotations.extend_from_slice(extra);
    s.insert_ingress(annotated("ing", "a.com", &annotations));
    s
}

fn denied(built: &Built) -> Option<u16> {
    route_of(built, "a.com", "/")
        .policy
        .deny
        .as_ref()
        .map(|d| d.status)
}

#[test]
fn basic_auth_reads_htpasswd_hashes() {
    let built = build_default(&basic("default", &[]));
    let policy = &route_of(&built, "a.com", "/").policy;
    assert_eq!(policy.deny, None, "{:#?}", built.diagnostics);
    let auth = policy.auth.basic.as_ref().unwrap();
    assert_eq!(auth.kind, BasicAuthKind::Basic);
    assert_eq!(auth.realm, "Authentication Required - foo");
    let schemes: Vec<_> = auth
        .credentials
        .0
        .iter()
        .map(|(u, h)| (u.as_str(), h.scheme))
        .collect();
    assert_eq!(
        schemes,
        [("alice", HashScheme::Apr1), ("bob", HashScheme::Bcrypt)]
    );
    let json = serde_json::to_string(&built.table).unwrap();
    assert!(!json.contains("$apr1$"), "hashes never serialise");
}

#[test]
fn auth_map_secrets_hold_one_user_per_key() {
    let mut s = with_good();
    s.insert_secret(opaque(
        "default",
        "users",
        &[("carol", "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=")],
    ));
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("auth-type", "basic"),
            ("auth-secret", "users"),
            ("auth-secret-type", "auth-map"),
        ],
    ));
    let built = build_default(&s);
    let auth = route_of(&built, "a.com", "/")
        .policy
        .auth
        .basic
        .clone()
        .unwrap();
    assert_eq!(auth.credentials.0["carol"].scheme, HashScheme::Sha1);
}

#[test]
fn auth_misconfiguration_fails_closed_but_serves_the_ingress() {
    // Missing Secret.
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("auth-type", "basic"), ("auth-secret", "nope")],
    ));
    let built = build_default(&s);
    assert_eq!(denied(&built), Some(503));
    let d = codes_for(&built, "ing", "fail_closed");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(codes_for(&built, "ing", "invalid_annotation").is_empty());
    assert!(good_served(&built));
    // Invalid auth-type.
    let mut s = with_good();
    s.insert_ingress(annotated("ing", "a.com", &[("auth-type", "ntlm")]));
    assert_eq!(denied(&build_default(&s)), Some(503));
    // Secret in another namespace without allow-cross-namespace-resources.
    let built = build_default(&basic("other", &[]));
    assert_eq!(denied(&built), Some(503));
    // ... and with it.
    let mut s = basic("other", &[]);
    let opts = with_config(&mut s, &[("allow-cross-namespace-resources", "true")]);
    assert_eq!(denied(&build(&s, &opts)), None);
    // Unsupported (plain-text) password.
    let mut s = with_good();
    s.insert_secret(opaque("default", "plain", &[("auth", "alice:secret\n")]));
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("auth-type", "basic"), ("auth-secret", "plain")],
    ));
    assert_eq!(denied(&build_default(&s)), Some(503));
    // auth-type without auth-secret.
    let mut s = with_good();
    s.insert_ingress(annotated("ing", "a.com", &[("auth-type", "basic")]));
    assert_eq!(denied(&build_default(&s)), Some(503));
}

#[test]
fn external_auth_is_typed() {
    let mut s = with_good();
    s.insert_config_map(config_map("default", "auth-headers", &[("X-Tenant", "t1")]));
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("auth-url", "https://auth.example.com/oauth2/auth"),
            (
                "auth-signin",
                "https://auth.example.com/oauth2/start?rd=$escaped_request_uri",
            ),
            (
                "auth-response-headers",
                "X-Auth-Request-User, X-Auth-Request-Email",
            ),
            ("auth-method", "GET"),
            ("auth-proxy-set-headers", "auth-headers"),
            ("auth-cache-key", "$remote_addr"),
            ("auth-cache-duration", "200 10m, 401 1m"),
        ],
    ));
    let built = build_default(&s);
    let policy = &route_of(&built, "a.com", "/").policy;
    let external = policy.auth.external.as_ref().unwrap();
    assert_eq!(external.url.text, "https://auth.example.com/oauth2/auth");
    assert_eq!(external.signin_redirect_param, "rd");
    assert_eq!(
        external.response_headers,
        ["X-Auth-Request-User", "X-Auth-Request-Email"]
    );
    assert_eq!(external.method.as_deref(), Some("GET"));
    assert_eq!(external.proxy_set_headers["X-Tenant"], "t1");
    assert_eq!(
        external.cache_duration,
        [
            CacheRule {
                codes: vec![200],
                duration_ms: 600_000
            },
            CacheRule {
                codes: vec![401],
                duration_ms: 60_000
            }
        ]
    );
    assert_eq!(policy.deny, None);
    // A missing auth-proxy-set-headers ConfigMap denies the location.
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("auth-url", "https://auth.example.com/"),
            ("auth-proxy-set-headers", "missing"),
        ],
    ));
    assert_eq!(denied(&build_default(&s)), Some(503));
}

#[test]
fn global_auth_comes_from_the_configmap_and_can_be_disabled() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("enable-global-auth", "false")],
    ));
    let opts = with_config(
        &mut s,
        &[
            ("global-auth-url", "https://auth.example.com/check"),
            ("global-auth-response-headers", "X-User"),
            ("no-auth-locations", "/healthz, /.well-known/acme-challenge"),
        ],
    );
    let built = build(&s, &opts);
    let global = built.table.routes.settings.global_auth.as_ref().unwrap();
    assert_eq!(global.auth.url.text, "https://auth.example.com/check");
    assert_eq!(global.auth.response_headers, ["X-User"]);
    assert_eq!(
        global.no_auth_locations,
        ["/healthz", "/.well-known/acme-challenge"]
    );
    assert!(!route_of(&built, "a.com", "/").policy.auth.global);
    assert!(route_of(&built, "good.com", "/").policy.auth.global);
}

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn client_certificate_auth_is_host_level_and_oldest_wins() {
    let mut s = with_good();
    s.insert_secret(opaque("default", "ca", &[("ca.crt", &ca_pem())]));
    s.insert_secret(opaque("default", "ca2", &[("ca.crt", &ca_pem())]));
    let mut first = annotated(
        "first",
        "a.com",
        &[
            ("auth-tls-secret", "default/ca"),
            ("auth-tls-verify-client", "optional"),
            ("auth-tls-verify-depth", "2"),
            ("auth-tls-pass-certificate-to-upstream", "true"),
            ("auth-tls-match-cn", "CN=(alice|bob)"),
        ],
    );
    first.created = Some(1);
    let mut second = annotated("second", "a.com", &[("auth-tls-secret", "default/ca2")]);
    second.created = Some(2);
    second.rules[0].paths = vec![path("/other", PathType::Prefix, "svc-c", 80)];
    s.insert_ingress(first);
    s.insert_ingress(second);
    let built = build_default(&s);
    let vhost = built.table.virtual_host("a.com").unwrap();
    let auth = vhost.policy.client_auth.as_ref().unwrap();
    assert_eq!(auth.secret, ObjectKey::new("default", "ca"));
    assert_eq!((auth.verify, auth.depth), (VerifyClient::Optional, 2));
    assert!(auth.pass_certificate);
    assert_eq!(auth.match_cn.as_deref(), Some("(alice|bob)"));
    assert_eq!(auth.ca.len(), 1);
    assert_eq!(codes_for(&built, "second", "host_conflict").len(), 1);
    assert!(
        built
            .table
            .virtual_host("good.com")
            .unwrap()
            .policy
            .client_auth
            .is_none()
    );
    // A CA Secret without ca.crt fails the Ingress's routes closed.
    let mut s = with_good();
    s.insert_secret(opaque("default", "empty", &[("tls.crt", "x")]));
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("auth-tls-secret", "default/empty")],
    ));
    let built = build_default(&s);
    assert_eq!(denied(&built), Some(503));
    assert!(
        built
            .table
            .virtual_host("a.com")
            .unwrap()
            .policy
            .client_auth
            .is_none()
    );
}

#[test]
fn proxy_ssl_is_inherited_by_the_hosts_other_ingresses() {
    let mut s = with_good();
    s.insert_secret(opaque("default", "backend-ca", &[("ca.crt", &ca_pem())]));
    let mut first = annotated(
        "first",
        "a.com",
        &[
            ("backend-protocol", "HTTPS"),
            ("proxy-ssl-secret", "default/backend-ca"),
            ("proxy-ssl-verify", "on"),
            ("proxy-ssl-name", "backend.internal"),
            ("proxy-ssl-server-name", "on"),
        ],
    );
    first.created = Some(1);
    let mut second = annotated("second", "a.com", &[]);
    second.created = Some(2);
    second.rules[0].paths = vec![path("/other", PathType::Prefix, "svc-c", 80)];
    s.insert_ingress(first);
    s.insert_ingress(second.clone());
    let built = build_default(&s);
    let tls = route_of(&built, "a.com", "/")
        .policy
        .upstream_tls
        .clone()
        .unwrap();
    assert!(tls.verify && tls.server_name);
    assert_eq!(tls.name.as_deref(), Some("backend.internal"));
    assert_eq!(tls.ca.len(), 1);
    assert_eq!(
        route_of(&built, "a.com", "/other").policy.upstream_tls,
        Some(tls)
    );
    let opts = with_config(&mut s, &[("proxy-ssl-location-only", "true")]);
    let built = build(&s, &opts);
    assert!(
        route_of(&built, "a.com", "/other")
            .policy
            .upstream_tls
            .is_none()
    );
    // Verification without a CA fails closed.
    let mut s = with_good();
    s.insert_ingress(annotated("ing", "a.com", &[("proxy-ssl-verify", "on")]));
    assert_eq!(denied(&build_default(&s)), Some(503));
}
