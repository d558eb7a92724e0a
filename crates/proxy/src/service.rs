//! The per-request pipeline: load the generation once, look the route up, run the request
//! filters, authenticate (the asynchronous end of nginx's access phase), start a mirror copy,
//! carry out the route's action (forward, redirect, fixed response, or the built-in 404), run
//! the response filters, and fire the logging hooks when the body is done.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use sluice_ingress_model::{Action, RequestAttributes, Route, normalize_host};

use crate::body::Body;
use crate::connection::{ConnInfo, InFlight};
use crate::error::{BoxError, ProxyError};
use crate::filter::{Connection, Failure, Filter, Flow, RequestContext};
use crate::forward::{self, ForwardContext};
use crate::generation::Generation;
use crate::handle::Shared;

/// Everything a request needs that outlives one generation.
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    filters: Arc<[Arc<dyn Filter>]>,
    https_port: u16,
    auth: crate::auth::Authenticator,
}

impl Pipeline {
    /// A pipeline over the shared state with these filters (built-ins first); `https_port` is
    /// the HTTPS listener's port.
    pub fn new(shared: Arc<Shared>, filters: Vec<Arc<dyn Filter>>, https_port: u16) -> Self {
        Self {
            shared,
            filters: filters.into(),
            https_port,
            auth: crate::auth::Authenticator::new(),
        }
    }

    /// The live generation.
    pub fn generation(&self) -> Arc<Generation> {
        self.shared.generation.load_full()
    }

    /// Serves one request arriving on `connection` (which told it `info`); `in_flight` is
    /// released when the response body is done or dropped. Never fails: errors become
    /// responses.
    pub async fn handle(
        self: Arc<Self>,
        connection: Connection,
        info: ConnInfo,
        in_flight: InFlight,
        mut request: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let generation = self.shared.generation.load_full();
        let client_upgrade =
            forward::wants_upgrade(&request).then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        // Boxed: the context (about a kilobyte) moves into the response body's logging hook at
        // the end, and out again when the body ends.
        let mut ctx = Box::new(RequestContext::unresolved(
            connection,
            parts.method.clone(),
            parts.version,
        ));
        ctx.generation = Some(generation.clone());
        ctx.https_port = self.https_port;
        ctx.tls = info.tls;
        ctx.texts = info.texts;
        ctx.request_uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        let mut early = crate::intake::prepare(&mut ctx, &mut parts, info.proxy.as_ref());
        ctx.host = normalize_host(request_authority(&parts)).into_owned();
        let host = generation.router.find_host(&ctx.host);
        ctx.vhost = host.payload().cloned();
        ctx.route = host.route(&ctx.path, &RequestView(&parts));
        if ctx
            .route
            .as_ref()
            .is_some_and(|r| !r.policy.errors.codes.is_empty())
        {
            ctx.error_headers = Some(parts.headers.clone());
        }

        if early.is_none() {
            for filter in self.filters.iter() {
                if let Flow::Respond(response) = filter.request(&mut ctx, &mut parts) {
                    early = Some(response);
                    break;
                }
            }
        }
        // Authentication is asynchronous, so it runs as its own step after the request
        // filters: after the limits and the IP lists, as in nginx's access phase.
        if early.is_none() {
            early = self.auth.check(&mut ctx, &mut parts).await;
        }
        let outcome = match early {
            Some(response) => Ok(response),
            None => {
                let body = self.shared.mirror.tap(&ctx, &parts, Body::wrap(body));
                let fx = ForwardContext {
                    generation: &generation,
                    filters: &self.filters,
                    backend_cursor: &self.shared.backend_cursor,
                };
                // A second handle on the route: `act` borrows the context mutably.
                let route = ctx.route.clone();
                act(fx, route.as_deref(), &mut ctx, parts, body, client_upgrade).await
            }
        };
        let response = match outcome {
            Ok(response) => response,
            Err(error) => error_response(&mut ctx, &error),
        };
        // Most routes have no custom error pages: no step through the replacing future.
        let response = if crate::custom_errors::intercepts(&ctx, response.status()) {
            crate::custom_errors::apply(&generation, &mut ctx, response).await
        } else {
            response
        };
        Ok(self.finish(ctx, response, in_flight))
    }

