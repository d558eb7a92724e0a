//! The parts of a route [`Policy`](super::Policy) other than authentication.

use std::collections::BTreeSet;

use ipnet::IpNet;
use serde::Serialize;

use crate::policy::upstream::BackendProtocol;
use crate::template::Template;

/// Answer every request with `status` (fail closed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deny {
    /// Status code, 503 for auth misconfiguration as in ingress-nginx.
    pub status: u16,
    /// Why (for logs and `/debug/routes`; never sent to clients).
    pub reason: String,
}

/// Upstream timeouts (`proxy-connect-timeout`, `proxy-read-timeout`, `proxy-send-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// Time to establish an upstream connection.
    pub connect_ms: u64,
    /// Longest wait between two reads from the upstream.
    pub read_ms: u64,
    /// Longest wait between two writes to the upstream.
    pub send_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5_000,
            read_ms: 60_000,
            send_ms: 60_000,
        }
    }
}

/// Retries (`proxy-next-upstream`, `-timeout`, `-tries`, ConfigMap `retry-non-idempotent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retry {
    /// When to try the next endpoint.
    pub on: NextUpstream,
    /// Total time budget for all tries; 0 = unlimited.
    pub timeout_ms: u64,
    /// Maximum tries, the first included; 0 = unlimited (bounded by the endpoint count).
    pub tries: u32,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            on: NextUpstream::default(),
            timeout_ms: 0,
            tries: 3,
        }
    }
}

/// The conditions of nginx `proxy_next_upstream`. Retries happen only before anything was sent
/// to the client, and never for non-idempotent methods (POST, LOCK, PATCH) unless
/// `non_idempotent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NextUpstream {
    /// `error`: connect/write/read-header error.
    pub error: bool,
    /// `timeout`.
    pub timeout: bool,
    /// `invalid_header`: an empty or invalid upstream response head.
    pub invalid_header: bool,
    /// `http_500` … `http_429`: these upstream statuses.
    pub statuses: BTreeSet<u16>,
    /// `non_idempotent`.
    pub non_idempotent: bool,
}

impl Default for NextUpstream {
    fn default() -> Self {
        Self {
            error: true,
            timeout: true,
            invalid_header: false,
            statuses: BTreeSet::new(),
            non_idempotent: false,
        }
    }
}

impl NextUpstream {
    /// `off`: never retry.
    pub fn off() -> Self {
        Self {
            error: false,
            timeout: false,
            invalid_header: false,
            statuses: BTreeSet::new(),
            non_idempotent: false,
        }
    }
}

/// Request body handling (`proxy-body-size`, `client-body-buffer-size`,
/// `proxy-request-buffering`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RequestBody {
    /// Larger bodies get 413; `None` = unlimited (`0`).
    pub max_bytes: Option<u64>,
    /// Memory buffer for request bodies.
    pub buffer_bytes: u64,
    /// Read the whole body before contacting the upstream.
    pub buffering: bool,
}

impl Default for RequestBody {
    fn default() -> Self {
        Self {
            max_bytes: Some(1 << 20),
            buffer_bytes: 8 << 10,
            buffering: true,
        }
    }
}

/// Response buffering (`proxy-buffering`, `proxy-buffer-size`, `proxy-buffers-number`,
/// `proxy-busy-buffers-size`, `proxy-max-temp-file-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseBuffering {
    /// Buffer whole upstream responses.
    pub enabled: bool,
    /// Largest upstream response head (status line and headers); larger gives 502
    /// ("upstream sent too big header").
    pub header_bytes: u64,
    /// Number of body buffers of `header_bytes` each.
    pub buffers: u32,
    /// `proxy-busy-buffers-size`; `None` = two buffers.
    pub busy_bytes: Option<u64>,
    /// Disk spill limit (no effect: sluice never spills to disk).
    pub max_temp_file_bytes: u64,
}

impl Default for ResponseBuffering {
    fn default() -> Self {
        Self {
            enabled: false,
            header_bytes: 4 << 10,
            buffers: 4,
            busy_bytes: None,
            max_temp_file_bytes: 1024 << 20,
        }
    }
}

/// HTTP version towards HTTP upstreams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum HttpVersion {
    /// HTTP/1.0 (no keep-alive to the upstream).
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.1.
    #[default]
    #[serde(rename = "1.1")]
    Http11,
}

