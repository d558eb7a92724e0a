//! Test support: echo backends, route tables built from snapshots, a running proxy, and clients.

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
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use sluice_ingress_model::*;
use sluice_proxy::{Handle, Proxy, ProxyBuilder, ShutdownReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

/// The namespace every test object lives in.
pub const NS: &str = "default";

/// Installs ring as the process-wide provider for anything that asks for the default.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// ---------------------------------------------------------------------------------------------
// Backends

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

type TestBody = BoxBody<Bytes, Infallible>;

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

// ---------------------------------------------------------------------------------------------
// Route tables

/// A snapshot under construction: IngressClass `sluice`, Services with port 80 in `default`.
pub struct World {
    /// The objects.
    pub snapshot: Snapshot,
    /// Build options.
    pub options: BuildOptions,
}

impl World {
    /// A snapshot with our IngressClass.
    pub fn new() -> Self {
        let mut snapshot = Snapshot::default();
        snapshot.insert_ingress_class(IngressClass {
            name: "sluice".into(),
            controller: DEFAULT_CONTROLLER_CLASS.into(),
            is_default: false,
        });
        Self {
            snapshot,
            options: BuildOptions::default(),
        }
    }

    /// A Service `name` (port 80) whose endpoints are these addresses, one EndpointSlice each
    /// (so every backend keeps its own port).
    pub fn service(&mut self, name: &str, endpoints: &[SocketAddr]) -> &mut Self {
        self.snapshot.insert_service(Service {
            key: ObjectKey::new(NS, name),
            ports: vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }],
            ..Service::default()
        });
        let stale: Vec<ObjectKey> = self
            .snapshot
            .endpoint_slices
            .values()
            .filter(|s| s.service_name.as_deref() == Some(name))
            .map(|s| s.key.clone())
            .collect();
        for key in stale {
            self.snapshot.endpoint_slices.remove(&key);
        }
        for (i, addr) in endpoints.iter().enumerate() {
            self.snapshot.insert_endpoint_slice(EndpointSlice {
                key: ObjectKey::new(NS, format!("{name}-{i}")),
                service_name: Some(name.into()),
                address_type: "IPv4".into(),
                ports: vec![EndpointPort {
                    name: None,
                    port: Some(addr.port()),
                    protocol: None,
                }],
                endpoints: vec![Endpoint {
                    addresses: vec![addr.ip().to_string()],
                    ready: Some(true),
                }],
            });
        }
        self
    }

    /// An Ingress `name` with one rule: `host` and Prefix `paths` → Services (port 80).
    pub fn ingress(&mut self, name: &str, host: Option<&str>, paths: &[(&str, &str)]) -> &mut Self {
        self.snapshot.insert_ingress(Ingress {
            key: ObjectKey::new(NS, name),
            class_name: Some("sluice".into()),
            rules: vec![IngressRule {
                host: host.map(Into::into),
                paths: paths
                    .iter()
                    .map(|(path, service)| HttpPath {
                        path: Some((*path).into()),
                        path_type: Some(PathType::Prefix),
                        backend: IngressBackend::Service {
                            name: (*service).into(),
                            port: PortRef::Number(80),
                        },
                    })
                    .collect(),
            }],
            ..Ingress::default()
        });
        self
    }

    /// Adds a TLS entry (`hosts` → Secret `secret`) to an Ingress added before.
    pub fn tls(&mut self, ingress: &str, hosts: &[&str], secret: &str) -> &mut Self {
        let key = ObjectKey::new(NS, ingress);
        let ingress = self.snapshot.ingresses.get_mut(&key).unwrap();
        ingress.tls.push(IngressTls {
            hosts: hosts.iter().map(|h| (*h).into()).collect(),
            secret_name: Some(secret.into()),
        });
        self
    }

    /// A `kubernetes.io/tls` Secret from a fixture pair in `testdata/tls` (`name.crt`/`.key`).
    pub fn secret(&mut self, name: &str, fixture: &str) -> &mut Self {
        let mut data = BTreeMap::new();
        data.insert(
            "tls.crt".to_owned(),
            fixture_bytes(&format!("{fixture}.crt")),
        );
        data.insert(
            "tls.key".to_owned(),
            fixture_bytes(&format!("{fixture}.key")),
        );
        self.snapshot.insert_secret(Secret {
            key: ObjectKey::new(NS, name),
            secret_type: TLS_SECRET_TYPE.into(),
            data,
        });
        self
    }

    /// Builds the table.
    pub fn table(&self) -> RouteTable {
        build(&self.snapshot, &self.options).table
    }
}

/// A file of the workspace's `testdata/tls`.
pub fn fixture_bytes(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tls")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The id of Service `name` port 80.
pub fn upstream(name: &str) -> UpstreamId {
    UpstreamId::new(NS, name, PortRef::Number(80))
}

/// Every route of `host` (exact pattern), mutably.
pub fn routes_of<'a>(table: &'a mut RouteTable, host: &str) -> &'a mut Vec<Route> {
    let vhost = table
        .routes
        .virtual_hosts
        .iter_mut()
        .find(|v| v.host.to_string() == host)
        .unwrap();
    &mut vhost.routes
}

/// Sets the timeouts of every route.
pub fn set_timeouts(table: &mut RouteTable, timeouts: Timeouts) {
    for vhost in &mut table.routes.virtual_hosts {
        for route in &mut vhost.routes {
            Arc::make_mut(&mut route.policy).timeouts = timeouts;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

/// A proxy serving on 127.0.0.1 ports.
pub struct Running {
    /// Plain HTTP.
    pub http: SocketAddr,
    /// HTTPS.
    pub https: SocketAddr,
    /// Admin.
    pub admin: SocketAddr,
    /// The handle.
    pub handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ShutdownReport>>,
}

impl Running {
    /// Triggers shutdown without waiting.
    pub fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for serving to end.
    pub async fn finished(&mut self) -> ShutdownReport {
        self.task.take().unwrap().await.unwrap()
    }

    /// Triggers shutdown and waits for serving to end.
    pub async fn shutdown(mut self) -> ShutdownReport {
        self.trigger_shutdown();
        self.finished().await
    }
}

/// A builder listening on 127.0.0.1:0 for HTTP, HTTPS and admin, without a drain period.
pub fn builder() -> ProxyBuilder {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Proxy::builder()
        .http(any)
        .https(any)
        .admin(any)
        .drain(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(10))
}

/// Starts a proxy serving `table`.
pub async fn start(table: RouteTable) -> Running {
    start_with(builder(), table).await
}

/// Starts a proxy from `builder` serving `table`.
pub async fn start_with(builder: ProxyBuilder, table: RouteTable) -> Running {
    init();
    let proxy = builder.build().unwrap();
    let handle = proxy.handle();
    handle.apply(table).unwrap();
    let bound = proxy.bind().await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = Running {
        http: bound.http_addr().unwrap(),
        https: bound.https_addr().unwrap(),
        admin: bound.admin_addr().unwrap(),
        handle,
        stop: Some(stop),
        task: None,
    };
    let task = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));
    Running {
        task: Some(task),
        ..running
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A response, read whole.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
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
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// A pooled HTTP/1.1 client.
pub fn h1_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
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
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("host", host)
        .body(body)
        .unwrap();
    read(client.request(req).await.unwrap()).await
}

/// GET over a fresh HTTP/1.1 client.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    request(&h1_client(), addr, "GET", host, path, empty()).await
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

/// Polls `check` every 20 ms until it holds, for at most 10 s.
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 10 s");
}
