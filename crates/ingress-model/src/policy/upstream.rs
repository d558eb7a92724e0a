//! Per-upstream policy: balancing and session affinity. One upstream (Service port)
//! may be used by several Ingresses; the oldest Ingress that sets these wins.

use serde::Serialize;

use crate::template::Template;

/// How to talk to an upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamPolicy {
    /// Endpoint selection.
    pub balance: Balance,
    /// Cookie session affinity; takes precedence over `balance`.
    pub affinity: Option<Affinity>,
    /// `service-upstream`: send to the Service ClusterIP:port instead of the endpoints (no
    /// affinity, retries go to the same address).
    pub service_upstream: bool,
}

/// `backend-protocol`: the protocol spoken to the upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackendProtocol {
    /// HTTP/1.1 over TCP.
    #[default]
    Http,
    /// HTTP/1.1 (or h2 by ALPN) over TLS.
    Https,
    /// The client's scheme.
    AutoHttp,
    /// gRPC over cleartext HTTP/2 (h2c prior knowledge).
    Grpc,
    /// gRPC over TLS.
    Grpcs,
}

/// Endpoint selection (`load-balance`, `upstream-hash-by*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Balance {
    /// Round robin (ingress-nginx `round_robin`, the default).
    #[default]
    RoundRobin,
    /// Peak EWMA of response times, power of two choices (`ewma`).
    Ewma,
    /// Consistent hashing on an expanded key (`upstream-hash-by`).
    ConsistentHash {
        /// The key template, e.g. `$request_uri` or `$http_x_user`.
        key: Template,
        /// `upstream-hash-by-subset-size` when `upstream-hash-by-subset` is on: hash to a
        /// subset of this many endpoints, then pick randomly within it.
        subset: Option<u32>,
    },
}

/// `session-cookie-samesite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SameSite {
    /// `None`.
    None,
    /// `Lax`.
    Lax,
    /// `Strict`.
    Strict,
}

/// `affinity-mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AffinityMode {
    /// Sessions may move when endpoints are added.
    #[default]
    Balanced,
    /// Sessions never move while their endpoint is alive.
    Persistent,
}

/// `affinity-canary-behavior`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AffinityCanaryBehavior {
    /// A client affinitised to the canary stays on the canary.
    #[default]
    Sticky,
    /// Affinity is ignored when choosing between main and canary.
    Legacy,
}

/// Cookie session affinity (`affinity: cookie`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Affinity {
    /// The cookie.
    pub cookie: SessionCookie,
    /// How sessions are kept.
    pub mode: AffinityMode,
    /// Interaction with canaries.
    pub canary_behavior: AffinityCanaryBehavior,
}

/// The affinity cookie the proxy issues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionCookie {
    /// `session-cookie-name`.
    pub name: String,
    /// `session-cookie-path`; `None` = the route's path as written.
    pub path: Option<String>,
    /// `session-cookie-domain`.
    pub domain: Option<String>,
    /// `session-cookie-max-age` seconds; `None` = session cookie.
    pub max_age: Option<u64>,
    /// `session-cookie-expires` seconds from now; `None` = no `Expires`.
    pub expires: Option<u64>,
    /// `session-cookie-samesite`.
    pub samesite: Option<SameSite>,
    /// `session-cookie-conditional-samesite-none`: omit `SameSite=None` for user agents known
    /// to mishandle it.
    pub conditional_samesite_none: bool,
    /// `session-cookie-secure`: `Some(true)` forces `Secure`; `None` = only over HTTPS.
    pub secure: Option<bool>,
    /// `session-cookie-partitioned`.
    pub partitioned: bool,
    /// `session-cookie-change-on-failure`: pick a new endpoint (and reissue the cookie) when
    /// the sticky one failed.
    pub change_on_failure: bool,
}

impl Default for SessionCookie {
    fn default() -> Self {
        Self {
            name: "INGRESSCOOKIE".into(),
            path: None,
            domain: None,
            max_age: None,
            expires: None,
            samesite: None,
            conditional_samesite_none: false,
            secure: None,
            partitioned: false,
            change_on_failure: false,
        }
    }
}
