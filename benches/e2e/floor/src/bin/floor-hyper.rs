//! The floor on hyper: the same minimal proxy as `sluice-bench-floor` (one current-thread
//! runtime, a LIFO pool of upstream connections, the same upstream request headers; no routing,
//! metrics, timeouts, logging or retries), with hyper's HTTP/1.1 server and client connections
//! in place of the hand-written codec. The difference between the two is what hyper's
//! machinery costs per request; the difference to sluice is what sluice's pipeline costs.
//!
//! Usage: `floor-hyper --http-port PORT --origin-port PORT` (127.0.0.1 only).

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use http::header::{CONNECTION, HOST};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A proxied response body, or none (502).
type Body = Either<Returning, Empty<bytes::Bytes>>;

/// Idle upstream connections, most recently used last.
type Pool = Rc<RefCell<Vec<SendRequest<Incoming>>>>;

/// Request headers not passed on (hop-by-hop); the forwarded ones are overwritten.
const HOP_BY_HOP: [HeaderName; 6] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::TE,
    http::header::UPGRADE,
    HeaderName::from_static("proxy"),
];

fn main() {
    let (http_port, origin) = floor::ports("floor-hyper");
    let pool = Pool::default();
    let port_value = HeaderValue::from(http_port);
    let serve = floor::accept_each(http_port, |client, peer, seed| {
        let Ok(peer_ip) = HeaderValue::from_str(&peer.ip().to_string()) else {
            return;
        };
        let conn = Forwarder {
            peer_ip,
            port: port_value.clone(),
            origin,
            pool: pool.clone(),
            seed: Rc::new(RefCell::new(seed)),
        };
        tokio::task::spawn_local(async move {
            let service = service_fn(move |request| {
                let conn = conn.clone();
                async move { Ok::<_, Infallible>(conn.forward(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(client), service)
                .await;
        });
    });
    floor::run(http_port, serve);
}

/// What a client connection's requests need to be forwarded.
#[derive(Clone)]
struct Forwarder {
    peer_ip: HeaderValue,
    port: HeaderValue,
    origin: SocketAddr,
    pool: Pool,
    seed: Rc<RefCell<u64>>,
}

impl Forwarder {
    async fn forward(&self, mut request: Request<Incoming>) -> Response<Body> {
        let headers = request.headers_mut();
        for name in &HOP_BY_HOP {
            headers.remove(name);
        }
        let host = headers.get(HOST).cloned();
        let id = {
            let mut seed = self.seed.borrow_mut();
            *seed = floor::next_id(*seed);
            format!("{:016x}{:016x}", *seed, seed.rotate_left(29))
        };
        let http = HeaderValue::from_static("http");
        headers.reserve(8);
        if let Ok(id) = HeaderValue::from_str(&id) {
            headers.insert(HeaderName::from_static("x-request-id"), id);
        }
        headers.insert(HeaderName::from_static("x-real-ip"), self.peer_ip.clone());
        headers.insert(
            HeaderName::from_static("x-forwarded-for"),
            self.peer_ip.clone(),
        );
        match host {
            Some(host) => headers.insert(HeaderName::from_static("x-forwarded-host"), host),
            None => headers.remove(HeaderName::from_static("x-forwarded-host")),
        };
        headers.insert(
            HeaderName::from_static("x-forwarded-port"),
            self.port.clone(),
        );
        headers.insert(HeaderName::from_static("x-forwarded-proto"), http.clone());
        headers.insert(HeaderName::from_static("x-forwarded-scheme"), http.clone());
        headers.insert(HeaderName::from_static("x-scheme"), http);
        let Some(mut sender) = self.sender().await else {
            return bad_gateway();
        };
        match sender.send_request(request).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                for name in &HOP_BY_HOP {
                    parts.headers.remove(name);
                }
                let body = Returning {
                    body,
                    checkin: Some((sender, self.pool.clone())),
                };
                Response::from_parts(parts, Either::Left(body))
            }
            Err(_) => bad_gateway(),
        }
    }

    /// The most recently parked connection that is still open, else a new one.
    async fn sender(&self) -> Option<SendRequest<Incoming>> {
        loop {
            let parked = self.pool.borrow_mut().pop();
            match parked {
                Some(sender) if sender.is_ready() => return Some(sender),
                Some(_) => continue, // closed by the upstream
                None => break,
            }
        }
        let upstream = TcpStream::connect(self.origin).await.ok()?;
        let _ = upstream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(upstream))
            .await
            .ok()?;
        tokio::task::spawn_local(conn);
        Some(sender)
    }
}

/// A response body that parks its connection once read to its end.
struct Returning {
    body: Incoming,
    checkin: Option<(SendRequest<Incoming>, Pool)>,
}

impl http_body::Body for Returning {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        let done = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            Poll::Ready(Some(Err(_))) => {
                this.checkin = None;
                false
            }
            Poll::Pending => false,
        };
        if done && let Some((sender, pool)) = this.checkin.take() {
            pool.borrow_mut().push(sender);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

fn bad_gateway() -> Response<Body> {
    let mut response = Response::new(Either::Right(Empty::new()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
