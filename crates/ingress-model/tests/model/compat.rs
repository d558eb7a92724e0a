//! The registries: complete, consistent, and the generated compatibility document is current.

use std::collections::BTreeSet;

use sluice_ingress_model::annotations::{self, Group, Status};
use sluice_ingress_model::{compat, config};

/// The 136 canonical annotations of ingress-nginx (annotations-risk.md of the final release).
const CANONICAL: &str = "rewrite-target use-regex app-root permanent-redirect permanent-redirect-code temporal-redirect temporal-redirect-code from-to-www-redirect server-alias x-forwarded-prefix preserve-trailing-slash relative-redirects use-port-in-redirects default-backend custom-http-errors disable-proxy-intercept-errors ssl-redirect force-ssl-redirect ssl-passthrough ssl-ciphers ssl-prefer-server-ciphers auth-tls-secret auth-tls-verify-client auth-tls-verify-depth auth-tls-error-page auth-tls-pass-certificate-to-upstream auth-tls-match-cn backend-protocol proxy-http-version upstream-vhost service-upstream connection-proxy-header load-balance upstream-hash-by upstream-hash-by-subset upstream-hash-by-subset-size proxy-ssl-secret proxy-ssl-verify proxy-ssl-verify-depth proxy-ssl-name proxy-ssl-server-name proxy-ssl-ciphers proxy-ssl-protocols fastcgi-index fastcgi-params-configmap proxy-connect-timeout proxy-send-timeout proxy-read-timeout proxy-next-upstream proxy-next-upstream-timeout proxy-next-upstream-tries proxy-request-buffering proxy-buffering proxy-buffer-size proxy-buffers-number proxy-busy-buffers-size proxy-max-temp-file-size proxy-body-size client-body-buffer-size proxy-cookie-domain proxy-cookie-path proxy-redirect-from proxy-redirect-to canary canary-by-header canary-by-header-value canary-by-header-pattern canary-by-cookie canary-weight canary-weight-total limit-rps limit-rpm limit-connections limit-burst-multiplier limit-rate limit-rate-after limit-allowlist allowlist-source-range denylist-source-range enable-cors cors-allow-origin cors-allow-methods cors-allow-headers cors-expose-headers cors-allow-credentials cors-max-age auth-type auth-secret auth-secret-type auth-realm auth-url auth-signin auth-signin-redirect-param auth-response-headers auth-request-redirect auth-method auth-proxy-set-headers auth-cache-key auth-cache-duration auth-keepalive auth-keepalive-share-vars auth-keepalive-requests auth-keepalive-timeout auth-always-set-cookie enable-global-auth satisfy affinity affinity-mode affinity-canary-behavior session-cookie-name session-cookie-path session-cookie-domain session-cookie-max-age session-cookie-expires session-cookie-samesite session-cookie-conditional-samesite-none session-cookie-secure session-cookie-change-on-failure custom-headers mirror-target mirror-request-body mirror-host enable-access-log enable-rewrite-log enable-opentelemetry opentelemetry-trust-incoming-span opentelemetry-operation-name enable-modsecurity enable-owasp-core-rules modsecurity-transaction-id http2-push-preload configuration-snippet server-snippet auth-snippet stream-snippet modsecurity-snippet";

#[test]
fn every_canonical_annotation_alias_and_removed_name_is_registered() {
    let canonical: Vec<&str> = CANONICAL.split_whitespace().collect();
    assert_eq!(canonical.len(), 136);
    for name in &canonical {
        let spec = annotations::spec(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(spec.alias_of, None, "{name}");
    }
    for (alias, canonical) in [
        ("whitelist-source-range", "allowlist-source-range"),
        ("limit-whitelist", "limit-allowlist"),
    ] {
        assert_eq!(annotations::spec(alias).unwrap().alias_of, Some(canonical));
    }
    for removed in [
        "secure-backends",
        "enable-opentracing",
        "opentracing-trust-incoming-span",
        "global-rate-limit",
        "global-rate-limit-window",
        "global-rate-limit-key",
        "global-rate-limit-ignored-cidrs",
    ] {
        let spec = annotations::spec(removed).unwrap();
        assert_eq!(spec.group, Group::Removed);
        assert!(matches!(spec.status, Status::NoEffect(_)));
    }
}

#[test]
fn every_registry_entry_has_a_parser_or_a_reason_not_to() {
    let mut names = BTreeSet::new();
    for spec in annotations::registry() {
        assert!(names.insert(spec.name), "duplicate {}", spec.name);
        let unparsed = spec.is_snippet() || spec.group == Group::Removed;
        assert_eq!(spec.parse.is_none(), unparsed, "{}", spec.name);
        assert_eq!(
            matches!(spec.status, Status::Refused(_)),
            spec.is_snippet(),
            "{}",
            spec.name
        );
        if let Status::Partial(note) | Status::NoEffect(note) | Status::Refused(note) = spec.status
        {
            assert!(!note.is_empty(), "{} needs a reason", spec.name);
        }
    }
    let mut keys = BTreeSet::new();
    for key in config::keys() {
        assert!(keys.insert(key.name), "duplicate key {}", key.name);
        if let config::KeyParse::Annotation(name) = key.parse {
            let spec = annotations::spec(name).unwrap_or_else(|| panic!("{name}"));
            assert!(
                spec.parse.is_some(),
                "{} shares a parser-less annotation",
                key.name
            );
        }
        let ignored = matches!(key.parse, config::KeyParse::Ignored);
        if ignored {
            assert!(
                matches!(key.status, Status::NoEffect(_) | Status::Refused(_)),
                "{} is ignored but claims an effect",
                key.name
            );
        }
    }
    for key in [
        "proxy-body-size",
        "ssl-protocols",
        "hsts",
        "use-forwarded-headers",
        "log-format-upstream",
        "main-snippet",
        "worker-processes",
        "limit-req-status-code",
        "global-auth-url",
        "annotation-value-word-blocklist",
        "server-name-hash-bucket-size",
        "use-geoip2",
    ] {
        assert!(config::key_spec(key).is_some(), "{key}");
    }
}

#[test]
fn compatibility_doc_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/compatibility.md");
    let rendered = compat::render_markdown();
    if std::env::var("SLUICE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == rendered,
        "docs/compatibility.md is stale; regenerate with SLUICE_BLESS=1 cargo test -p sluice-ingress-model compatibility_doc_is_current"
    );
}
