//! In-process echo backends (HTTP/1.1 and h2c) and generated bodies.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::TestBody;

/// Lets a test hold requests to `/hold` inside the backend until it releases them.
#[derive(Clone)]
pub struct Hold {
    arrived: Arc<Semaphore>,
    release: Arc<Semaphore>,
}

impl Default for Hold {
    fn default() -> Self {
        Self {
            arrived: Arc::new(Semaphore::new(0)),
            release: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Hold {
    /// Waits until a request is being held.
    pub async fn arrived(&self) {
        self.arrived.acquire().await.unwrap().forget();
    }

    /// Lets one held request answer.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
}

/// An in-process echo backend (HTTP/1.1 and h2c).
pub struct Backend {
    /// Its name, echoed in every answer.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests it received.
    pub hits: Arc<AtomicUsize>,
    /// Holds `/hold` requests.
    pub hold: Hold,
}

impl Backend {
    /// How many requests it received.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts an echo backend on 127.0.0.1. It answers JSON describing the request (backend,
/// method, path, version, headers, body_len) after reading the whole body, with these extras:
/// `?sleep_ms=N` waits first; `/hold` waits for [`Hold::release`]; `/download?bytes=N` streams
/// N bytes; an `Upgrade` request gets 101 and an echo tunnel; `content-type: application/grpc`
/// gets the JSON as data plus trailers `grpc-status: 0`; `x-respond-server` sets `Server`.
pub async fn backend(name: &str) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let backend = Backend {
        name: name.to_owned(),
        addr,
        hits: Arc::default(),
        hold: Hold::default(),
    };
    let (name, hits, hold) = (
        backend.name.clone(),
        backend.hits.clone(),
        backend.hold.clone(),
    );
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (name, hits, hold, builder) =
                (name.clone(), hits.clone(), hold.clone(), builder.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    echo(name.clone(), hits.clone(), hold.clone(), req)
                });
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    backend
}

/// An address on which nothing listens (connections are refused).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn query_value<'a>(req: &'a Request<Incoming>, key: &str) -> Option<&'a str> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

async fn echo(
    name: String,
    hits: Arc<AtomicUsize>,
    hold: Hold,
    mut req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key(http::header::UPGRADE) {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .body(Full::new(Bytes::new()).boxed())
            .unwrap();
        return Ok(response);
    }
    if let Some(ms) = query_value(&req, "sleep_ms").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if req.uri().path() == "/hold" {
        hold.arrived.add_permits(1);
        hold.release.acquire().await.unwrap().forget();
    }
    if req.uri().path() == "/download" {
        let total: usize = query_value(&req, "bytes").unwrap().parse().unwrap();
        return Ok(Response::new(Generated::new(total).boxed()));
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in req.headers() {
        headers
            .entry(k.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let grpc = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let respond_server = req.headers().contains_key("x-respond-server");
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let version = format!("{:?}", req.version());
    let mut body = req.into_body();
    let mut body_len = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            body_len += data.len() as u64;
        }
    }
    let answer = json!({
        "backend": name,
        "method": method,
        "path": path,
        "version": version,
        "headers": headers,
        "body_len": body_len,
    });
    let bytes = Bytes::from(serde_json::to_vec(&answer).unwrap());
    let content_type = if grpc {
        "application/grpc"
    } else {
        "application/json"
    };
    let mut response = Response::builder().header("content-type", content_type);
    if respond_server {
        response = response.header("server", "echo-backend");
    }
    if grpc {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("grpc-message", "ok".parse().unwrap());
        let body = WithTrailers {
            data: Some(bytes),
            trailers: Some(trailers),
        };
        let response = response.body(body.boxed()).unwrap();
        return Ok(response);
    }
    Ok(response.body(Full::new(bytes).boxed()).unwrap())
}

/// A body of one data frame followed by trailers, as gRPC answers.
struct WithTrailers {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// A body of `total` bytes made on the fly, 64 KiB at a time, never held whole.
pub struct Generated {
    remaining: usize,
}

impl Generated {
    /// A body of `total` bytes.
    pub fn new(total: usize) -> Self {
        Self { remaining: total }
    }
}

impl http_body::Body for Generated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK.len());
        self.remaining -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining as u64)
    }
}
