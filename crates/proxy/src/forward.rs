//! Forwarding one request: backend and endpoint choice (the `default-backend` annotation when
//! the route's upstream has no endpoints), the request body (`request_body`), header rewriting
//! (hop-by-hop headers out, filters' `upstream_request` hooks), the transport of the route's
//! `backend-protocol`, ingress-nginx's timeouts, `proxy-next-upstream` retries, the
//! `proxy-buffer-size` limit on response heads, and upgrade tunnels.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, EXPECT, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::connect::capture_connection;
use hyper_util::rt::TokioIo;
use sluice_ingress_model::policy::HttpVersion;
use sluice_ingress_model::{BackendProtocol, Forward, Policy, Timeouts, UpstreamId};
use tokio::time::Instant;

use crate::body::{Body, Progress, UpstreamResponseBody};
use crate::client::{KeepAlive, Transport, UpstreamClients};
use crate::connector::ConnUse;
use crate::error::ProxyError;
use crate::filter::{Filter, RequestContext};
use crate::generation::Generation;
use crate::request_body::{self, Prepared};
use crate::upstream::{Endpoint, Upstream};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// What forwarding needs besides the request.
pub(crate) struct ForwardContext<'a> {
    /// The live generation.
    pub generation: &'a Generation,
    /// The filters, for their `upstream_request` hooks.
    pub filters: &'a [Arc<dyn Filter>],
    /// The counter for the weighted backend choice.
    pub backend_cursor: &'a AtomicUsize,
}

impl ForwardContext<'_> {
    fn clients(&self) -> &UpstreamClients {
        &self.generation.clients
    }
}

/// The route's timeouts as durations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    connect: Duration,
    read: Duration,
    send: Duration,
}

impl From<&Timeouts> for Limits {
    fn from(t: &Timeouts) -> Self {
        Self {
            connect: Duration::from_millis(t.connect_ms),
            read: Duration::from_millis(t.read_ms),
            send: Duration::from_millis(t.send_ms),
        }
    }
}

