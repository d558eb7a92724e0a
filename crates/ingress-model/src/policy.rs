//! Route, upstream, host and global policies. Annotations and the controller ConfigMap fill
//! them; the defaults are ingress-nginx's. Durations are whole milliseconds, sizes whole bytes.
//!
//! How each field is filled (which annotation, which ConfigMap key) is in the registries of
//! [`crate::annotations`] and [`crate::config`]; `docs/compatibility.md` is generated from them.
//! Every per-route field starts from the ConfigMap value (itself defaulting to ingress-nginx's
//! default) and an annotation of the Ingress overrides it.

mod auth;
mod host;
mod route;
mod settings;
mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

pub use auth::{
    Auth, BasicAuth, BasicAuthKind, CacheRule, Credentials, ExternalAuth, ExternalAuthKeepalive,
    HashScheme, PasswordHash,
};
pub use host::{ClientAuth, HostPolicy, UpstreamTls, VerifyClient};
pub use route::{
    AccessControl, Cors, CorsOrigin, CustomErrors, Deny, HttpVersion, Logging, Mirror,
    NextUpstream, ProxyRedirect, RateLimit, Redirects, RequestBody, ResponseBuffering,
    ResponseRewrite, Retry, Rewrite, Satisfy, Timeouts, UpstreamRequest,
};
pub use settings::{
    AccessLog, Admission, Blocking, ClientSettings, Compression, ForwardedHeaders, GlobalAuth,
    Hsts, LogEscape, RiskLevel, Settings, TlsSettings, TlsVersion, UpstreamSettings,
};
pub use upstream::{
    Affinity, AffinityCanaryBehavior, AffinityMode, BackendProtocol, Balance, SameSite,
    SessionCookie, UpstreamPolicy,
};

use crate::table::UpstreamId;

/// Per-route policy. Routes of one Ingress share one `Arc<Policy>`.
///
/// The proxy applies it in this order (nginx phase order): `deny` (503) → HTTPS redirect
/// (`redirects`) → `app_root` → CORS preflight → rate limits (nginx's preaccess phase) →
/// access lists (`access`) and authentication (`auth`, combined by `access.satisfy`) →
/// `rewrite` → forward with
/// `upstream_request`, `timeouts`, `retry`, `request_body`, `response_buffering` → response
/// filters (`response_rewrite`, `response_headers`, CORS headers, `errors`) → `logging`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Fail closed: when set, every request of the route gets this status (ingress-nginx's
    /// "location denied" for auth misconfiguration).
    pub deny: Option<Deny>,
    /// Upstream timeouts.
    pub timeouts: Timeouts,
    /// When and how often to try another endpoint.
    pub retry: Retry,
    /// Request body limits and buffering.
    pub request_body: RequestBody,
    /// Response buffering.
    pub response_buffering: ResponseBuffering,
    /// What the upstream request looks like (Host, HTTP version, extra headers).
    pub upstream_request: UpstreamRequest,
    /// `rewrite-target`.
    pub rewrite: Option<Rewrite>,
    /// HTTPS redirects, app-root and redirect formatting.
    pub redirects: Redirects,
    /// Rewrites of upstream `Set-Cookie` and `Location`.
    pub response_rewrite: ResponseRewrite,
    /// Custom error pages.
    pub errors: CustomErrors,
    /// `default-backend` annotation: serves when the route's upstream has no endpoints (and the
    /// custom error pages).
    pub default_backend: Option<UpstreamId>,
    /// Client IP allow and deny lists.
    pub access: AccessControl,
    /// Rate and connection limits.
    pub rate_limit: RateLimit,
    /// CORS; `None` when `enable-cors` is off.
    pub cors: Option<Cors>,
    /// Basic/digest and external authentication.
    pub auth: Auth,
    /// TLS towards HTTPS/GRPCS upstreams (`proxy-ssl-*`).
    pub upstream_tls: Option<Arc<UpstreamTls>>,
    /// Request mirroring.
    pub mirror: Option<Mirror>,
    /// `custom-headers`: extra response headers.
    pub response_headers: BTreeMap<String, String>,
    /// Access-log switch.
    pub logging: Logging,
}
