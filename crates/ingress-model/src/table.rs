//! The output: `RouteTable { routes, endpoints }`. Routes refer to upstreams by [`UpstreamId`];
//! endpoint addresses live only in [`Endpoints`], so an endpoint change is one comparison away
//! from a structural one (see [`crate::diff`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::condition::Condition;
use crate::host::HostPattern;
use crate::key::ObjectKey;
use crate::objects::PortRef;
use crate::path::PathMatch;
use crate::policy::{HostPolicy, Policy, Settings, UpstreamPolicy};
use crate::template::Template;

/// Everything the proxy needs: what to match and where to send it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteTable {
    /// The structure: hosts, routes, upstream specs, certificates, global settings.
    pub routes: Routes,
    /// Endpoint addresses per upstream.
    pub endpoints: Endpoints,
}

/// The structural part of a table; any change here means the router is rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Routes {
    /// Virtual hosts, sorted by host pattern (exact, then wildcard, then any); at most one per
    /// pattern. Shared: an unchanged virtual host keeps its allocation from one build to the
    /// next (see [`crate::Incremental`]), so comparing it is a pointer comparison.
    pub virtual_hosts: Vec<Arc<VirtualHost>>,
    /// Serves requests no virtual host route matches; `None` means the built-in 404.
    pub default_route: Option<Route>,
    /// Every upstream a route refers to, with how to talk to it.
    pub upstreams: BTreeMap<UpstreamId, Upstream>,
    /// Parsed TLS certificates by Secret, shared (not copied) from one build to the next.
    pub certificates: BTreeMap<ObjectKey, Arc<Certificate>>,
    /// The certificate for unknown SNI and for hosts whose own certificate is unusable;
    /// `None` means the proxy generates a self-signed one.
    pub default_certificate: Option<ObjectKey>,
    /// Global settings from the controller ConfigMap.
    pub settings: Settings,
}

/// The routes of one host pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualHost {
    /// Which hosts this serves.
    pub host: HostPattern,
    /// TLS for this host, if an Ingress asked for it.
    pub tls: Option<HostTls>,
    /// Routes, sorted by path precedence (best first); ties keep Ingress precedence order.
    pub routes: Vec<Route>,
    /// Host-level settings (mTLS, ciphers, passthrough, alias origin); hosts with the default
    /// settings share one.
    pub policy: Arc<HostPolicy>,
}

/// TLS settings of a virtual host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostTls {
    /// The Secret whose certificate to present; `None` means the default certificate.
    pub certificate: Option<ObjectKey>,
    /// The Ingress whose `spec.tls` entry this came from.
    pub origin: ObjectKey,
}

/// One route: a path match, extra conditions, an action and a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    /// How the path must match.
    pub path: PathMatch,
    /// Extra conditions that must all hold (headers, cookies, query, method); empty = none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What to do with a matching request.
    pub action: Action,
    /// Per-route policy (timeouts, limits, rewrites, …), shared by the routes of one Ingress.
    pub policy: Arc<Policy>,
    /// Where the route was declared; `None` for the controller's default backend.
    pub origin: Option<RouteOrigin>,
}

/// Where a route came from, for diagnostics, metrics and logs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RouteOrigin {
    /// The Ingress.
    pub ingress: ObjectKey,
    /// The path as written in the Ingress (`$location_path`); `/` for a default backend.
    pub path: String,
}

/// What a route does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Proxy to one of these upstreams, chosen by weight.
    Forward(Forward),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer with a fixed response.
    Respond(FixedResponse),
}

/// Forward to weighted upstreams. A single backend has weight 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// The candidates; a weight of 0 receives no traffic.
    pub backends: Vec<WeightedUpstream>,
    /// An ingress-nginx canary attached to this route: the proxy decides per request whether
    /// the canary upstream serves instead of `backends` (route lookup is unaffected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

impl Forward {
    /// Forward everything to one upstream.
    pub fn to(upstream: UpstreamId) -> Self {
        Self {
            backends: vec![WeightedUpstream {
                upstream,
                weight: 1,
            }],
            canary: None,
        }
    }
}

/// The alternative upstream of a route (a canary Ingress with the same host and path).
///
/// Per request the proxy applies ingress-nginx's order:
/// 0. affinity: with [`crate::policy::AffinityCanaryBehavior::Sticky`], a request whose
///    affinity cookie points at the main upstream stays there and one pointing at the canary
///    goes there;
/// 1. `header`: the request header decides — with `value`, equal → canary; with `pattern`, a
///    match → canary; otherwise `always` → canary and `never` → main; anything else (or no
///    header) falls through;
/// 2. `cookie`: `always` → canary, `never` → main, else fall through;
/// 3. weight: the canary serves when a random draw in `1..=total` is `<= weight`, where
///    `total` is `weight_total` (ingress-nginx uses 100 unless `weight_total` is larger).
///
/// Metrics and logs label canary-served requests with the canary upstream name
/// (`$proxy_alternative_upstream_name`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Canary {
    /// The canary upstream.
    pub upstream: UpstreamId,
    /// `canary-by-header*`.
    pub header: Option<CanaryHeader>,
    /// `canary-by-cookie`.
    pub cookie: Option<String>,
    /// `canary-weight`.
    pub weight: u32,
    /// `canary-weight-total`.
    pub weight_total: u32,
    /// The canary Ingress.
    pub origin: ObjectKey,
}