/// Forwards a request to one of the route's backends and returns the upstream's response with
/// a streaming body.
pub(crate) async fn forward(
    fx: ForwardContext<'_>,
    ctx: &mut RequestContext,
    mut parts: http::request::Parts,
    body: Incoming,
    client_upgrade: Option<OnUpgrade>,
    route: &Forward,
    policy: &Policy,
) -> Result<Response<Body>, ProxyError> {
    let limits = Limits::from(&policy.timeouts);
    let id = choose_backend(route, fx.backend_cursor).ok_or_else(|| ProxyError::NoEndpoints {
        upstream: route
            .backends
            .first()
            .map_or_else(|| "(none)".to_owned(), |b| b.upstream.to_string()),
    })?;
    let Live {
        upstream,
        endpoints,
    } = match live_endpoints(fx.generation, id) {
        Some(found) => found,
        None => {
            // `default-backend`: serves, with ingress-nginx's error headers, when the route's
            // upstream has no endpoints.
            let fallback = policy
                .default_backend
                .as_ref()
                .and_then(|db| live_endpoints(fx.generation, db));
            let Some(fallback) = fallback else {
                ctx.upstream = Some(id.clone());
                return Err(ProxyError::NoEndpoints {
                    upstream: id.to_string(),
                });
            };
            crate::custom_errors::set_error_headers(ctx, &mut parts.headers, 503, false);
            fallback
        }
    };
    ctx.upstream = Some(upstream.id.clone());

    let protocol = upstream.policy.protocol;
    let grpc = matches!(protocol, BackendProtocol::Grpc | BackendProtocol::Grpcs);
    let (transport, tls) = fx.clients().transport(
        protocol,
        ctx.connection.scheme,
        policy.upstream_tls.as_deref(),
        &upstream.id,
    )?;
    let version = match (&transport, policy.upstream_request.http_version) {
        (Transport::H2 { .. }, _) => Version::HTTP_2,
        (Transport::Http1(_), HttpVersion::Http10) => Version::HTTP_10,
        (Transport::Http1(_), HttpVersion::Http11) => Version::HTTP_11,
    };
    let keepalive = fx.clients().keepalive();

    // Hop-by-hop headers go before the body is read so nothing of the client's framing leaks.
    let upgrade = client_upgrade.filter(|_| version == Version::HTTP_11);
    prepare_request_head(&mut parts, upgrade.is_some());
    let progress = Arc::new(Progress::new(false));
    let client_idle = Duration::from_millis(ctx.settings().client.body_timeout_ms);
    let buffer = policy.request_body.buffering && !grpc;
    let prepared = request_body::prepare(
        body,
        &policy.request_body,
        buffer,
        client_idle,
        &progress,
        ctx.traffic(),
    )
    .await?;

    for filter in fx.filters {
        filter.upstream_request(ctx, &mut parts);
    }
    if keepalive.disabled && upgrade.is_none() && !parts.headers.contains_key(CONNECTION) {
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    parts.version = version;
    parts.extensions = http::Extensions::new();
    let authority = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.host.clone());
    if version == Version::HTTP_2 {
        // The authority travels as `:authority`; a `Host` header next to it would be redundant.
        parts.headers.remove(HOST);
        parts.headers.remove(CONNECTION);
    }

    let plan = Attempts::new(policy, &parts.method, endpoints.len(), &prepared);
    let mut streamed = match prepared {
        Prepared::Streaming(body) => Some(body),
        Prepared::Replayable(_) => None,
    };
    let replay = plan.replay.clone();
    let original_uri = parts.uri.clone();
    let scheme = if tls { "https" } else { "http" };
    let header_limit = policy.response_buffering.header_bytes;
    let mut tried: Vec<SocketAddr> = Vec::new();
    let deadline = plan.budget.map(|budget| Instant::now() + budget);
    loop {
        let endpoint = upstream
            .pick(&endpoints, &tried)
            .or_else(|| upstream.pick(&endpoints, &[]))
            .ok_or_else(|| ProxyError::NoEndpoints {
                upstream: upstream.id.to_string(),
            })?;
        tried.push(endpoint.addr);
        ctx.attempts += 1;
        ctx.endpoint = Some(endpoint.addr);
        endpoint.requests.fetch_add(1, Ordering::Relaxed);
        let last = ctx.attempts >= plan.tries || deadline.is_some_and(|d| Instant::now() >= d);
        let attempt = Attempt {
            transport: &transport,
            pool: fx.clients(),
            endpoint: endpoint.addr,
            limits,
            progress: &progress,
            keepalive,
        };
        // HTTP/2 connections are opened before the body is handed over, so a failed connect
        // leaves even a streaming body available for the next endpoint.
        let h2_sender = match &transport {
            Transport::H2 { connector, key } => match attempt.h2_sender(connector, *key).await {
                Ok(sender) => Some(sender),
                Err(error) => {
                    note_failure(&endpoint, &error);
                    if last || !plan.retry_on_connect(&error) {
                        return Err(error);
                    }
                    tracing::debug!(%error, upstream = %upstream.id, "trying the next endpoint");
                    continue;
                }
            },
            Transport::Http1(_) => None,
        };
        let body = match (&replay, streamed.take()) {
            (Some(bytes), _) => Body::full(bytes.clone()),
            (None, Some(body)) => body,
            (None, None) => Body::empty(),
        };
        let mut request = Request::from_parts(parts.clone(), body);
        let target = match &transport {
            Transport::Http1(_) => endpoint.addr.to_string(),
            Transport::H2 { .. } => authority.clone(),
        };
        *request.uri_mut() = upstream_uri(scheme, &target, &original_uri)?;
        let outcome = attempt.send(request, h2_sender).await.and_then(|response| {
            check_head(&response, endpoint.addr, header_limit, &transport).map(|()| response)
        });
        match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                if !last && plan.retry_on_status(status) {
                    tracing::debug!(status, upstream = %upstream.id, "trying the next endpoint");
                    continue;
                }
                ctx.from_upstream = true;
                return finish_response(response, upgrade, endpoint.addr, limits);
            }
            Err(error) => {
                note_failure(&endpoint, &error);
                if last || !plan.retry_on_error(&error) {
                    return Err(error);
                }
                tracing::debug!(%error, upstream = %upstream.id, "trying the next endpoint");
            }
        }
    }
}

