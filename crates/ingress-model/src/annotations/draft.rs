//! [`Draft`]: what an Ingress's annotations say, parsed but not yet resolved against Secrets,
//! ConfigMaps and Services. It starts as the ConfigMap's per-route defaults; annotation parsers
//! overwrite single fields, so the order in which annotations are applied does not matter.

use crate::policy::{
    Affinity, BasicAuthKind, Cors, ExternalAuth, Policy, UpstreamPolicy, UpstreamTls, VerifyClient,
};
use crate::template::Template;

/// Parsed annotations (or ConfigMap defaults) of one Ingress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The route policy, complete except for the fields resolved in `build`.
    pub policy: Policy,
    /// The upstream policy of this Ingress's backends.
    pub upstream: UpstreamPolicy,
    /// Upstream annotations this Ingress set explicitly (for conflict reports).
    pub upstream_set: Vec<&'static str>,
    /// `use-regex`.
    pub use_regex: bool,
    /// `rewrite-target`.
    pub rewrite_target: Option<Template>,
    /// `x-forwarded-prefix`.
    pub forwarded_prefix: Option<String>,
    /// `permanent-redirect` and its code.
    pub permanent_redirect: Option<Template>,
    /// `permanent-redirect-code`.
    pub permanent_code: u16,
    /// `temporal-redirect`.
    pub temporal_redirect: Option<Template>,
    /// `temporal-redirect-code`.
    pub temporal_code: u16,
    /// `from-to-www-redirect`.
    pub from_to_www: bool,
    /// `server-alias`.
    pub server_aliases: Vec<String>,
    /// `default-backend` (Service name in the Ingress namespace).
    pub default_backend: Option<String>,
    /// `ssl-passthrough`.
    pub ssl_passthrough: bool,
    /// `canary*`.
    pub canary: CanaryDraft,
    /// `enable-cors`.
    pub cors_enabled: bool,
    /// `cors-*`.
    pub cors: Cors,
    /// `auth-type`: the kind, or why it is invalid (fail closed).
    pub auth_type: Option<Result<BasicAuthKind, String>>,
    /// `auth-secret`.
    pub auth_secret: Option<String>,
    /// `auth-secret-type: auth-map`.
    pub auth_secret_map: bool,
    /// `auth-realm`.
    pub auth_realm: String,
    /// `auth-url`.
    pub external_url: Option<Template>,
    /// The other `auth-*` settings of external auth.
    pub external: ExternalAuth,
    /// `auth-proxy-set-headers` ConfigMap name.
    pub auth_proxy_set_headers: Option<String>,
    /// `auth-tls-*`.
    pub client_tls: ClientTlsDraft,
    /// `proxy-ssl-secret`.
    pub proxy_ssl_secret: Option<String>,
    /// `proxy-ssl-*` values.
    pub proxy_ssl: UpstreamTls,
    /// Whether any `proxy-ssl-*` was set.
    pub proxy_ssl_set: bool,
    /// `ssl-ciphers` (rustls names).
    pub ssl_ciphers: Option<Vec<String>>,
    /// `ssl-prefer-server-ciphers`.
    pub prefer_server_ciphers: Option<bool>,
    /// `custom-headers` ConfigMap name.
    pub custom_headers: Option<String>,
    /// `affinity: cookie`.
    pub affinity_cookie: bool,
    /// `session-cookie-*`, `affinity-mode`, `affinity-canary-behavior`.
    pub affinity: Affinity,
    /// `upstream-hash-by`.
    pub hash_by: Option<Template>,
    /// `upstream-hash-by-subset`.
    pub hash_subset: bool,
    /// `upstream-hash-by-subset-size`.
    pub hash_subset_size: u32,
    /// `mirror-target`.
    pub mirror_target: Option<Template>,
    /// `mirror-host`.
    pub mirror_host: Option<String>,
    /// `mirror-request-body`.
    pub mirror_body: bool,
    /// `proxy-redirect-from` as written.
    pub proxy_redirect_from: Option<String>,
    /// `proxy-redirect-to` as written.
    pub proxy_redirect_to: Option<String>,
    /// `backend-protocol: FCGI` (not served: fail closed).
    pub fastcgi: bool,
    /// What the last parser accepted but cannot fully honour (drained into diagnostics).
    pub warnings: Vec<String>,
}

/// `canary*` annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryDraft {
    /// `canary`.
    pub enabled: bool,
    /// `canary-by-header`.
    pub header: Option<String>,
    /// `canary-by-header-value`.
    pub header_value: Option<String>,
    /// `canary-by-header-pattern`.
    pub header_pattern: Option<String>,
    /// `canary-by-cookie`.
    pub cookie: Option<String>,
    /// `canary-weight`.
    pub weight: u32,
    /// `canary-weight-total`.
    pub weight_total: u32,
}

impl Default for CanaryDraft {
    fn default() -> Self {
        Self {
            enabled: false,
            header: None,
            header_value: None,
            header_pattern: None,
            cookie: None,
            weight: 0,
            weight_total: 100,
        }
    }
}

/// `auth-tls-*` annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTlsDraft {
    /// `auth-tls-secret` as written (`namespace/name`).
    pub secret: Option<String>,
    /// `auth-tls-verify-client`.
    pub verify: VerifyClient,
    /// `auth-tls-verify-depth`; `None` = 1.
    pub depth: Option<u32>,
    /// `auth-tls-error-page`.
    pub error_page: Option<String>,
    /// `auth-tls-pass-certificate-to-upstream`.
    pub pass_certificate: bool,
    /// `auth-tls-match-cn` regex (after `CN=`).
    pub match_cn: Option<String>,
}

impl Draft {
    /// A draft holding the given per-route and per-upstream defaults.
    pub fn new(policy: Policy, upstream: UpstreamPolicy) -> Self {
        Self {
            policy,
            upstream,
            upstream_set: Vec::new(),
            use_regex: false,
            rewrite_target: None,
            forwarded_prefix: None,
            permanent_redirect: None,
            permanent_code: 301,
            temporal_redirect: None,
            temporal_code: 302,
            from_to_www: false,
            server_aliases: Vec::new(),
            default_backend: None,
            ssl_passthrough: false,
            canary: CanaryDraft::default(),
            cors_enabled: false,
            cors: Cors::default(),
            auth_type: None,
            auth_secret: None,
            auth_secret_map: false,
            auth_realm: String::new(),
            external_url: None,
            external: ExternalAuth::new(Template::literal("")),
            auth_proxy_set_headers: None,
            client_tls: ClientTlsDraft::default(),
            proxy_ssl_secret: None,
            proxy_ssl: UpstreamTls::default(),
            proxy_ssl_set: false,
            ssl_ciphers: None,
            prefer_server_ciphers: None,
            custom_headers: None,
            affinity_cookie: false,
            affinity: Affinity {
                cookie: Default::default(),
                mode: Default::default(),
                canary_behavior: Default::default(),
            },
            hash_by: None,
            hash_subset: false,
            hash_subset_size: 3,
            mirror_target: None,
            mirror_host: None,
            mirror_body: true,
            proxy_redirect_from: None,
            proxy_redirect_to: None,
            fastcgi: false,
            warnings: Vec::new(),
        }
    }

    /// Records that an upstream-level annotation was set.
    pub fn mark_upstream(&mut self, name: &'static str) {
        if !self.upstream_set.contains(&name) {
            self.upstream_set.push(name);
        }
    }
}

impl Default for Draft {
    fn default() -> Self {
        Self::new(Policy::default(), UpstreamPolicy::default())
    }
}