/// The upstream request (`backend-protocol`, `upstream-vhost`, `x-forwarded-prefix`, `proxy-http-version`,
/// `connection-proxy-header`, ConfigMap `proxy-set-headers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamRequest {
    /// `backend-protocol`: the wire protocol, per location as in ingress-nginx (two Ingresses
    /// may speak gRPC and HTTP to the same Service port).
    pub protocol: BackendProtocol,
    /// `Host` sent upstream; `None` = the client's (`$best_http_host`).
    pub host: Option<Template>,
    /// `X-Forwarded-Prefix` value; set only together with a rewrite.
    pub forwarded_prefix: Option<String>,
    /// HTTP version.
    pub http_version: HttpVersion,
    /// `Connection` value sent upstream; `None` = `upgrade` for upgrade requests, else the
    /// keep-alive default.
    pub connection: Option<String>,
}

/// `rewrite-target`: the upstream path is the target with `$n` replaced by the captures of the
/// route's path regex (case-insensitive, start-anchored); the query string is kept unless the
/// target ends with `?`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rewrite {
    /// The target.
    pub target: Template,
}

/// Redirects the proxy issues itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Redirects {
    /// `ssl-redirect`: plain-HTTP requests to a host with TLS get `code` to https.
    pub ssl_redirect: bool,
    /// `force-ssl-redirect`: redirect to https even without TLS on the host (with
    /// `use-forwarded-headers`, a request whose `X-Forwarded-Proto` is https is not redirected).
    pub force_ssl_redirect: bool,
    /// `preserve-trailing-slash`: keep a trailing slash in the HTTPS redirect target.
    pub preserve_trailing_slash: bool,
    /// ConfigMap `http-redirect-code` for HTTPS redirects (308).
    pub code: u16,
    /// ConfigMap `no-tls-redirect-locations`: path prefixes never redirected to HTTPS.
    pub no_tls_redirect_locations: Vec<String>,
    /// `app-root`: a request for exactly `/` gets 302 to `$scheme://$http_host<app_root>`.
    pub app_root: Option<String>,
    /// `relative-redirects`: proxy-generated `Location` headers are relative.
    pub relative: bool,
    /// `use-port-in-redirects`: absolute proxy-generated redirects include the port.
    pub port_in_redirects: bool,
}

impl Default for Redirects {
    fn default() -> Self {
        Self {
            ssl_redirect: true,
            force_ssl_redirect: false,
            preserve_trailing_slash: false,
            code: 308,
            no_tls_redirect_locations: vec!["/.well-known/acme-challenge".into()],
            app_root: None,
            relative: false,
            port_in_redirects: false,
        }
    }
}

/// nginx `proxy_redirect` for upstream `Location`/`Refresh` headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProxyRedirect {
    /// Leave them alone.
    #[default]
    Off,
    /// `default`: replace the upstream URL prefix by the location path.
    Default,
    /// Replace the prefix `from` by `to`.
    Replace {
        /// Prefix to look for.
        from: String,
        /// Replacement.
        to: String,
    },
}

/// Rewrites of upstream response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseRewrite {
    /// `proxy-cookie-domain`: replace the `Domain` attribute `from` by `to`.
    pub cookie_domain: Option<(String, String)>,
    /// `proxy-cookie-path`: replace the `Path` attribute `from` by `to`.
    pub cookie_path: Option<(String, String)>,
    /// `proxy-redirect-from`/`-to`.
    pub redirect: ProxyRedirect,
}

/// `custom-http-errors`: upstream responses with these statuses are replaced by the response of
/// the default backend (the `default-backend` annotation, else the controller's), which gets
/// `X-Code`, `X-Format`, `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`,
/// `X-Service-Port` and `X-Request-ID`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomErrors {
    /// The statuses.
    pub codes: BTreeSet<u16>,
    /// Replace upstream error responses (false with `disable-proxy-intercept-errors`: only
    /// errors the proxy generates itself are replaced).
    pub intercept: bool,
}

impl Default for CustomErrors {
    fn default() -> Self {
        Self {
            codes: BTreeSet::new(),
            intercept: true,
        }
    }
}

/// How access checks combine with authentication (`satisfy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfy {
    /// Every configured check must pass.
    #[default]
    All,
    /// One passing check (IP allow list, basic auth, external auth) is enough.
    Any,
}

