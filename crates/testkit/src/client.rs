//! Clients: a pooled HTTP/1.1 client, h2c with prior knowledge, whole-response reads, raw TCP
//! exchanges.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestBody;

/// A response, read whole.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// The HTTP version it came in.
    pub version: Version,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Trailers, if any.
    pub trailers: Option<HeaderMap>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as the backend's JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text()))
    }

    /// Which backend answered.
    pub fn backend(&self) -> String {
        self.json()["backend"].as_str().unwrap().to_owned()
    }

    /// The values of a header the backend received.
    pub fn seen(&self, name: &str) -> Vec<String> {
        match &self.json()["headers"][name] {
            Value::Array(values) => values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The single value of a header the backend received.
    pub fn seen_one(&self, name: &str) -> String {
        let values = self.seen(name);
        assert_eq!(values.len(), 1, "header {name}: {values:?}");
        values.into_iter().next().unwrap()
    }
}

/// Reads a response whole, trailers included.
pub async fn read<B>(response: Response<B>) -> Reply
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// A pooled HTTP/1.1 client.
pub fn h1_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Reads a response whole, or says why the body failed.
pub async fn try_read<B>(response: Response<B>) -> Result<Reply, String>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(|e| format!("body: {e}"))?;
    let trailers = collected.trailers().cloned();
    Ok(Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    })
}

/// `method` `path` on `addr` with `Host: host` over a pooled HTTP/1.1 client.
pub async fn request(
    client: &Client<HttpConnector, TestBody>,
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    body: TestBody,
) -> Reply {
    try_request(client, addr, method, host, path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} http://{host}{path} via {addr}: {e}"))
}

/// Like [`request`], but a failed connection or body is an `Err` naming the failure.
pub async fn try_request(
    client: &Client<HttpConnector, TestBody>,
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    body: TestBody,
) -> Result<Reply, String> {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("host", host)
        .body(body)
        .map_err(|e| e.to_string())?;
    let response = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    try_read(response).await
}

/// GET over a fresh HTTP/1.1 client.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    request(&h1_client(), addr, "GET", host, path, empty()).await
}

/// An h2c (HTTP/2 with prior knowledge) connection to `addr`.
pub async fn h2c(addr: SocketAddr) -> SendRequest<TestBody> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// `method` `http://{host}{path}` on an h2c connection (the authority names the host).
pub async fn h2_request(
    sender: &mut SendRequest<TestBody>,
    method: &str,
    host: &str,
    path: &str,
    body: TestBody,
) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{host}{path}"))
        .body(body)
        .unwrap();
    read(sender.send_request(req).await.unwrap()).await
}

/// An empty request body.
pub fn empty() -> TestBody {
    Full::new(Bytes::new()).boxed()
}

/// A request body holding `data`.
pub fn full(data: impl Into<Bytes>) -> TestBody {
    Full::new(data.into()).boxed()
}

/// Sends raw bytes on a new connection and reads until the server closes it.
pub async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Splits a raw HTTP/1.1 response into status code, lowercase headers and body.
pub fn parse_raw(response: &str) -> (u16, BTreeMap<String, String>, String) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}