/// An upstream with the endpoint list of this request.
struct Live {
    upstream: Arc<Upstream>,
    endpoints: Arc<Vec<Arc<Endpoint>>>,
}

/// The upstream and its endpoints, when it has any.
fn live_endpoints(generation: &Generation, id: &UpstreamId) -> Option<Live> {
    let upstream = generation.upstreams.get(id)?;
    let endpoints = upstream.endpoints();
    (!endpoints.is_empty()).then(|| Live {
        upstream: upstream.clone(),
        endpoints,
    })
}

fn note_failure(endpoint: &Endpoint, error: &ProxyError) {
    if error.is_connect_failure() {
        endpoint.failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// `proxy-next-upstream`, `-tries`, `-timeout` and `retry-non-idempotent` for one request.
struct Attempts<'a> {
    policy: &'a Policy,
    tries: u32,
    budget: Option<Duration>,
    replay: Option<Bytes>,
    /// Whether the request may be sent again after reaching an upstream.
    resendable: bool,
}

impl<'a> Attempts<'a> {
    fn new(policy: &'a Policy, method: &Method, endpoints: usize, body: &Prepared) -> Self {
        let retry = &policy.retry;
        let on = &retry.on;
        let any = on.error || on.timeout || on.invalid_header || !on.statuses.is_empty();
        let tries = match retry.tries {
            _ if !any => 1,
            0 => u32::try_from(endpoints).unwrap_or(u32::MAX).max(1),
            n => n,
        };
        let idempotent = !matches!(method.as_str(), "POST" | "PATCH" | "LOCK");
        let replay = match body {
            Prepared::Replayable(bytes) => Some(bytes.clone()),
            Prepared::Streaming(_) => None,
        };
        Self {
            policy,
            tries,
            budget: (retry.timeout_ms > 0).then(|| Duration::from_millis(retry.timeout_ms)),
            resendable: replay.is_some() && (idempotent || on.non_idempotent),
            replay,
        }
    }

    fn retry_on_status(&self, status: u16) -> bool {
        self.resendable && self.policy.retry.on.statuses.contains(&status)
    }

    /// A connection that could not be opened: nothing was sent, any request may go elsewhere.
    fn retry_on_connect(&self, error: &ProxyError) -> bool {
        let on = &self.policy.retry.on;
        match error {
            ProxyError::Connect { .. } => on.error,
            ProxyError::ConnectTimeout { .. } => on.timeout,
            _ => false,
        }
    }

    fn retry_on_error(&self, error: &ProxyError) -> bool {
        let on = &self.policy.retry.on;
        match error {
            // Nothing reached the upstream: any request may go elsewhere.
            ProxyError::Connect { .. } => on.error && (self.replay.is_some()),
            ProxyError::ConnectTimeout { .. } => on.timeout && (self.replay.is_some()),
            ProxyError::UpstreamProtocol { .. } => on.error && self.resendable,
            ProxyError::UpstreamTimeout { .. } => on.timeout && self.resendable,
            ProxyError::HeaderTooBig { .. } => on.invalid_header && self.resendable,
            _ => false,
        }
    }
}

/// One attempt on one endpoint.
struct Attempt<'a> {
    transport: &'a Transport,
    pool: &'a UpstreamClients,
    endpoint: SocketAddr,
    limits: Limits,
    progress: &'a Progress,
    keepalive: KeepAlive,
}

