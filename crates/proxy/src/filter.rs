//! The per-request hook trait every feature plugs into (DESIGN §5, STYLE 8), and the context a
//! request carries through it. Built-in steps (forwarded headers, request id, `Server` header)
//! are filters too, so an embedder adds behaviour exactly the way the proxy does.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::{HeaderMap, Method, Response, StatusCode, Version};
use sluice_ingress_model::{RouteOrigin, Settings, UpstreamId};
use sluice_router::SharedRoute;

use crate::body::{Body, Traffic};
use crate::client_cert::TlsSession;
use crate::client_ip::ClientOrigin;
use crate::error::ErrorSource;
use crate::generation::Generation;
use crate::hosts::HostRuntime;
use crate::text::{ConnTexts, Text};

/// A per-request hook. Every method has a no-op default; filters run in the order they were
/// added, the built-in ones first.
pub trait Filter: Send + Sync + 'static {
    /// After the route lookup, before anything is forwarded. Return [`Flow::Respond`] to answer
    /// the client directly; later filters' `request` hooks are then skipped.
    fn request(&self, _ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        Flow::Continue
    }

    /// Just before the request head goes to the upstream (hop-by-hop headers already removed).
    fn upstream_request(&self, _ctx: &mut RequestContext, _req: &mut http::request::Parts) {}

    /// On every response head before it goes to the client, proxied or generated.
    fn response(&self, _ctx: &mut RequestContext, _res: &mut http::response::Parts) {}

    /// Once, when the response has been fully sent or the exchange was aborted.
    fn logging(&self, _ctx: &RequestContext) {}
}

/// What a request filter decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on with the next filter and then the route's action.
    Continue,
    /// Answer with this response; the upstream is never contacted.
    Respond(Response<Body>),
}

/// The scheme of the listener a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (HTTP/1.1 or h2c).
    Http,
    /// HTTPS (HTTP/1.1 or h2 over TLS).
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The connection a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The client's address (the TCP peer).
    pub client: SocketAddr,
    /// The listener's scheme.
    pub scheme: Scheme,
    /// The listener's local port.
    pub port: u16,
}

/// Why a request failed, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which side caused it.
    pub source: ErrorSource,
    /// The full error message (may name endpoint addresses; never sent to the client).
    pub message: String,
}

/// When the upstream phases of a request happened (the last attempt's connection; the first
/// attempt's start, so retries count in the upstream time as in nginx's sums).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpstreamTiming {
    /// When forwarding began (before the first connection attempt).
    pub start: Option<Instant>,
    /// When the attempt that answered had its connection (pooled or new).
    pub connected: Option<Instant>,
    /// When the upstream's response head arrived.
    pub header: Option<Instant>,
}

/// Something a filter did to a request, recorded with [`RequestContext::mark`] so the metrics
/// can count it (`sluice_requests_rejected_total{reason}`) without filters knowing about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mark {
    /// Refused by a request-rate limit (`limit-rps`, `limit-rpm`): reason `rate_limit`.
    RateLimited,
    /// Refused by a connection limit (`limit-connections`): reason `connection_limit`.
    ConnectionLimited,
    /// Refused by an IP allow or deny list (or a global block): reason `access_list`.
    AccessDenied,
    /// Refused by basic or external authentication: reason `auth`.
    AuthRejected,
}

impl Mark {
    /// Every mark, in bit order.
    pub const ALL: [Mark; 4] = [
        Mark::RateLimited,
        Mark::ConnectionLimited,
        Mark::AccessDenied,
        Mark::AuthRejected,
    ];

    /// The `reason` label value.
    pub fn reason(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limit",
            Self::ConnectionLimited => "connection_limit",
            Self::AccessDenied => "access_list",
            Self::AuthRejected => "auth",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::RateLimited => 1,
            Self::ConnectionLimited => 2,
            Self::AccessDenied => 4,
            Self::AuthRejected => 8,
        }
    }
}

/// Everything known about one request, passed to every hook.
#[derive(Debug)]
pub struct RequestContext {
    /// When the request head was received.
    pub start: Instant,
    /// The connection it arrived on.
    pub connection: Connection,
    /// The request method.
    pub method: Method,
    /// The client's HTTP version.
    pub version: Version,
    /// The normalised host (`Host` header or `:authority`).
    pub host: String,
    /// The normalised path the route was matched with.
    pub path: String,
    /// The route that matched, if any (the default route counts), shared with the router.
    pub route: Option<SharedRoute>,
    /// The upstream chosen among the route's backends.
    pub upstream: Option<UpstreamId>,
    /// The endpoint of the last attempt.
    pub endpoint: Option<SocketAddr>,
    /// How many endpoints were tried.
    pub attempts: u32,
    /// The status sent to the client, once known.
    pub status: Option<StatusCode>,
    /// The request id (`X-Request-ID`), set by the request-id filter.
    pub request_id: String,
    /// Why the request failed, if it did.
    pub failure: Option<Failure>,
    /// Whether the response body was sent to its end (false when aborted).
    pub completed: bool,
    /// When the upstream phases happened, if the request was forwarded.
    pub upstream_timing: UpstreamTiming,
    /// The status of the upstream's response, when one arrived.
    pub upstream_status: Option<StatusCode>,
    marks: u8,
    traffic: Arc<Traffic>,
    /// What the telemetry filter captured from the request head.
    pub(crate) observed: crate::telemetry::Observed,
    /// The generation serving the request (settings, hosts, compiled rules).
    pub(crate) generation: Option<Arc<Generation>>,
    /// The virtual host of the request host.
    pub(crate) vhost: Option<Arc<HostRuntime>>,
    /// Client address, scheme, port and host after real-IP processing.
    pub(crate) client: ClientOrigin,
    /// The request target as the client sent it (`$request_uri`).
    pub(crate) request_uri: String,
    /// The TLS session, on HTTPS connections.
    pub(crate) tls: Option<Arc<TlsSession>>,
    /// The connection's peer and port as text, when the listener formatted them.
    pub(crate) texts: Option<ConnTexts>,
    /// Capture groups of the route's path regex (`rewrite-target`).
    pub(crate) captures: Vec<String>,
    /// Whether the response came from an upstream (not generated by the proxy).
    pub(crate) from_upstream: bool,
    /// The HTTPS listener's port (`listen_ports.https`).
    pub(crate) https_port: u16,
    /// The client's request headers, kept for a custom error page request.
    pub(crate) error_headers: Option<HeaderMap>,
    /// The CORS origin to echo on the response, decided by the request hook.
    pub(crate) cors_origin: Option<http::HeaderValue>,
    /// The IP list verdict when `satisfy: any` leaves the decision to authentication.
    pub(crate) source_allowed: Option<bool>,
    /// What the traffic features remember about the request (connection-limit slots,
    /// external-auth cookies).
    pub(crate) state: crate::state::FeatureState,
}

