//! Global settings from the controller ConfigMap (the keys that are not per-route defaults).

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Serialize;

use super::auth::ExternalAuth;

/// Global settings from the controller ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `worker-processes`: proxy worker threads; `None` means the CPU quota.
    pub worker_processes: Option<usize>,
    /// `max-worker-connections`: cap on concurrent client connections; `None` = unlimited.
    pub max_connections: Option<u32>,
    /// `worker-shutdown-timeout`: hard deadline of the drain on shutdown.
    pub shutdown_timeout_ms: u64,
    /// Client-side connections and listeners.
    pub client: ClientSettings,
    /// Upstream connection pools.
    pub upstream: UpstreamSettings,
    /// Real client IP and the headers sent upstream.
    pub forwarded: ForwardedHeaders,
    /// TLS listener settings and HSTS.
    pub tls: TlsSettings,
    /// Global blocks.
    pub blocking: Blocking,
    /// Status of rate-limited requests (`limit-req-status-code`, 503).
    pub limit_req_status: u16,
    /// Status of connection-limited requests (`limit-conn-status-code`, 503).
    pub limit_conn_status: u16,
    /// `global-auth-*`: external auth for every route that does not opt out.
    pub global_auth: Option<GlobalAuth>,
    /// Access log.
    pub access_log: AccessLog,
    /// Response compression.
    pub compression: Compression,
    /// Admission policy keys.
    pub admission: Admission,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            worker_processes: None,
            max_connections: Some(16_384),
            shutdown_timeout_ms: 240_000,
            client: ClientSettings::default(),
            upstream: UpstreamSettings::default(),
            forwarded: ForwardedHeaders::default(),
            tls: TlsSettings::default(),
            blocking: Blocking::default(),
            limit_req_status: 503,
            limit_conn_status: 503,
            global_auth: None,
            access_log: AccessLog::default(),
            compression: Compression::default(),
            admission: Admission::default(),
        }
    }
}

/// Client connections (`keep-alive`, HTTP/2, header limits, PROXY protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientSettings {
    /// `keep-alive`: idle timeout; 0 disables keep-alive.
    pub keepalive_timeout_ms: u64,
    /// `keep-alive-requests`: requests per connection.
    pub keepalive_requests: u32,
    /// `use-http2`: offer h2 by ALPN on TLS.
    pub http2: bool,
    /// `http2-max-concurrent-streams`.
    pub http2_max_concurrent_streams: u32,
    /// `client-header-timeout`.
    pub header_timeout_ms: u64,
    /// `client-body-timeout`: idle time between body reads.
    pub body_timeout_ms: u64,
    /// `client-header-buffer-size`.
    pub header_buffer_bytes: u64,
    /// `large-client-header-buffers` count: total request head is at most count × size.
    pub large_header_buffers: u32,
    /// `large-client-header-buffers` size: the longest request line or single header line
    /// (larger gives 414 / 400).
    pub large_header_buffer_bytes: u64,
    /// `enable-underscores-in-headers`; when false, headers with `_` are dropped.
    pub underscores_in_headers: bool,
    /// `ignore-invalid-headers`: drop headers with invalid names.
    pub ignore_invalid_headers: bool,
    /// `use-proxy-protocol`: expect PROXY v1/v2 on the HTTP and HTTPS listeners.
    pub proxy_protocol: bool,
    /// `proxy-protocol-header-timeout`.
    pub proxy_protocol_timeout_ms: u64,
    /// `server-tokens`: send the version in `Server`.
    pub server_tokens: bool,
    /// `default-type`: `Content-Type` of proxy-generated responses.
    pub default_type: String,
    /// `disable-ipv6`: do not listen on IPv6.
    pub disable_ipv6: bool,
    /// `bind-address` (and `-ipv4`/`-ipv6`): listen addresses; empty = all.
    pub bind_addresses: Vec<std::net::IpAddr>,
    /// `reuse-port`.
    pub reuse_port: bool,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            keepalive_timeout_ms: 75_000,
            keepalive_requests: 1000,
            http2: true,
            http2_max_concurrent_streams: 128,
            header_timeout_ms: 60_000,
            body_timeout_ms: 60_000,
            header_buffer_bytes: 1 << 10,
            large_header_buffers: 4,
            large_header_buffer_bytes: 8 << 10,
            underscores_in_headers: false,
            ignore_invalid_headers: true,
            proxy_protocol: false,
            proxy_protocol_timeout_ms: 5_000,
            server_tokens: false,
            default_type: "text/html".into(),
            disable_ipv6: false,
            bind_addresses: Vec::new(),
            reuse_port: true,
        }
    }
}