impl Attempt<'_> {
    /// Sends the request: the route's connect timeout until a connection is ready, then the
    /// send (while the body is still going out) or read timeout, measured from the last
    /// progress, until the response head arrives.
    async fn send(
        &self,
        mut request: Request<Body>,
        h2_sender: Option<SendRequest<Body>>,
    ) -> Result<Response<Incoming>, ProxyError> {
        let endpoint = self.endpoint;
        let connect_deadline = Instant::now() + self.limits.connect;
        let connect_timeout = ProxyError::ConnectTimeout {
            endpoint,
            after: self.limits.connect,
        };
        match self.transport {
            Transport::Http1(client) => {
                let mut capture = capture_connection(&mut request);
                let response = client.request(request);
                tokio::pin!(response);
                let connected = tokio::select! {
                    biased;
                    result = &mut response => {
                        return result.map_err(|e| self.legacy_error(e));
                    }
                    meta = capture.wait_for_connection_metadata() => meta.is_some(),
                    () = tokio::time::sleep_until(connect_deadline) => return Err(connect_timeout),
                };
                if !connected {
                    // The request was dropped before a connection was found; its error is on
                    // the way.
                    return match tokio::time::timeout_at(connect_deadline, &mut response).await {
                        Ok(result) => result.map_err(|e| self.legacy_error(e)),
                        Err(_) => Err(connect_timeout),
                    };
                }
                if let Some(connected) = capture.connection_metadata().as_ref() {
                    let mut extras = http::Extensions::new();
                    connected.get_extras(&mut extras);
                    if let Some(usage) = extras.get::<Arc<ConnUse>>() {
                        let count = usage.count();
                        if count >= self.keepalive.requests
                            || usage.opened.elapsed() >= self.keepalive.time
                        {
                            connected.poison();
                        }
                    }
                }
                self.progress.touch();
                self.wait(response, |e| self.hyper_error(e)).await
            }
            Transport::H2 { connector, key } => {
                let mut sender = match h2_sender {
                    Some(sender) => sender,
                    None => self.h2_sender(connector, *key).await?,
                };
                self.progress.touch();
                let response = sender.send_request(request);
                self.wait(response, |e| self.hyper_error(e)).await
            }
        }
    }

    /// A ready HTTP/2 sender to the endpoint, within the connect timeout.
    async fn h2_sender(
        &self,
        connector: &crate::connector::Connector,
        key: usize,
    ) -> Result<SendRequest<Body>, ProxyError> {
        let endpoint = self.endpoint;
        let deadline = Instant::now() + self.limits.connect;
        tokio::time::timeout_at(deadline, self.pool.h2().sender(endpoint, key, connector))
            .await
            .map_err(|_| ProxyError::ConnectTimeout {
                endpoint,
                after: self.limits.connect,
            })?
            .map_err(|source| ProxyError::Connect { endpoint, source })
    }

    /// Waits for the response head with the send and read timeouts.
    async fn wait<F, E>(
        &self,
        response: F,
        map_error: impl Fn(E) -> ProxyError,
    ) -> Result<Response<Incoming>, ProxyError>
    where
        F: std::future::Future<Output = Result<Response<Incoming>, E>>,
    {
        tokio::pin!(response);
        loop {
            let limit = self.current_limit();
            let deadline = Instant::from_std(self.progress.last_activity()) + limit;
            tokio::select! {
                biased;
                result = &mut response => return result.map_err(map_error),
                () = tokio::time::sleep_until(deadline) => {
                    let limit = self.current_limit();
                    if Instant::from_std(self.progress.last_activity()) + limit <= Instant::now() {
                        if let Some(failure) = self.progress.client_failure() {
                            return Err(failure.to_error());
                        }
                        return Err(ProxyError::UpstreamTimeout { endpoint: self.endpoint, after: limit });
                    }
                }
            }
        }
    }

    fn current_limit(&self) -> Duration {
        if self.progress.request_done() {
            self.limits.read
        } else {
            self.limits.send
        }
    }

    fn legacy_error(&self, error: hyper_util::client::legacy::Error) -> ProxyError {
        if let Some(failure) = self.progress.client_failure() {
            return failure.to_error();
        }
        if error.is_connect() {
            ProxyError::Connect {
                endpoint: self.endpoint,
                source: error.into(),
            }
        } else {
            ProxyError::UpstreamProtocol {
                endpoint: self.endpoint,
                source: error.into(),
            }
        }
    }

    fn hyper_error<E: Into<crate::error::BoxError>>(&self, error: E) -> ProxyError {
        if let Some(failure) = self.progress.client_failure() {
            return failure.to_error();
        }
        ProxyError::UpstreamProtocol {
            endpoint: self.endpoint,
            source: error.into(),
        }
    }
}

