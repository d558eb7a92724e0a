//! Forwarding one request: backend and endpoint choice, header rewriting (hop-by-hop headers
//! out, filters' `upstream_request` hooks), streaming both bodies, ingress-nginx's timeouts and
//! the one safe retry (a connect failure of a request without a body), and upgrade tunnels.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::header::{CONNECTION, EXPECT, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{HttpConnector, capture_connection};
use hyper_util::rt::TokioIo;
use sluice_ingress_model::{Forward, Policy, Timeouts, UpstreamId};
use tokio::time::Instant;

use crate::body::{Body, Progress, UpstreamRequestBody, UpstreamResponseBody};
use crate::client::UpstreamClients;
use crate::error::ProxyError;
use crate::expand::Vars;
use crate::filter::{Filter, RequestContext};
use crate::generation::Generation;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// What forwarding needs besides the request.
pub(crate) struct ForwardContext<'a> {
    /// The live generation.
    pub generation: &'a Generation,
    /// The upstream clients.
    pub clients: &'a UpstreamClients,
    /// The filters, for their `upstream_request` hooks.
    pub filters: &'a [Arc<dyn Filter>],
    /// The counter for the weighted backend choice.
    pub backend_cursor: &'a AtomicUsize,
}

/// The route's timeouts as durations.
#[derive(Clone, Copy, Debug)]
struct Limits {
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
    body: Body,
    client_upgrade: Option<OnUpgrade>,
    route: &Forward,
    policy: &Policy,
) -> Result<Response<Body>, ProxyError> {
    let limits = Limits::from(&policy.timeouts);
    let id =
        crate::balance::choose_upstream(fx.generation, route, &parts.headers, fx.backend_cursor)
            .ok_or_else(|| ProxyError::NoEndpoints {
                upstream: route
                    .backends
                    .first()
                    .map_or_else(|| "(none)".to_owned(), |b| b.upstream.to_string()),
            })?;
    ctx.upstream = Some(id.clone());
    let no_endpoints = || ProxyError::NoEndpoints {
        upstream: id.to_string(),
    };
    let upstream = fx.generation.upstreams.get(id).ok_or_else(no_endpoints)?;
    let endpoints = upstream.endpoints();
    if endpoints.is_empty() {
        return Err(no_endpoints());
    }
    let (client, version) = fx
        .clients
        .for_protocol(&upstream.id, upstream.policy.protocol)?;

    let mut selection = crate::balance::Selection::new(upstream, Vars::new(ctx, &parts));
    let upgrade = client_upgrade.filter(|_| version == Version::HTTP_11);
    prepare_request_head(&mut parts, upgrade.is_some());
    for filter in fx.filters {
        filter.upstream_request(ctx, &mut parts);
    }
    parts.version = version;
    parts.extensions = http::Extensions::new();

    let retryable = http_body::Body::is_end_stream(&body);
    let progress = Arc::new(Progress::new(retryable));
    let mut streamed = (!retryable).then(|| {
        Body::wrap(UpstreamRequestBody::new(
            body,
            limits.send,
            progress.clone(),
            ctx.traffic().clone(),
        ))
    });
    // `proxy-next-upstream-tries` (0 = as many as there are endpoints); only requests
    // without a body are retried, so nothing was sent when an attempt fails to connect.
    let tries = usize::try_from(policy.retry.tries).unwrap_or(usize::MAX);
    let max_attempts = match (retryable, tries) {
        (false, _) => 1,
        (true, 0) => endpoints.len(),
        (true, tries) => tries.min(endpoints.len()),
    };
    let mut tried: Vec<SocketAddr> = Vec::with_capacity(max_attempts);
    let original_uri = parts.uri.clone();
    let mut head = Some(parts);
    let (response, endpoint) = loop {
        let endpoint = selection
            .next(&endpoints, &tried)
            .ok_or_else(no_endpoints)?;
        tried.push(endpoint.addr);
        ctx.attempts += 1;
        ctx.endpoint = Some(endpoint.addr);
        endpoint.requests.fetch_add(1, Ordering::Relaxed);
        // The last possible attempt takes the head; earlier ones (retryable) send a copy.
        let attempt_head = if tried.len() >= max_attempts {
            head.take()
        } else {
            head.clone()
        };
        let attempt_head = attempt_head.ok_or_else(no_endpoints)?;
        let request_body = streamed.take().unwrap_or_else(Body::empty);
        let mut request = Request::from_parts(attempt_head, request_body);
        *request.uri_mut() = upstream_uri(endpoint.addr, &original_uri)?;
        let attempt = send(client, request, endpoint.addr, limits, &progress);
        match crate::balance::measured(&endpoint, attempt).await {
            Ok(response) => break (response, endpoint.addr),
            Err(error) if error.is_connect_failure() => {
                let retry_on = &policy.retry.on;
                let allowed = match error {
                    ProxyError::ConnectTimeout { .. } => retry_on.timeout,
                    _ => retry_on.error,
                };
                endpoint.failures.fetch_add(1, Ordering::Relaxed);
                if !allowed || tried.len() >= max_attempts {
                    return Err(error);
                }
                tracing::debug!(%error, upstream = %id, "trying the next endpoint");
            }
            Err(error) => return Err(error),
        }
    };
    let mut response = finish_response(response, upgrade, endpoint, limits)?;
    selection.pin(&mut response);
    let bandwidth = &policy.rate_limit;
    Ok(response.map(|body| {
        crate::limits::Throttled::wrap(
            body,
            bandwidth.rate_bytes_per_sec,
            bandwidth.rate_after_bytes,
        )
    }))
}

