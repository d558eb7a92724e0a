//! Shared helpers: the gateway under test, and a killable backend (HTTP/1.1 and h2c on one
//! port) that answers `{"backend": name}`, sleeps on `?sleep_ms=N`, streams gRPC-style on
//! `/stream?frames=N&every_ms=M` (N data frames M ms apart, then `grpc-status: 0` trailers)
//! and echoes WebSocket messages on `/ws`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use sluice_testkit::manifests::*;
pub use sluice_testkit::*;

/// A `sluice gateway` of the binary under test.
pub fn gateway() -> GatewayBuilder {
    init();
    Gateway::builder(env!("CARGO_BIN_EXE_sluice"))
}

/// A backend the test can kill: its listener closes and every open connection is dropped.
pub struct Killable {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    kill: watch::Sender<bool>,
}

impl Killable {
    /// Starts one on 127.0.0.1.
    pub async fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (kill, _) = watch::channel(false);
        let hits = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut killed = kill.subscribe();
        let (task_name, task_hits, task_in_flight) =
            (name.to_owned(), hits.clone(), in_flight.clone());
        let task_kill = kill.clone();
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = killed.changed() => return,
                };
                let (name, hits, in_flight) =
                    (task_name.clone(), task_hits.clone(), task_in_flight.clone());
                let builder = builder.clone();
                let mut conn_killed = task_kill.subscribe();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        answer(name.clone(), hits.clone(), in_flight.clone(), req)
                    });
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    // Dropping the connection future closes the socket mid-request.
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_killed.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            hits,
            in_flight,
            kill,
        }
    }

    /// Requests received.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Requests being answered right now (WebSocket sessions not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Closes the listener and drops every connection (upgraded ones live on their own task).
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn query(req: &Request<Incoming>, key: &str) -> Option<u64> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k == key { v.parse().ok() } else { None }
    })
}

async fn answer(
    name: String,
    hits: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    mut req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key(http::header::UPGRADE) && req.uri().path().starts_with("/ws") {
        let key = req
            .headers()
            .get("sec-websocket-key")
            .map(|k| websocket::accept_key(k.as_bytes()))
            .unwrap_or_default();
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                websocket::echo(TokioIo::new(upgraded)).await;
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", key)
            .body(empty())
            .unwrap();
        return Ok(response);
    }
    in_flight.fetch_add(1, Ordering::SeqCst);
    let guard = InFlight(in_flight);
    if req.uri().path() == "/stream" {
        let frames = query(&req, "frames").unwrap_or(1);
        let every = Duration::from_millis(query(&req, "every_ms").unwrap_or(0));
        let stream = futures::stream::unfold(0u64, move |n| async move {
            if n > frames {
                return None;
            }
            if n == frames {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", "0".parse().unwrap());
                return Some((Ok::<_, Infallible>(Frame::trailers(trailers)), n + 1));
            }
            if n > 0 {
                tokio::time::sleep(every).await;
            }
            Some((Ok(Frame::data(Bytes::from(format!("frame {n}\n")))), n + 1))
        });
        let body = StreamBody::new(futures::StreamExt::map(stream, move |frame| {
            // The guard lives as long as the stream is being sent.
            let _ = &guard;
            frame
        }));
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .body(BodyExt::boxed(body))
            .unwrap();
        return Ok(response);
    }
    if let Some(ms) = query(&req, "sleep_ms") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let body = serde_json::json!({ "backend": name, "path": req.uri().path() }).to_string();
    drop(guard);
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap())
}