/// `proxy-buffer-size`: the upstream's response head (status line and header lines, as nginx
/// reads them) must fit; otherwise "upstream sent too big header" (502).
fn check_head(
    response: &Response<Incoming>,
    endpoint: SocketAddr,
    limit: u64,
    transport: &Transport,
) -> Result<(), ProxyError> {
    if matches!(transport, Transport::H2 { .. }) || limit == 0 {
        return Ok(());
    }
    let reason = response.status().canonical_reason().unwrap_or("");
    let mut size = (b"HTTP/1.1 200 ".len() + reason.len() + 2) as u64;
    for (name, value) in response.headers() {
        size += (name.as_str().len() + 2 + value.len() + 2) as u64;
    }
    size += 2;
    if size > limit {
        return Err(ProxyError::HeaderTooBig {
            endpoint,
            size,
            limit,
        });
    }
    Ok(())
}

/// Picks a backend by weight (a counter walked over the cumulative weights), `None` when every
/// weight is zero.
fn choose_backend<'a>(route: &'a Forward, cursor: &AtomicUsize) -> Option<&'a UpstreamId> {
    if let [only] = route.backends.as_slice() {
        return (only.weight > 0).then_some(&only.upstream);
    }
    let total: u64 = route.backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut n = cursor.fetch_add(1, Ordering::Relaxed) as u64 % total;
    for backend in &route.backends {
        let weight = u64::from(backend.weight);
        if n < weight {
            return Some(&backend.upstream);
        }
        n -= weight;
    }
    None
}

/// `scheme://target` plus the request's path and query (after any rewrite).
fn upstream_uri(scheme: &str, target: &str, original: &Uri) -> Result<Uri, ProxyError> {
    let path = original.path_and_query().map_or("/", |pq| pq.as_str());
    Uri::builder()
        .scheme(scheme)
        .authority(target)
        .path_and_query(path)
        .build()
        .map_err(|e| ProxyError::InvalidRequest {
            reason: format!("cannot forward path: {e}"),
        })
}

/// Turns the upstream's response into the client's: hop-by-hop headers out, the body wrapped
/// with the read timeout, and an upgrade tunnel spawned for `101 Switching Protocols`.
fn finish_response(
    mut response: Response<Incoming>,
    client_upgrade: Option<OnUpgrade>,
    endpoint: SocketAddr,
    limits: Limits,
) -> Result<Response<Body>, ProxyError> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ProxyError::UpstreamProtocol {
                endpoint,
                source: "101 Switching Protocols without an upgrade request".into(),
            });
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade, endpoint));
    }
    let (mut head, body) = response.into_parts();
    strip_hop_by_hop(&mut head.headers, switching);
    head.version = Version::HTTP_11;
    let body = Body::wrap(UpstreamResponseBody::new(body, limits.read, endpoint));
    Ok(Response::from_parts(head, body))
}

/// Copies bytes both ways between an upgraded client and upstream connection until both close.
async fn tunnel(client: OnUpgrade, upstream: OnUpgrade, endpoint: SocketAddr) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%error, %endpoint, "upgraded connection ended");
            }
        }
        Err(error) => tracing::debug!(%error, %endpoint, "upgrade failed"),
    }
}

/// Whether an HTTP/1.1 request asks for a protocol upgrade (`Connection: upgrade` + `Upgrade`).
pub(crate) fn wants_upgrade<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_11
        && request.headers().contains_key(UPGRADE)
        && connection_tokens(request.headers()).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// Makes the client's request head fit for the upstream: `Host` present (from `:authority` for
