//! Helpers for the traffic-feature suites (canary, limits, auth, balancing, mirroring): several
//! annotations or ConfigMap keys at once and opaque Secrets (over [`Nginx`]), requests with
//! extra headers or from another loopback address, and a recording HTTP server that plays an
//! auth service or a mirror.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_ingress_model::ObjectKey;
use tokio::net::TcpListener;

use super::support::*;

/// Adds annotations to an Ingress of the world: `nginx.ingress.kubernetes.io/<name>`, or the
/// name as written when it has a prefix of its own (`sluice.dev/…`).
pub fn annotate(world: &mut World, ingress: &str, annotations: &[(&str, &str)]) {
    for (name, value) in annotations {
        if name.contains('/') {
            let key = ObjectKey::new(NS, ingress);
            let ing = world.snapshot.ingresses.get_mut(&key).unwrap();
            Arc::make_mut(ing)
                .annotations
                .insert((*name).to_owned(), (*value).to_owned());
        } else {
            world.annotate(ingress, name, value);
        }
    }
}

/// Sets keys of the controller ConfigMap.
pub fn configure(world: &mut World, data: &[(&str, &str)]) {
    for (key, value) in data {
        world.configmap(key, value);
    }
}

/// An Opaque Secret in the test namespace.
pub fn opaque(world: &mut World, name: &str, data: &[(&str, &str)]) {
    let data: Vec<(&str, &[u8])> = data.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    world.secret_data(name, "Opaque", &data);
}

/// A pooled HTTP/1.1 client whose connections come from `local` (any 127.x address works on
/// Linux loopback), so the proxy sees another client IP.
pub fn client_from(local: IpAddr) -> Client<HttpConnector, TestBody> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(local));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// `method path` with `Host: host` and extra headers, over `client`.
pub async fn send(
    client: &Client<HttpConnector, TestBody>,
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: TestBody,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(client.request(req.body(body).unwrap()).await.unwrap()).await
}

/// GET with extra headers over a fresh client.
pub async fn get_with(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(&h1_client(), addr, "GET", host, path, headers, empty()).await
}

/// One request a [`Recorder`] received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes read.
    pub body_len: usize,
}

impl Seen {
    /// A header as text (`""` when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// A recording server. By path: `/ok*` → 200 with `X-User: alice`, `X-Auth-Extra: 1` and
/// `Set-Cookie: auth=1`; `/deny401` → 401 with `WWW-Authenticate: Bearer realm="auth"`;
/// `/deny403` → 403; `/error` → 500; `/slow` → 200 after 3 s; `/hang` → never answers and
/// never reads the body; anything else → 200 `ok`.
pub struct Recorder {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it received (recorded when the head arrives; `body_len` once read).
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The last request received.
    pub fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

/// Starts a [`Recorder`] on 127.0.0.1.
pub async fn recorder() -> Recorder {
    start_recorder(None).await
}

/// Starts a [`Recorder`] serving HTTPS with a self-signed certificate for `localhost`.
pub async fn tls_recorder() -> Recorder {
    init();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    start_recorder(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
}

async fn start_recorder(tls: Option<tokio_rustls::TlsAcceptor>) -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (log, builder, tls) = (log.clone(), builder.clone(), tls.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(log.clone(), req));
                match tls {
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    });
    Recorder { addr, seen }
}

async fn answer(
    log: Arc<Mutex<Vec<Seen>>>,
    req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            method: req.method().to_string(),
            path: path.clone(),
            headers: req.headers().clone(),
            body_len: 0,
        });
        log.len() - 1
    };
    if path.starts_with("/hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut body = req.into_body();
    let mut len = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            len += data.len();
        }
    }
    log.lock().unwrap()[index].body_len = len;
    let mut response = Response::builder();
    let status = if path.starts_with("/ok") {
        response = response
            .header("x-user", "alice")
            .header("x-auth-extra", "1")
            .header("set-cookie", "auth=1; Path=/");
        StatusCode::OK
    } else if path.starts_with("/deny401") {
        response = response
            .header("www-authenticate", "Bearer realm=\"auth\"")
            .header("set-cookie", "denied=1");
        StatusCode::UNAUTHORIZED
    } else if path.starts_with("/deny403") {
        StatusCode::FORBIDDEN
    } else if path.starts_with("/error") {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if path.starts_with("/slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
        StatusCode::OK
    } else {
        StatusCode::OK
    };
    let response = response
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok")).boxed())
        .unwrap();
    Ok(response)
}

/// Which backend answered each of `n` GETs of `path` with these headers, counted.
pub async fn tally(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    n: usize,
) -> BTreeMap<String, usize> {
    let client = h1_client();
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let reply = send(&client, addr, "GET", host, path, headers, empty()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        *counts.entry(reply.backend()).or_insert(0) += 1;
    }
    counts
}