/// Picks a backend by weight (a counter walked over the cumulative weights), `None` when every
/// weight is zero.
pub(crate) fn choose_backend<'a>(
    route: &'a Forward,
    cursor: &AtomicUsize,
) -> Option<&'a UpstreamId> {
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

/// `http://endpoint` plus the request's original path and query.
fn upstream_uri(endpoint: SocketAddr, original: &Uri) -> Result<Uri, ProxyError> {
    let path = original.path_and_query().map_or("/", |pq| pq.as_str());
    Uri::builder()
        .scheme("http")
        .authority(endpoint.to_string())
        .path_and_query(path)
        .build()
        .map_err(|e| ProxyError::InvalidRequest {
            reason: format!("cannot forward path: {e}"),
        })
}

/// Sends one attempt: the route's connect timeout until a connection is ready, then the send
/// (while the body is still going out) or read timeout, measured from the last progress, until
/// the response head arrives.
async fn send(
    client: &Client<HttpConnector, Body>,
    mut request: Request<Body>,
    endpoint: SocketAddr,
    limits: Limits,
    progress: &Progress,
) -> Result<Response<Incoming>, ProxyError> {
    let mut capture = capture_connection(&mut request);
    let response = client.request(request);
    tokio::pin!(response);
    let connect_deadline = Instant::now() + limits.connect;
    let connect_timeout = ProxyError::ConnectTimeout {
        endpoint,
        after: limits.connect,
    };
    let connected = tokio::select! {
        biased;
        result = &mut response => return result.map_err(|e| upstream_error(e, endpoint, progress)),
        meta = capture.wait_for_connection_metadata() => meta.is_some(),
        () = tokio::time::sleep_until(connect_deadline) => return Err(connect_timeout),
    };
    if !connected {
        // The request was dropped before a connection was found; its error is on the way.
        return match tokio::time::timeout_at(connect_deadline, &mut response).await {
            Ok(result) => result.map_err(|e| upstream_error(e, endpoint, progress)),
            Err(_) => Err(connect_timeout),
        };
    }
    progress.touch();
    loop {
        let limit = if progress.request_done() {
            limits.read
        } else {
            limits.send
        };
        let deadline = Instant::from_std(progress.last_activity()) + limit;
        tokio::select! {
            biased;
            result = &mut response => {
                return result.map_err(|e| upstream_error(e, endpoint, progress));
            }
            () = tokio::time::sleep_until(deadline) => {
                let limit = if progress.request_done() { limits.read } else { limits.send };
                if Instant::from_std(progress.last_activity()) + limit <= Instant::now() {
                    return Err(ProxyError::UpstreamTimeout { endpoint, after: limit });
                }
            }
        }
    }
}

fn upstream_error(
    error: hyper_util::client::legacy::Error,
    endpoint: SocketAddr,
    progress: &Progress,
) -> ProxyError {
    if error.is_connect() {
        ProxyError::Connect {
            endpoint,
            source: error.into(),
        }
    } else if let Some(reason) = progress.client_failure() {
        ProxyError::ClientBody {
            reason: reason.to_owned(),
        }
    } else {
        ProxyError::UpstreamProtocol {
            endpoint,
            source: error.into(),
        }
    }
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
/// h2 clients), `Expect` and hop-by-hop headers removed.
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
        let uri = upstream_uri(([10, 0, 0, 1], 8080).into(), &original).unwrap();
        assert_eq!(uri.to_string(), "http://10.0.0.1:8080/a/b?x=1");
    }
}