/// Client IP lists (`allowlist-source-range`, `denylist-source-range`, their ConfigMap keys).
/// The client IP is the one after real-IP processing ([`super::ForwardedHeaders`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccessControl {
    /// When non-empty, other clients get 403.
    pub allow: Vec<IpNet>,
    /// These clients get 403.
    pub deny: Vec<IpNet>,
    /// How the lists combine with authentication.
    pub satisfy: Satisfy,
}

/// Per-client-IP limits of one Ingress: one zone per Ingress (the routes whose
/// [`crate::table::RouteOrigin::ingress`] is the same share counters), per proxy replica, keyed
/// by the client IP after real-IP processing. Excess requests get ConfigMap
/// `limit-req-status-code`, excess connections `limit-conn-status-code` (both 503 by default);
/// clients in `allowlist` are never limited. The `*_total` limits (sluice's own annotations)
/// count all clients of the Ingress together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    /// `limit-rps`; 0 = off. Leaky bucket, burst = rps × `burst_multiplier`, nodelay.
    pub rps: u32,
    /// `limit-rpm`; 0 = off. Burst = rpm × `burst_multiplier`.
    pub rpm: u32,
    /// `limit-connections`: concurrent requests per client IP; 0 = off.
    pub connections: u32,
    /// `sluice.dev/limit-rps-total`: requests per second of all clients together (per Ingress,
    /// per replica); 0 = off. Burst = limit × `burst_multiplier`, nodelay.
    pub rps_total: u32,
    /// `sluice.dev/limit-connections-total`: concurrent requests of all clients together (per
    /// Ingress, per replica); 0 = off.
    pub connections_total: u32,
    /// `limit-burst-multiplier`.
    pub burst_multiplier: u32,
    /// `limit-allowlist`: exempt clients.
    pub allowlist: Vec<IpNet>,
    /// `limit-rate`: response bytes per second per connection; 0 = unlimited.
    pub rate_bytes_per_sec: u64,
    /// `limit-rate-after`: bytes sent at full speed first.
    pub rate_after_bytes: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            rps: 0,
            rpm: 0,
            connections: 0,
            rps_total: 0,
            connections_total: 0,
            burst_multiplier: 5,
            allowlist: Vec::new(),
            rate_bytes_per_sec: 0,
            rate_after_bytes: 0,
        }
    }
}

/// An allowed CORS origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CorsOrigin {
    /// `*`: `Access-Control-Allow-Origin: *`.
    Any,
    /// `scheme://host[:port]`, compared exactly (case-insensitively).
    Exact(String),
    /// `scheme://*.suffix[:port]`: one extra label before `suffix`.
    Wildcard {
        /// `http` or `https`.
        scheme: String,
        /// The domain after `*.`.
        suffix: String,
        /// The port, if written.
        port: Option<u16>,
    },
}

/// CORS (`enable-cors` and `cors-*`). A matching `Origin` is echoed (or `*`); an `OPTIONS`
/// preflight is answered by the proxy with 204 and `Content-Length: 0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cors {
    /// Allowed origins.
    pub allow_origin: Vec<CorsOrigin>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: String,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: String,
    /// `Access-Control-Expose-Headers`; empty = not sent.
    pub expose_headers: String,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` seconds.
    pub max_age: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            allow_origin: vec![CorsOrigin::Any],
            allow_methods: "GET, PUT, POST, DELETE, PATCH, OPTIONS".into(),
            allow_headers: "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization".into(),
            expose_headers: String::new(),
            allow_credentials: true,
            max_age: 1_728_000,
        }
    }
}

/// Request mirroring (`mirror-target`, `mirror-host`, `mirror-request-body`): a copy of each
/// request goes to `target`; its response is discarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// Target URL (variables expanded per request).
    pub target: Template,
    /// `Host` of the mirrored request; `None` = the target's host.
    pub host: Option<String>,
    /// Send the request body too.
    pub request_body: bool,
}

/// Access-log and tracing switches of a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Logging {
    /// `enable-access-log`.
    pub access_log: bool,
    /// `enable-opentelemetry` (annotation, or the ConfigMap key of the same name): start a W3C
    /// trace context (`traceparent`) for requests that arrive without one.
    pub opentelemetry: bool,
    /// `opentelemetry-trust-incoming-span`: keep an incoming `traceparent` as the parent; when
    /// false, a request with tracing on gets a new trace even if it carried one.
    pub trust_incoming_span: bool,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            access_log: true,
            opentelemetry: false,
            trust_incoming_span: true,
        }
    }
}