/// `canary-by-header` with `-value` or `-pattern`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CanaryHeader {
    /// Header name, lowercase.
    pub name: String,
    /// How its value is judged.
    pub rule: CanaryHeaderRule,
}

/// How a canary header value is judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CanaryHeaderRule {
    /// `always` → canary, `never` → main.
    AlwaysNever,
    /// This exact value → canary (`canary-by-header-value`).
    Value(String),
    /// A regex match anywhere in the value → canary (`canary-by-header-pattern`).
    Pattern(String),
}

/// One backend of a [`Forward`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeightedUpstream {
    /// The upstream.
    pub upstream: UpstreamId,
    /// Relative weight.
    pub weight: u32,
}

/// A redirect answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// The `Location` as written; may contain whitelisted `$variables`.
    pub location: String,
    /// `location` parsed: the proxy expands its variables per request.
    #[serde(skip)]
    pub template: Template,
    /// 3xx status code.
    pub status: u16,
}

impl Redirect {
    /// A redirect to a parsed location.
    pub fn new(template: Template, status: u16) -> Self {
        Self {
            location: template.text.clone(),
            template,
            status,
        }
    }
}

/// A fixed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FixedResponse {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// Names an upstream: a Service port as the Ingress wrote it. Displays like ingress-nginx's
/// upstream name, `namespace-service-port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamId {
    /// Service namespace.
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// Service port by number or name.
    pub port: PortRef,
}

impl UpstreamId {
    /// An upstream id.
    pub fn new(namespace: impl Into<String>, service: impl Into<String>, port: PortRef) -> Self {
        Self {
            namespace: namespace.into(),
            service: service.into(),
            port,
        }
    }
}

impl fmt::Display for UpstreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.namespace, self.service, self.port)
    }
}

impl Serialize for UpstreamId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How to reach an upstream (the addresses are in [`Endpoints`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Upstream {
    /// Protocol, balancing and connection settings.
    pub policy: UpstreamPolicy,
}

/// Endpoint addresses per upstream. An upstream missing here has no endpoints (503).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Endpoints(pub BTreeMap<UpstreamId, EndpointSet>);

impl Endpoints {
    /// The endpoints of one upstream, if any.
    pub fn get(&self, upstream: &UpstreamId) -> Option<&EndpointSet> {
        self.0.get(upstream)
    }
}

/// The ready addresses of one upstream, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EndpointSet(pub BTreeSet<SocketAddr>);

impl EndpointSet {
    /// Whether there is no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many addresses.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The addresses in order.
    pub fn iter(&self) -> impl Iterator<Item = &SocketAddr> {
        self.0.iter()
    }
}

impl FromIterator<SocketAddr> for EndpointSet {
    fn from_iter<I: IntoIterator<Item = SocketAddr>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// A parsed TLS certificate chain and key. Key material is never serialised or printed.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// DER certificates, leaf first.
    #[serde(skip)]
    pub chain: Vec<Vec<u8>>,
    /// The private key.
    #[serde(skip)]
    pub key: PrivateKey,
    /// DNS names (SANs, else the subject CN) of the leaf.
    pub names: Vec<String>,
    /// Leaf `notAfter`, Unix seconds.
    pub not_after: i64,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("chain_len", &self.chain.len())
            .field("key", &self.key.format)
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// A DER private key and its encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    /// Encoding of `der`.
    pub format: KeyFormat,
    /// The key.
    pub der: Vec<u8>,
}

impl Default for PrivateKey {
    fn default() -> Self {
        Self {
            format: KeyFormat::Pkcs8,
            der: Vec::new(),
        }
    }
}

/// Private-key encodings accepted in TLS Secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeyFormat {
    /// `BEGIN RSA PRIVATE KEY`.
    Pkcs1,
    /// `BEGIN PRIVATE KEY`.
    Pkcs8,
    /// `BEGIN EC PRIVATE KEY`.
    Sec1,
}

impl RouteTable {
    /// The virtual host serving a normalised request host: exact, else wildcard, else any.
    pub fn virtual_host(&self, host: &str) -> Option<&VirtualHost> {
        self.routes.virtual_host(host)
    }
}

impl Routes {
    /// The virtual host serving a normalised request host: exact, else wildcard, else any.
    pub fn virtual_host(&self, host: &str) -> Option<&VirtualHost> {
        let rank = |v: &VirtualHost| match v.host {
            HostPattern::Exact(_) => 0,
            HostPattern::Wildcard(_) => 1,
            HostPattern::Any => 2,
        };
        self.virtual_hosts
            .iter()
            .filter(|v| v.host.matches(host))
            .min_by_key(|v| rank(v))
            .map(|v| &**v)
    }

    /// Every upstream id a route refers to, the default route included.
    pub fn referenced_upstreams(&self) -> BTreeSet<&UpstreamId> {
        let hosts = self.virtual_hosts.iter().flat_map(|v| v.upstream_refs());
        let default = self.default_route.iter().flat_map(Route::upstream_refs);
        hosts.chain(default).collect()
    }
}

impl VirtualHost {
    /// The upstreams this virtual host refers to: its routes' and its passthrough target
    /// (repeats included).
    pub fn upstream_refs(&self) -> impl Iterator<Item = &UpstreamId> {
        let routes = self.routes.iter().flat_map(Route::upstream_refs);
        routes.chain(self.policy.passthrough.as_ref())
    }
}

impl Route {
    /// The upstreams this route refers to: its backends, its canary and its custom-errors
    /// default backend (repeats included).
    pub fn upstream_refs(&self) -> impl Iterator<Item = &UpstreamId> {
        let forward = match &self.action {
            Action::Forward(f) => Some(f),
            _ => None,
        };
        let backends = forward
            .into_iter()
            .flat_map(|f| &f.backends)
            .map(|b| &b.upstream);
        let canary = forward.and_then(|f| f.canary.as_ref()).map(|c| &c.upstream);
        backends
            .chain(canary)
            .chain(self.policy.default_backend.as_ref())
    }
}

/// One virtual host that differs between two tables: `old` is gone, `new` came (both for a
/// changed host).
#[derive(Clone, Debug)]
pub struct HostChange<'a> {
    /// The virtual host in the older table, if it had one of this pattern.
    pub old: Option<&'a Arc<VirtualHost>>,
    /// The virtual host in the newer table, if it has one of this pattern.
    pub new: Option<&'a Arc<VirtualHost>>,
}

