//! The admin listener: `/healthz` (the process runs), `/readyz` (a table is applied and the
//! proxy is not draining), `/debug/routes` (the live table as JSON), `/debug/config` (the live
//! ConfigMap settings and the published per-key report) and `/metrics` through a pluggable
//! exporter. Everything here is read-only.

use std::convert::Infallible;
use std::sync::Arc;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::body::Body;
use crate::handle::Handle;

/// Renders the `/metrics` page. Any `Fn() -> String` closure is one (Prometheus text format).
pub trait MetricsExporter: Send + Sync + 'static {
    /// The page body.
    fn render(&self) -> String;

    /// Its content type.
    fn content_type(&self) -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }
}

impl<F> MetricsExporter for F
where
    F: Fn() -> String + Send + Sync + 'static,
{
    fn render(&self) -> String {
        self()
    }
}

/// Serves admin requests until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    handle: Handle,
    metrics: Option<Arc<dyn MetricsExporter>>,
    mut stop: watch::Receiver<bool>,
) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let handle = handle.clone();
        let metrics = metrics.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = respond(&handle, metrics.as_deref(), &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(
    handle: &Handle,
    metrics: Option<&dyn MetricsExporter>,
    request: &Request<Incoming>,
) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if handle.is_ready() => text(StatusCode::OK, "ok\n"),
        "/readyz" if handle.is_draining() => text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no route table applied yet\n",
        ),
        "/debug/routes" => match serde_json::to_vec_pretty(&*handle.table()) {
            Ok(json) => with_type(StatusCode::OK, "application/json", json),
            Err(error) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot serialise the route table: {error}\n"),
            ),
        },
        "/debug/config" => match serde_json::to_vec_pretty(&handle.config_report()) {
            Ok(json) => with_type(StatusCode::OK, "application/json", json),
            Err(error) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot serialise the configuration: {error}\n"),
            ),
        },
        "/metrics" => match metrics {
            Some(exporter) => with_type(StatusCode::OK, exporter.content_type(), exporter.render()),
            None => text(StatusCode::NOT_FOUND, "no metrics exporter configured\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", body.to_owned())
}

fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<bytes::Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
