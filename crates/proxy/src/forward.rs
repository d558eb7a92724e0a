//! Forwarding one request: backend choice (canary or weighted, then the `default-backend`
//! annotation when the chosen upstream has no endpoints) and endpoint choice by the upstream's
//! balancer (`balance`), the request body (`request_body`), header rewriting
//! (hop-by-hop headers out, filters' `upstream_request` hooks), the transport of the route's
//! `backend-protocol`, ingress-nginx's timeouts, `proxy-next-upstream` retries, the
//! `proxy-buffer-size` limit on response heads, `limit-rate` on the response body, and upgrade
//! tunnels.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sluice_ingress_model::policy::HttpVersion;
use sluice_ingress_model::{BackendProtocol, Forward, Policy, UpstreamId};
use tokio::time::Instant;

use crate::attempt::{Attempt, Attempts, Limits, Sent, check_head};
use crate::body::{Body, Progress, UpstreamResponseBody};
use crate::client::{Transport, UpstreamClients};
use crate::error::ProxyError;
use crate::filter::{Filter, RequestContext};
use crate::generation::Generation;
use crate::h1_pool::Checkin;
use crate::hop::prepare_request_head;
pub(crate) use crate::hop::{strip_hop_by_hop, wants_upgrade};
use crate::request_body::{self, Prepared};
use crate::upstream::{Endpoint, Upstream};
use crate::variables::Vars;

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

    let protocol = policy.upstream_request.protocol;
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
    let mut selection = crate::balance::Selection::new(&upstream, Vars::new(ctx, &parts));

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
    // HTTP/2 upstreams get the authority as `:authority`; HTTP/1.1 ones the `Host` header.
    let mut authority = String::new();
    if version == Version::HTTP_2 {
        authority = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| ctx.host.clone());
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
    ctx.upstream_timing.start = Some(std::time::Instant::now());
    loop {
        // Endpoints that refused a connection lately are passed over while others remain
        // (nginx's passive health check); when none remain they are tried anyway.
        let now_ms = crate::upstream::clock_ms();
        let passed_over = endpoints.iter().any(|e| e.is_ejected(now_ms));
        let avoid: Vec<SocketAddr> = if passed_over {
            endpoints
                .iter()
                .filter(|e| e.is_ejected(now_ms))
                .map(|e| e.addr)
                .chain(tried.iter().copied())
                .collect()
        } else {
            Vec::new()
        };
        let endpoint = passed_over
            .then(|| selection.next(&endpoints, &avoid))
            .flatten()
            .or_else(|| selection.next(&endpoints, &tried))
            .or_else(|| selection.next(&endpoints, &[]))
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
        *request.uri_mut() = match &transport {
            Transport::Http1(_) => {
                set_default_host(&mut request, endpoint.addr, tls);
                origin_form(&original_uri)
            }
            Transport::H2 { .. } => upstream_uri(scheme, &authority, &original_uri)?,
        };
        let sent = crate::balance::measured(&endpoint, attempt.send(request, h2_sender)).await;
        let outcome = sent.and_then(|sent| {
            check_head(&sent.response, endpoint.addr, header_limit, &transport).map(|()| sent)
        });
        match outcome {
            Ok(Sent { response, checkin }) => {
                let status = response.status().as_u16();
                if !last && plan.retry_on_status(status) {
                    tracing::debug!(status, upstream = %upstream.id, "trying the next endpoint");
                    if let Some(checkin) = checkin
                        && http_body::Body::is_end_stream(response.body())
                    {
                        checkin.complete();
                    }
                    continue;
                }
                ctx.from_upstream = true;
                ctx.upstream_timing.connected = progress.connected_at();
                ctx.upstream_timing.header = Some(std::time::Instant::now());
                ctx.upstream_status = Some(response.status());
                let mut response =
                    finish_response(response, checkin, upgrade, endpoint.addr, limits)?;
                selection.pin(&mut response);
                let bandwidth = &policy.rate_limit;
                return Ok(response.map(|body| {
                    crate::limits::Throttled::wrap(
                        body,
                        bandwidth.rate_bytes_per_sec,
                        bandwidth.rate_after_bytes,
                    )
                }));
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
        endpoint.connect_failed();
    }
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

/// The request target for an HTTP/1.1 upstream: the path and query (origin form).
fn origin_form(original: &Uri) -> Uri {
    match original.path_and_query() {
        Some(pq) if pq.as_str() != "/" => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    }
}

/// A request without `Host` (HTTP/1.0) names the endpoint, as the upstream URI would.
fn set_default_host(request: &mut Request<Body>, endpoint: SocketAddr, tls: bool) {
    if request.headers().contains_key(HOST) {
        return;
    }
    let default_port = if tls { 443 } else { 80 };
    let host = match endpoint {
        SocketAddr::V4(v4) if v4.port() == default_port => v4.ip().to_string(),
        SocketAddr::V6(v6) if v6.port() == default_port => format!("[{}]", v6.ip()),
        other => other.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&host) {
        request.headers_mut().insert(HOST, value);
    }
}

/// Turns the upstream's response into the client's: hop-by-hop headers out, the body wrapped
/// with the read timeout (and returning its connection to the pool at its end), and an upgrade
/// tunnel spawned for `101 Switching Protocols`.
fn finish_response(
    mut response: Response<Incoming>,
    checkin: Option<Checkin>,
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
    // An upgraded connection belongs to the tunnel, never to the pool.
    let checkin = checkin.filter(|_| !switching);
    let body = Body::wrap(UpstreamResponseBody::new(
        body,
        limits.read,
        endpoint,
        checkin,
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::{PortRef, WeightedUpstream};

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
}
