//! `custom-http-errors`: a response whose status is listed (an upstream's, unless
//! `disable-proxy-intercept-errors`, or one the proxy generated for the route) is replaced by
//! the default backend's answer to `GET /` — the `default-backend` annotation's Service, else
//! the controller's default backend, else the built-in 404 — with ingress-nginx's `X-Code`,
//! `X-Format`, `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`, `X-Service-Name`,
//! `X-Service-Port` and `X-Request-ID` headers.

use std::time::Duration;

use http::header::{ACCEPT, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use sluice_ingress_model::{Action, UpstreamId};

use crate::body::Body;
use crate::client::Transport;
use crate::filter::RequestContext;
use crate::generation::Generation;
use crate::variables::first_backend;

/// How long the default backend may take to answer an error page.
const ERROR_BACKEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Sets the headers ingress-nginx sends to a default backend serving in a route's place
/// (`X-Code` …, `X-Original-URI` only for intercepted errors).
pub(crate) fn set_error_headers(
    ctx: &RequestContext,
    headers: &mut HeaderMap,
    code: u16,
    original_uri: bool,
) {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut set = |name: &'static str, value: &str| {
        let name = HeaderName::from_static(name);
        match HeaderValue::from_str(value) {
            Ok(value) if !value.is_empty() => {
                headers.insert(name, value);
            }
            _ => {
                headers.remove(name);
            }
        }
    };
    set("x-code", &code.to_string());
    set("x-format", &accept);
    if original_uri {
        set("x-original-uri", ctx.request_uri());
    }
    let origin = ctx.origin();
    set(
        "x-namespace",
        origin.map_or("", |o| o.ingress.namespace.as_str()),
    );
    set(
        "x-ingress-name",
        origin.map_or("", |o| o.ingress.name.as_str()),
    );
    let backend = first_backend(ctx);
    set("x-service-name", backend.map_or("", |u| u.service.as_str()));
    set(
        "x-service-port",
        &backend.map_or_else(String::new, |u| u.port.to_string()),
    );
    set("x-request-id", &ctx.request_id);
}

/// Whether the route's `custom-http-errors` replace a response with this status.
pub(crate) fn intercepts(ctx: &RequestContext, status: StatusCode) -> bool {
    ctx.route.as_ref().is_some_and(|route| {
        let errors = &route.policy.errors;
        errors.codes.contains(&status.as_u16()) && (!ctx.from_upstream || errors.intercept)
    })
}

/// Replaces `response` by the error backend's when the route lists its status.
pub(crate) async fn apply(
    generation: &Generation,
    ctx: &mut RequestContext,
    response: Response<Body>,
) -> Response<Body> {
    let status = response.status();
    if !intercepts(ctx, status) {
        return response;
    }
    let status = status.as_u16();
    let Some(route) = ctx.route.as_ref() else {
        return response;
    };
    let backend = route.policy.default_backend.clone().or_else(|| {
        match generation
            .table
            .routes
            .default_route
            .as_ref()
            .map(|r| &r.action)
        {
            Some(Action::Forward(forward)) => forward.backends.first().map(|b| b.upstream.clone()),
            _ => None,
        }
    });
    // The replaced body is dropped unread; the page comes from the error backend.
    drop(response);
    match backend {
        Some(id) => fetch(generation, ctx, &id, status).await,
        None => builtin_404(),
    }
}

/// The built-in default server's answer (ingress-nginx's port 8181: always 404).
fn builtin_404() -> Response<Body> {
    let mut response = Response::new(Body::full("404 Not Found\n"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

async fn fetch(
    generation: &Generation,
    ctx: &mut RequestContext,
    id: &UpstreamId,
    code: u16,
) -> Response<Body> {
    let failed = |status: StatusCode| {
        let mut response = Response::new(Body::full(format!("{status}\n")));
        *response.status_mut() = status;
        response
    };
    let Some(upstream) = generation.upstreams.get(id) else {
        return failed(StatusCode::SERVICE_UNAVAILABLE);
    };
    let endpoints = upstream.endpoints();
    let Some(endpoint) = upstream.pick(&endpoints, &[]) else {
        return failed(StatusCode::SERVICE_UNAVAILABLE);
    };
    let mut headers = ctx.error_headers.take().unwrap_or_default();
    headers.remove(CONTENT_LENGTH);
    headers.remove(TRANSFER_ENCODING);
    crate::forward::strip_hop_by_hop(&mut headers, false);
    set_error_headers(ctx, &mut headers, code, true);
    if let Ok(ip) = HeaderValue::from_str(&ctx.client_ip().to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
    }
    headers.insert(HOST, ctx.client.best_http_host.value().clone());
    // `rewrite (.*) / break`: the path becomes `/`, the query string stays.
    let query = ctx
        .request_uri()
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    if !headers.contains_key(HOST)
        && let Ok(host) = HeaderValue::from_str(&endpoint.addr.to_string())
    {
        headers.insert(HOST, host);
    }
    let Ok(uri) = format!("/{query}").parse::<Uri>() else {
        return failed(StatusCode::BAD_GATEWAY);
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = ctx.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let Ok((Transport::Http1(pool), _)) = generation.clients.transport(
        sluice_ingress_model::BackendProtocol::Http,
        ctx.connection.scheme,
        None,
        id,
    ) else {
        return failed(StatusCode::BAD_GATEWAY);
    };
    ctx.upstream = Some(id.clone());
    ctx.endpoint = Some(endpoint.addr);
    let keepalive = generation.clients.keepalive();
    let sent = pool.send(endpoint.addr, request, keepalive);
    match tokio::time::timeout(ERROR_BACKEND_TIMEOUT, sent).await {
        Ok(Ok(response)) => {
            let (mut head, body) = response.into_parts();
            crate::forward::strip_hop_by_hop(&mut head.headers, false);
            head.version = http::Version::HTTP_11;
            Response::from_parts(head, body)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, upstream = %id, "error page backend failed");
            failed(StatusCode::BAD_GATEWAY)
        }
        Err(_) => failed(StatusCode::GATEWAY_TIMEOUT),
    }
}
