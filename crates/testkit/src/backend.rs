//! In-process echo backends: HTTP/1.1 and h2c on one port (hyper-util's auto builder), answering
//! JSON that describes the request, with switches to sleep, hold, stream and upgrade.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::TestBody;
use crate::body::{Generated, WithTrailers};

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

/// An in-process echo backend (HTTP/1.1 and h2c on one port).
pub struct Backend {
    /// Its name, echoed in every answer as `backend`.
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

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Starts an echo backend on 127.0.0.1 (see [`backend_on`]).
pub async fn backend(name: &str) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(name, listener)
}

/// Starts an echo backend on `addr` (port 0 picks one). It answers JSON describing the request:
/// `backend`, `method`, `path` (with the query), `query`, `host` (the Host header, else the
/// URI authority), `authority` (the URI's, as h2 sends it), `version`, `headers` (name →
/// values) and `body_len`, after reading the whole body without keeping it. Extras:
/// - `?sleep_ms=N` waits first; `/hold` waits for [`Hold::release`];
/// - `?status=N` answers with that status; `?header_bytes=N` adds an `x-big` response header
///   of N bytes; `x-respond-location` and `x-respond-set-cookie` request headers are answered
///   as `Location` and `Set-Cookie`;
/// - `/download?bytes=N` streams N bytes (64 KiB frames, made on the fly);
/// - `/ws...` with `Upgrade: websocket` completes a real WebSocket handshake and echoes every
///   message; any other `Upgrade` gets 101 and a raw byte echo tunnel;
/// - `content-type: application/grpc` gets the JSON as data plus trailers `grpc-status: 0`;
/// - `x-respond-server` sets the `Server` response header.
pub async fn backend_on(name: &str, addr: SocketAddr) -> std::io::Result<Backend> {
    let listener = TcpListener::bind(addr).await?;
    Ok(serve(name, listener))
}

fn serve(name: &str, listener: TcpListener) -> Backend {
    let addr = listener.local_addr().unwrap();
    let (hits, hold) = (Arc::new(AtomicUsize::new(0)), Hold::default());
    let (task_name, task_hits, task_hold) = (name.to_owned(), hits.clone(), hold.clone());
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (name, hits, hold, builder) = (
                task_name.clone(),
                task_hits.clone(),
                task_hold.clone(),
                builder.clone(),
            );
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
    Backend {
        name: name.to_owned(),
        addr,
        hits,
        hold,
    }
}

/// An address on which nothing listens (connections are refused).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The value of `key` in the request's query string.
fn query_value<'a>(req: &'a Request<Incoming>, key: &str) -> Option<&'a str> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// The echo service of [`backend_on`], for backends with other transports (TLS, say).
pub async fn echo(
    name: String,
    hits: Arc<AtomicUsize>,
    hold: Hold,
    mut req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key(http::header::UPGRADE) {
        return Ok(upgrade(&mut req));
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
    let status = query_value(&req, "status")
        .and_then(|v| v.parse::<u16>().ok())
        .and_then(|v| StatusCode::from_u16(v).ok())
        .unwrap_or(StatusCode::OK);
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
    let respond_location = req.headers().get("x-respond-location").cloned();
    let respond_cookie = req.headers().get("x-respond-set-cookie").cloned();
    let big: Option<usize> = query_value(&req, "header_bytes").and_then(|v| v.parse().ok());
    let authority = req.uri().authority().map(ToString::to_string);
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let query = req.uri().query().unwrap_or_default().to_owned();
    let host = req
        .headers()
        .get(http::header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .or_else(|| req.uri().authority().map(ToString::to_string))
        .unwrap_or_default();
    let version = format!("{:?}", req.version());
    let mut body = req.into_body();
    let mut body_len = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            body_len += data.len() as u64;
        }
    }
    let answer = json!({
        "backend": name,
        "method": method,
        "path": path,
        "query": query,
        "host": host,
        "authority": authority,
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
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(n) = big {
        response = response.header("x-big", "b".repeat(n));
    }
    if let Some(location) = respond_location {
        response = response.header("location", location);
    }
    if let Some(cookie) = respond_cookie {
        response = response.header("set-cookie", cookie);
    }
    if respond_server {
        response = response.header("server", "echo-backend");
    }
    if grpc {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("grpc-message", "ok".parse().unwrap());
        let body = WithTrailers::new(bytes, trailers);
        return Ok(response.body(body.boxed()).unwrap());
    }
    Ok(response.body(Full::new(bytes).boxed()).unwrap())
}

/// Answers an upgrade request: a WebSocket echo for `/ws…` WebSocket handshakes, else 101 and
/// a raw echo tunnel.
fn upgrade(req: &mut Request<Incoming>) -> Response<TestBody> {
    let websocket_key = req
        .headers()
        .get("sec-websocket-key")
        .filter(|_| req.uri().path().starts_with("/ws"))
        .map(|key| crate::websocket::accept_key(key.as_bytes()));
    let upgrade = hyper::upgrade::on(req);
    let websocket = websocket_key.is_some();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        if websocket {
            crate::websocket::echo(TokioIo::new(upgraded)).await;
        } else {
            let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        }
    });
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade");
    if let Some(accept) = websocket_key {
        response = response.header("sec-websocket-accept", accept);
    }
    response.body(Full::new(Bytes::new()).boxed()).unwrap()
}
