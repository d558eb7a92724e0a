//! The floor of the end-to-end bench: the least CPU an HTTP/1.1 keep-alive reverse proxy on
//! tokio can spend per request on this machine. One current-thread runtime, a hand-written codec
//! on `httparse`, buffers reused for a connection's life, upstream connections kept in a LIFO
//! pool, and the same upstream request headers as the bench's other proxies. No routing,
//! metrics, timeouts, logging or retries.
//!
//! Serves only what the bench sends: requests without a body, and responses framed by
//! `Content-Length`. Anything else gets a 502 and the connection is closed. Not for real
//! traffic.
//!
//! Usage: `sluice-bench-floor --http-port PORT --origin-port PORT` (listens and connects on
//! 127.0.0.1).

use std::cell::RefCell;
use std::io::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle upstream connections, most recently used last.
type Pool = Rc<RefCell<Vec<TcpStream>>>;

/// Request headers not passed on: hop-by-hop ones, and those the proxy sets itself.
const DROPPED: [&str; 15] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy",
    "x-request-id",
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-scheme",
    "x-scheme",
];

const BAD_GATEWAY: &[u8] =
    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

fn main() {
    let (http_port, origin) = floor::ports("sluice-bench-floor");
    let pool = Pool::default();
    let serve = floor::accept_each(http_port, |client, peer, seed| {
        let conn = Connection::new(peer, http_port, origin, pool.clone(), seed);
        tokio::task::spawn_local(conn.serve(client));
    });
    floor::run(http_port, serve);
}

/// One client connection and the buffers it reuses for every request.
struct Connection {
    peer_ip: String,
    port: String,
    origin: SocketAddr,
    pool: Pool,
    seed: u64,
    /// Bytes read from the client, not yet parsed.
    input: BytesMut,
    /// The upstream request being written.
    request: Vec<u8>,
    /// Bytes read from the upstream.
    upstream_input: BytesMut,
    /// The response being written to the client.
    response: Vec<u8>,
}

/// What a request head said about the exchange.
struct RequestHead {
    /// Bytes of the head in `input`.
    len: usize,
    /// The client asked to close after the response (or spoke HTTP/1.0).
    close: bool,
}

/// What a response head said about its body.
struct ResponseHead {
    len: usize,
    content_length: usize,
    keep_alive: bool,
}

impl Connection {
    fn new(peer: SocketAddr, port: u16, origin: SocketAddr, pool: Pool, seed: u64) -> Self {
        Self {
            peer_ip: peer.ip().to_string(),
            port: port.to_string(),
            origin,
            pool,
            seed,
            input: BytesMut::with_capacity(8192),
            request: Vec::with_capacity(1024),
            upstream_input: BytesMut::with_capacity(8192),
            response: Vec::with_capacity(1024),
        }
    }

    /// Serves requests until the client closes, asks to close, or sends something unsupported.
    async fn serve(mut self, mut client: TcpStream) {
        loop {
            let head = loop {
                match self.parse_request() {
                    Ok(Some(head)) => break head,
                    Ok(None) => {}
                    Err(()) => {
                        let _ = client.write_all(BAD_GATEWAY).await;
                        return;
                    }
                }
                match client.read_buf(&mut self.input).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            };
            let _ = self.input.split_to(head.len);
            if self.exchange(head.close).await.is_err() {
                let _ = client.write_all(BAD_GATEWAY).await;
                return;
            }
            if client.write_all(&self.response).await.is_err() || head.close {
                return;
            }
        }
    }

    /// Parses a request head from `input` and writes the upstream request; `None` while the
    /// head is incomplete.
    fn parse_request(&mut self) -> Result<Option<RequestHead>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(&self.input) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let (Some(method), Some(path)) = (req.method, req.path) else {
            return Err(());
        };
        let out = &mut self.request;
        out.clear();
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let mut close = req.version == Some(0);
        let mut host: &[u8] = b"";
        for h in req.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                return Err(());
            }
            if name.eq_ignore_ascii_case("connection") {
                close = h.value.eq_ignore_ascii_case(b"close");
            } else if name.eq_ignore_ascii_case("host") {
                host = h.value;
            }
            if DROPPED.iter().any(|d| name.eq_ignore_ascii_case(d)) {
                continue;
            }
            put_header(out, name.as_bytes(), h.value);
        }
        self.seed = floor::next_id(self.seed);
        let _ = write!(
            out,
            "X-Request-ID: {:016x}{:016x}\r\n",
            self.seed,
            self.seed.rotate_left(29)
        );
        for (name, value) in [
            (&b"X-Real-IP"[..], self.peer_ip.as_bytes()),
            (b"X-Forwarded-For", self.peer_ip.as_bytes()),
            (b"X-Forwarded-Host", host),
            (b"X-Forwarded-Port", self.port.as_bytes()),
            (b"X-Forwarded-Proto", b"http"),
            (b"X-Forwarded-Scheme", b"http"),
            (b"X-Scheme", b"http"),
        ] {
            put_header(out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(Some(RequestHead { len, close }))
    }

    /// Sends the upstream request on a pooled (else new) connection and reads the response
    /// into `response`; the connection goes back to the pool unless the upstream closes it.
    async fn exchange(&mut self, close: bool) -> Result<(), ()> {
        let popped = self.pool.borrow_mut().pop();
        let mut upstream = match popped {
            Some(upstream) => upstream,
            None => {
                let upstream = TcpStream::connect(self.origin).await.map_err(drop)?;
                let _ = upstream.set_nodelay(true);
                upstream
            }
        };
        upstream.write_all(&self.request).await.map_err(drop)?;
        self.upstream_input.clear();
        let head = loop {
            read_more(&mut upstream, &mut self.upstream_input).await?;
            if let Some(head) = self.parse_response(close)? {
                break head;
            }
        };
        let end = head.len + head.content_length;
        while self.upstream_input.len() < end {
            read_more(&mut upstream, &mut self.upstream_input).await?;
        }
        self.response
            .extend_from_slice(&self.upstream_input[head.len..end]);
        if head.keep_alive && self.upstream_input.len() == end {
            self.pool.borrow_mut().push(upstream);
        }
        Ok(())
    }

    /// Parses a response head from `upstream_input` and writes the client's response head;
    /// `None` while the head is incomplete.
    fn parse_response(&mut self, close: bool) -> Result<Option<ResponseHead>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let len = match resp.parse(&self.upstream_input) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let out = &mut self.response;
        out.clear();
        let code = resp.code.ok_or(())?;
        let _ = write!(out, "HTTP/1.1 {code} {}\r\n", resp.reason.unwrap_or(""));
        let mut content_length = None;
        let mut keep_alive = resp.version == Some(1);
        for h in resp.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(h.value).map_err(drop)?;
                content_length = Some(text.trim().parse::<usize>().map_err(drop)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(());
            }
            if name.eq_ignore_ascii_case("connection") {
                keep_alive &= !h.value.eq_ignore_ascii_case(b"close");
                continue;
            }
            if name.eq_ignore_ascii_case("keep-alive") {
                continue;
            }
            put_header(out, name.as_bytes(), h.value);
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Ok(Some(ResponseHead {
            len,
            content_length: content_length.ok_or(())?,
            keep_alive,
        }))
    }
}

/// Reads more of the upstream's answer into `input`; an error at its end or on a failure.
async fn read_more(upstream: &mut TcpStream, input: &mut BytesMut) -> Result<(), ()> {
    match upstream.read_buf(input).await {
        Ok(0) | Err(_) => Err(()),
        Ok(_) => Ok(()),
    }
}

/// Appends a header line.
fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