impl RequestContext {
    /// A context for a request that has just arrived.
    pub fn new(connection: Connection, method: Method, version: Version) -> Self {
        let client = ClientOrigin {
            remote_addr: connection.client.ip(),
            full_forwarded_addr: connection.client.ip(),
            pass_access_scheme: Text::from_static(connection.scheme.as_str()),
            pass_port: Text::number(connection.port),
            best_http_host: Text::empty(),
        };
        Self::with_client(connection, method, version, client)
    }

    /// A context whose client origin is resolved later (the pipeline's intake does it), so
    /// nothing is formatted for it now.
    pub(crate) fn unresolved(connection: Connection, method: Method, version: Version) -> Self {
        let client = ClientOrigin {
            remote_addr: connection.client.ip(),
            full_forwarded_addr: connection.client.ip(),
            pass_access_scheme: Text::empty(),
            pass_port: Text::empty(),
            best_http_host: Text::empty(),
        };
        Self::with_client(connection, method, version, client)
    }

    fn with_client(
        connection: Connection,
        method: Method,
        version: Version,
        client: ClientOrigin,
    ) -> Self {
        Self {
            start: Instant::now(),
            connection,
            method,
            version,
            host: String::new(),
            path: String::new(),
            route: None,
            upstream: None,
            endpoint: None,
            attempts: 0,
            status: None,
            request_id: String::new(),
            failure: None,
            completed: false,
            upstream_timing: UpstreamTiming::default(),
            upstream_status: None,
            marks: 0,
            traffic: Arc::default(),
            observed: crate::telemetry::Observed::default(),
            generation: None,
            vhost: None,
            client,
            request_uri: String::new(),
            tls: None,
            texts: None,
            captures: Vec::new(),
            from_upstream: false,
            https_port: 443,
            error_headers: None,
            cors_origin: None,
            source_allowed: None,
            state: crate::state::FeatureState::default(),
        }
    }

    /// Records that a filter did something metrics count (rate limiting, access denial, …).
    pub fn mark(&mut self, mark: Mark) {
        self.marks |= mark.bit();
    }

    /// Whether [`RequestContext::mark`] recorded `mark`.
    pub fn is_marked(&self, mark: Mark) -> bool {
        self.marks & mark.bit() != 0
    }

    /// With `satisfy: any` and authentication configured, the IP allow/deny lists do not
    /// answer 403 themselves: this is their verdict (`Some(true)` = the client's address is
    /// allowed, which satisfies the location without authentication). `None` otherwise.
    pub fn source_allowed(&self) -> Option<bool> {
        self.source_allowed
    }

    /// The client's address after real-IP processing (PROXY protocol, `use-forwarded-headers`,
    /// `enable-real-ip`, trusted `proxy-real-ip-cidr`): what allow lists, rate limits and
    /// authentication use (nginx's `$remote_addr`).
    pub fn client_ip(&self) -> IpAddr {
        self.client.remote_addr
    }

    /// The request target as the client sent it, path and query (nginx's `$request_uri`).
    pub fn request_uri(&self) -> &str {
        &self.request_uri
    }

    /// The scheme passed upstream as `X-Forwarded-Proto` (`X-Forwarded-Proto` of the client
    /// with `use-forwarded-headers`, else the listener's).
    pub fn forwarded_proto(&self) -> &str {
        self.client.pass_access_scheme.as_str()
    }

    /// The host passed upstream as `X-Forwarded-Host` (nginx's `$best_http_host`).
    pub fn forwarded_host(&self) -> &str {
        self.client.best_http_host.as_str()
    }

    /// The global settings of the table serving the request.
    pub fn settings(&self) -> &Settings {
        static DEFAULT: OnceLock<Settings> = OnceLock::new();
        match &self.generation {
            Some(generation) => generation.settings(),
            None => DEFAULT.get_or_init(Settings::default),
        }
    }

    /// `$server_port`: the port the request arrived on.
    pub(crate) fn server_port(&self) -> u16 {
        self.connection.port
    }

    /// Where the matched route was declared (Ingress and path as written).
    pub fn origin(&self) -> Option<&RouteOrigin> {
        self.route.as_ref().and_then(|r| r.origin.as_ref())
    }

    /// Request body bytes read from the client so far.
    pub fn bytes_received(&self) -> u64 {
        self.traffic.received.load(Ordering::Relaxed)
    }

    /// Response body bytes sent to the client so far.
    pub fn bytes_sent(&self) -> u64 {
        self.traffic.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn traffic(&self) -> &Arc<Traffic> {
        &self.traffic
    }
}