    /// Runs the response filters and wraps the body so the logging hooks fire at its end.
    fn finish(
        &self,
        mut ctx: Box<RequestContext>,
        response: Response<Body>,
        in_flight: InFlight,
    ) -> Response<Body> {
        let (mut head, body) = response.into_parts();
        for filter in self.filters.iter() {
            filter.response(&mut ctx, &mut head);
        }
        ctx.status = Some(head.status);
        let body = LoggedBody {
            inner: body,
            log: Some(PendingLog {
                ctx,
                filters: self.filters.clone(),
            }),
            _in_flight: in_flight,
        };
        Response::from_parts(head, Body::wrap(body))
    }
}

/// Carries out the route's action: forward, redirect, fixed response, or the built-in 404.
async fn act(
    fx: ForwardContext<'_>,
    route: Option<&Route>,
    ctx: &mut RequestContext,
    parts: http::request::Parts,
    body: Body,
    client_upgrade: Option<OnUpgrade>,
) -> Result<Response<Body>, ProxyError> {
    let Some(route) = route else {
        return Err(ProxyError::NoRoute {
            host: ctx.host.clone(),
            path: ctx.path.clone(),
        });
    };
    match &route.action {
        Action::Forward(target) => {
            forward::forward(fx, ctx, parts, body, client_upgrade, target, &route.policy).await
        }
        // Normally answered by the redirect filter; this serves embedders that replace it.
        Action::Redirect(redirect) => redirect_response(redirect.status, &redirect.location),
        Action::Respond(fixed) => Ok(text_response(
            status_or_500(fixed.status),
            fixed.body.clone(),
        )),
        _ => Err(ProxyError::InvalidRequest {
            reason: "route action not supported".to_owned(),
        }),
    }
}

/// The `:authority` (h2, absolute-form) or else the `Host` header.
fn request_authority(parts: &http::request::Parts) -> &str {
    parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or_default()
}

fn status_or_500(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn redirect_response(code: u16, location: &str) -> Result<Response<Body>, ProxyError> {
    let location = HeaderValue::from_str(location).map_err(|_| ProxyError::InvalidRequest {
        reason: "redirect location is not a valid header value".to_owned(),
    })?;
    let status = status_or_500(code);
    let mut response = text_response(status, format!("{status}\n"));
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// The response for an error: its status and a one-line text body; the context records the
/// failure with the full message for the logs.
fn error_response(ctx: &mut RequestContext, error: &ProxyError) -> Response<Body> {
    let (status, source) = error.classify();
    let message = error_chain(error);
    if source == crate::error::ErrorSource::Client {
        tracing::debug!(error = %message, host = %ctx.host, path = %ctx.path, "request failed");
    } else {
        tracing::warn!(error = %message, host = %ctx.host, path = %ctx.path, "request failed");
    }
    ctx.failure = Some(Failure { source, message });
    let reason = status.canonical_reason().unwrap_or("Error");
    text_response(
        status,
        format!("{} {reason}: {}\n", status.as_u16(), error.public_message()),
    )
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The request as route conditions see it.
struct RequestView<'a>(&'a http::request::Parts);

impl RequestAttributes for RequestView<'_> {
    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.0.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.0
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.0
            .uri
            .query()?
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

struct PendingLog {
    ctx: Box<RequestContext>,
    filters: Arc<[Arc<dyn Filter>]>,
}

/// The response body as sent to the client: counts bytes and runs the logging hooks once, at
/// the end of the body or when it is dropped unfinished; then the request stops counting as
/// in flight on its connection.
struct LoggedBody {
    inner: Body,
    log: Option<PendingLog>,
    _in_flight: InFlight,
}

impl LoggedBody {
    fn log(&mut self, completed: bool, failure: Option<&BoxError>) {
        let Some(mut pending) = self.log.take() else {
            return;
        };
        pending.ctx.completed = completed;
        if let Some(error) = failure {
            let source = match error.downcast_ref::<ProxyError>() {
                Some(proxy_error) => proxy_error.classify().1,
                None => crate::error::ErrorSource::Upstream,
            };
            pending.ctx.failure = Some(Failure {
                source,
                message: error_chain(error.as_ref()),
            });
        }
        for filter in pending.filters.iter() {
            filter.logging(&pending.ctx);
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(pending)) = (frame.data_ref(), &this.log) {
                    pending
                        .ctx
                        .traffic()
                        .sent
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                if this.inner.is_end_stream() {
                    this.log(true, None);
                }
            }
            Poll::Ready(Some(Err(error))) => this.log(false, Some(error)),
            Poll::Ready(None) => this.log(true, None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        let completed = http_body::Body::is_end_stream(&self.inner);
        self.log(completed, None);
    }
}