/// h2 clients), `Expect`, the body framing and hop-by-hop headers removed (hyper frames the
/// body it sends itself).
fn prepare_request_head(parts: &mut http::request::Parts, upgrade: bool) {
    if !parts.headers.contains_key(HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(HOST, host);
    }
    // 100-continue was handled with the client; the upstream gets the body straight away.
    parts.headers.remove(EXPECT);
    strip_hop_by_hop(&mut parts.headers, upgrade);
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers: `Connection` and the headers it names, `Keep-Alive`,
/// `Proxy-Connection`, `Transfer-Encoding`, `Trailer`, `TE` (unless exactly `trailers`, which
/// gRPC needs) and `Upgrade`. With `upgrade`, `Upgrade` stays and `Connection: upgrade` is set.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.to_ascii_lowercase().as_bytes()).ok())
        .collect();
    for name in named {
        if name == TE || (upgrade && name == UPGRADE) {
            continue;
        }
        headers.remove(&name);
    }
    headers.remove(CONNECTION);
    headers.remove(KEEP_ALIVE);
    headers.remove(PROXY_CONNECTION);
    headers.remove(TRANSFER_ENCODING);
    headers.remove(TRAILER);
    let te_trailers_only = {
        let mut values = headers.get_all(TE).iter();
        matches!((values.next(), values.next()), (Some(v), None)
            if v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case("trailers")))
    };
    if !te_trailers_only {
        headers.remove(TE);
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::{PortRef, WeightedUpstream};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = headers(&[
            ("connection", "X-Custom"),
            ("keep-alive", "timeout=5"),
            ("x-custom", "1"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("te", "gzip"),
            ("trailer", "x-t"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn keeps_te_trailers_and_upgrade_when_upgrading() {
        let mut h = headers(&[("te", "trailers"), ("connection", "TE")]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h["te"], "trailers");
        let mut h = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
    }

    #[test]
    fn weighted_choice_follows_weights() {
        let upstream = |name: &str| UpstreamId::new("ns", name, PortRef::Number(80));
        let backend = |name: &str, weight| WeightedUpstream {
            upstream: upstream(name),
            weight,
        };
        let mut route = Forward::to(upstream("a"));
        route.backends = vec![backend("a", 3), backend("b", 1), backend("c", 0)];
        let cursor = AtomicUsize::new(0);
        let picks: Vec<String> = (0..8)
            .map(|_| choose_backend(&route, &cursor).unwrap().service.clone())
            .collect();
        assert_eq!(picks, ["a", "a", "a", "b", "a", "a", "a", "b"]);
        let mut none = Forward::to(upstream("a"));
        none.backends[0].weight = 0;
        assert!(choose_backend(&none, &cursor).is_none());
    }

    #[test]
    fn upstream_uri_keeps_path_and_query() {
        let original: Uri = "/a/b?x=1".parse().unwrap();
        let uri = upstream_uri("http", "10.0.0.1:8080", &original).unwrap();
        assert_eq!(uri.to_string(), "http://10.0.0.1:8080/a/b?x=1");
        let grpc = upstream_uri("http", "grpc.example.com", &original).unwrap();
        assert_eq!(grpc.to_string(), "http://grpc.example.com/a/b?x=1");
    }

    #[test]
    fn retries_follow_method_body_and_conditions() {
        let mut policy = Policy::default();
        policy.retry.on.statuses.insert(502);
        let get = Attempts::new(
            &policy,
            &Method::GET,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert_eq!(get.tries, 3);
        assert!(get.retry_on_status(502));
        assert!(!get.retry_on_status(500));
        let post = Attempts::new(
            &policy,
            &Method::POST,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert!(!post.retry_on_status(502));
        let refused = ProxyError::Connect {
            endpoint: ([127, 0, 0, 1], 1).into(),
            source: "refused".into(),
        };
        assert!(post.retry_on_error(&refused));
        let broken = ProxyError::UpstreamProtocol {
            endpoint: ([127, 0, 0, 1], 1).into(),
            source: "reset".into(),
        };
        assert!(!post.retry_on_error(&broken));
        assert!(get.retry_on_error(&broken));
        policy.retry.on.non_idempotent = true;
        let post = Attempts::new(
            &policy,
            &Method::POST,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert!(post.retry_on_status(502));
        policy.retry.on = sluice_ingress_model::policy::NextUpstream::off();
        assert_eq!(
            Attempts::new(
                &policy,
                &Method::GET,
                2,
                &Prepared::Replayable(Bytes::new())
            )
            .tries,
            1
        );
    }
}