/// Upstream connection pools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpstreamSettings {
    /// `upstream-keepalive-connections`: idle connections kept per upstream; 0 disables reuse.
    pub keepalive_connections: u32,
    /// `upstream-keepalive-timeout`.
    pub keepalive_timeout_ms: u64,
    /// `upstream-keepalive-requests`.
    pub keepalive_requests: u32,
    /// `upstream-keepalive-time`: maximum connection lifetime.
    pub keepalive_time_ms: u64,
    /// `proxy-ssl-location-only`: `proxy-ssl-*` applies only to the Ingress that sets it.
    pub proxy_ssl_location_only: bool,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            keepalive_connections: 320,
            keepalive_timeout_ms: 60_000,
            keepalive_requests: 10_000,
            keepalive_time_ms: 3_600_000,
            proxy_ssl_location_only: false,
        }
    }
}

/// Real client IP and forwarded headers.
///
/// The client IP is the peer address, or the PROXY protocol source with `use-proxy-protocol`.
/// With `use-forwarded-headers` or `enable-real-ip`, when that address is in `trusted` the
/// client IP is taken from `for_header` (recursively skipping trusted addresses from the
/// right). Upstream `X-Forwarded-For` is replaced by the client IP unless
/// `compute_full_forwarded_for` (then the peer is appended to the incoming chain).
/// `X-Forwarded-Host/-Port/-Proto` are passed through only with `use-forwarded-headers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForwardedHeaders {
    /// `use-forwarded-headers`.
    pub use_forwarded_headers: bool,
    /// `enable-real-ip`.
    pub real_ip: bool,
    /// `forwarded-for-header`.
    pub for_header: String,
    /// `compute-full-forwarded-for`.
    pub compute_full_forwarded_for: bool,
    /// `proxy-real-ip-cidr`: trusted proxies.
    pub trusted: Vec<IpNet>,
    /// `forwarded-for-proxy-protocol-header`.
    pub proxy_protocol_header: String,
    /// `proxy-add-original-uri-header`: send `X-Original-URI`.
    pub original_uri_header: bool,
    /// `generate-request-id`: create `X-Request-ID` when absent.
    pub generate_request_id: bool,
    /// `proxy-set-headers` ConfigMap: extra upstream request headers (values may hold
    /// variables; kept as written).
    pub request_headers: BTreeMap<String, String>,
    /// `add-headers` ConfigMap: extra response headers.
    pub response_headers: BTreeMap<String, String>,
    /// `hide-headers`: upstream response headers removed.
    pub hide_headers: Vec<String>,
    /// `allow-backend-server-header`: keep the upstream `Server` header.
    pub allow_backend_server_header: bool,
    /// `global-allowed-response-headers`: header names `custom-headers` may set.
    pub allowed_response_headers: Vec<String>,
}

impl Default for ForwardedHeaders {
    fn default() -> Self {
        Self {
            use_forwarded_headers: false,
            real_ip: false,
            for_header: "X-Forwarded-For".into(),
            compute_full_forwarded_for: false,
            trusted: vec![IpNet::V4(ipnet::Ipv4Net::default())],
            proxy_protocol_header: "X-Forwarded-For-Proxy-Protocol".into(),
            original_uri_header: false,
            generate_request_id: true,
            request_headers: BTreeMap::new(),
            response_headers: BTreeMap::new(),
            hide_headers: Vec::new(),
            allow_backend_server_header: false,
            allowed_response_headers: Vec::new(),
        }
    }
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

/// `hsts*`: `Strict-Transport-Security` on HTTPS responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Hsts {
    /// `hsts`.
    pub enabled: bool,
    /// `hsts-max-age` seconds.
    pub max_age: u64,
    /// `hsts-include-subdomains`.
    pub include_subdomains: bool,
    /// `hsts-preload`.
    pub preload: bool,
}

impl Default for Hsts {
    fn default() -> Self {
        Self {
            enabled: true,
            max_age: 31_536_000,
            include_subdomains: true,
            preload: false,
        }
    }
}

/// TLS listener settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsSettings {
    /// `ssl-protocols`.
    pub protocols: Vec<TlsVersion>,
    /// `ssl-ciphers` as rustls TLS 1.2 suite names (TLS 1.3 suites are always on).
    pub ciphers: Vec<String>,
    /// `ssl-prefer-server-ciphers` (nginx default on in ingress-nginx's template).
    pub prefer_server_ciphers: bool,
    /// `ssl-ecdh-curve` as rustls group names; empty = the provider's defaults (`auto`).
    pub ecdh_curves: Vec<String>,
    /// `ssl-session-cache`.
    pub session_cache: bool,
    /// `ssl-session-timeout`.
    pub session_timeout_ms: u64,
    /// `ssl-session-tickets`.
    pub session_tickets: bool,
    /// `ssl-early-data`: accept TLS 1.3 0-RTT.
    pub early_data: bool,
    /// `ssl-reject-handshake`: refuse unknown SNI instead of serving the default certificate.
    pub reject_unknown_sni: bool,
    /// HSTS.
    pub hsts: Hsts,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            protocols: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            ciphers: crate::config::default_ciphers(),
            prefer_server_ciphers: true,
            ecdh_curves: Vec::new(),
            session_cache: true,
            session_timeout_ms: 600_000,
            session_tickets: false,
            early_data: false,
            reject_unknown_sni: false,
            hsts: Hsts::default(),
        }
    }
}