impl Routes {
    /// The virtual hosts that differ from `old`'s, by pattern; `None` when either list is not
    /// strictly sorted by pattern (a hand-made table), which callers handle by starting over.
    /// An unchanged virtual host costs a pointer comparison when both tables share it (as
    /// [`crate::Incremental`] builds them), a deep comparison otherwise.
    pub fn host_changes<'a>(&'a self, old: &'a Routes) -> Option<Vec<HostChange<'a>>> {
        host_changes(&old.virtual_hosts, &self.virtual_hosts)
    }
}

/// [`host_changes`] between two tables, computed once and handed to everything that keeps
/// per-host state, each of which checks it was computed from its own source list.
#[derive(Debug)]
pub struct HostDiff<'a> {
    old: &'a [Arc<VirtualHost>],
    new: &'a [Arc<VirtualHost>],
    changes: Option<Vec<HostChange<'a>>>,
}

impl<'a> HostDiff<'a> {
    /// The virtual hosts that differ from `old` to `new`.
    pub fn new(old: &'a Routes, new: &'a Routes) -> Self {
        Self {
            old: &old.virtual_hosts,
            new: &new.virtual_hosts,
            changes: host_changes(&old.virtual_hosts, &new.virtual_hosts),
        }
    }

    /// The changes, if any could be listed (see [`host_changes`]).
    pub fn changes(&self) -> Option<&[HostChange<'a>]> {
        self.changes.as_deref()
    }

    /// The changes from `from` to `to`, when this diff was computed between exactly these
    /// lists: `to` is the same slice, `from` holds the same virtual hosts (by pointer).
    pub fn between(
        &self,
        from: &[Arc<VirtualHost>],
        to: &[Arc<VirtualHost>],
    ) -> Option<&[HostChange<'a>]> {
        let same_to = std::ptr::eq(self.new, to);
        let same_from = from.len() == self.old.len()
            && from.iter().zip(self.old).all(|(a, b)| Arc::ptr_eq(a, b));
        if same_to && same_from {
            self.changes()
        } else {
            None
        }
    }
}

/// [`Routes::host_changes`] over two lists of virtual hosts.
pub fn host_changes<'a>(
    old: &'a [Arc<VirtualHost>],
    new: &'a [Arc<VirtualHost>],
) -> Option<Vec<HostChange<'a>>> {
    let sorted = |v: &[Arc<VirtualHost>]| v.windows(2).all(|w| w[0].host < w[1].host);
    if !sorted(new) || !sorted(old) {
        return None;
    }
    let mut changes = Vec::new();
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let change = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => HostChange {
                old: a.next(),
                new: None,
            },
            (None, Some(_)) => HostChange {
                old: None,
                new: b.next(),
            },
            (Some(x), Some(y)) if Arc::ptr_eq(x, y) => {
                a.next();
                b.next();
                continue;
            }
            (Some(x), Some(y)) => match x.host.cmp(&y.host) {
                std::cmp::Ordering::Less => HostChange {
                    old: a.next(),
                    new: None,
                },
                std::cmp::Ordering::Greater => HostChange {
                    old: None,
                    new: b.next(),
                },
                std::cmp::Ordering::Equal if x == y => {
                    a.next();
                    b.next();
                    continue;
                }
                std::cmp::Ordering::Equal => HostChange {
                    old: a.next(),
                    new: b.next(),
                },
            },
        };
        changes.push(change);
    }
    Some(changes)
}