/// Global 403 blocks (`block-cidrs`, `block-user-agents`, `block-referers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Blocking {
    /// Client ranges.
    pub cidrs: Vec<IpNet>,
    /// User agents: exact strings, or regexes when written `~pattern` (`~*` case-insensitive).
    pub user_agents: Vec<String>,
    /// Referers, same syntax as `user_agents`.
    pub referers: Vec<String>,
}

/// ConfigMap `global-auth-*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GlobalAuth {
    /// The external auth applied to every route whose `enable-global-auth` is on.
    pub auth: ExternalAuth,
    /// `no-auth-locations`: path prefixes exempt.
    pub no_auth_locations: Vec<String>,
}

/// Escaping of variables in `log-format-upstream`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEscape {
    /// nginx default: `"`, `\` and bytes outside 32..126 as `\xHH`.
    #[default]
    Default,
    /// `log-format-escape-json`.
    Json,
    /// `log-format-escape-none`.
    None,
}

/// The access log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessLog {
    /// `disable-access-log` (and `disable-http-access-log`) negated.
    pub enabled: bool,
    /// `log-format-upstream`: nginx `log_format` text; unknown variables log `-`.
    pub format: String,
    /// Variable escaping.
    pub escape: LogEscape,
    /// `skip-access-log-urls`: request paths not logged.
    pub skip_urls: Vec<String>,
    /// `enable-access-log-for-default-backend`.
    pub default_backend: bool,
}

impl Default for AccessLog {
    fn default() -> Self {
        Self {
            enabled: true,
            format: crate::config::DEFAULT_LOG_FORMAT.into(),
            escape: LogEscape::Default,
            skip_urls: Vec::new(),
            default_backend: false,
        }
    }
}

/// Response compression (`use-gzip`, `gzip-*`, `enable-brotli`, `brotli-*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Compression {
    /// `use-gzip`.
    pub gzip: bool,
    /// `gzip-level` 1..9.
    pub gzip_level: u32,
    /// `gzip-min-length` bytes.
    pub gzip_min_length: u64,
    /// `gzip-types` (text/html is always included).
    pub gzip_types: Vec<String>,
    /// `gzip-disable`: user-agent regexes.
    pub gzip_disable: Vec<String>,
    /// `enable-brotli`.
    pub brotli: bool,
    /// `brotli-level` 0..11.
    pub brotli_level: u32,
    /// `brotli-min-length`.
    pub brotli_min_length: u64,
    /// `brotli-types`.
    pub brotli_types: Vec<String>,
}

impl Default for Compression {
    fn default() -> Self {
        let types = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        Self {
            gzip: false,
            gzip_level: 1,
            gzip_min_length: 256,
            gzip_types: types(crate::config::DEFAULT_GZIP_TYPES),
            gzip_disable: Vec::new(),
            brotli: false,
            brotli_level: 4,
            brotli_min_length: 20,
            brotli_types: types(crate::config::DEFAULT_BROTLI_TYPES),
        }
    }
}

/// `annotations-risk-level`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum RiskLevel {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High (the default: Critical annotations are rejected).
    #[default]
    High,
    /// Critical.
    Critical,
}

/// Admission policy keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Admission {
    /// `allow-snippet-annotations` (never honoured: snippets follow the snippet policy).
    pub allow_snippet_annotations: bool,
    /// `annotations-risk-level`: an Ingress with an annotation riskier than this is rejected.
    pub risk_level: RiskLevel,
    /// `annotation-value-word-blocklist`: an annotation value containing one of these rejects
    /// the Ingress.
    pub word_blocklist: Vec<String>,
    /// `allow-cross-namespace-resources`.
    pub allow_cross_namespace: bool,
    /// `strict-validate-path-type`: Exact/Prefix paths must match `^/[A-Za-z0-9/_-]*$`.
    pub strict_path_type: bool,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            allow_snippet_annotations: false,
            risk_level: RiskLevel::High,
            word_blocklist: Vec::new(),
            allow_cross_namespace: false,
            strict_path_type: true,
        }
    }
}
