//! Test support: the fake API server with a real `kube::Client`, a controller loop wired like
//! the binary's (source → build → proxy, diagnostics → Events, served Ingresses → status),
//! echo backends, an HTTP client and object builders.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use sluice_fake_apiserver::FakeApiServer;
use sluice_ingress_model::{BuildOptions, Diagnostic, build};
use sluice_kube_source::status::{self, Served};
use sluice_kube_source::{EventSink, KubeSource, SourceConfig, SourceHandle};
use sluice_proxy::{Handle, Proxy};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A fake API server and a client for it.
pub struct World {
    pub api: FakeApiServer,
}

impl World {
    pub async fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let api = FakeApiServer::builder()
            .bookmark_interval(Duration::from_millis(500))
            .start()
            .await
            .unwrap();
        Self { api }
    }

    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.api.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    pub fn put(&self, object: Value) {
        self.api.apply(object).unwrap();
    }

    pub fn remove(&self, api_version: &str, kind: &str, ns: &str, name: &str) {
        self.api.delete(api_version, kind, ns, name).unwrap();
    }
}

/// A running controller loop with its proxy.
#[allow(dead_code)]
pub struct Controller {
    pub http: SocketAddr,
    pub handle: Handle,
    pub source: SourceHandle,
    pub published: Arc<AtomicUsize>,
    pub served: watch::Receiver<Served>,
    pub diagnostics: Arc<Mutex<Vec<Diagnostic>>>,
    /// Route count of the first table applied.
    pub first_routes: Arc<Mutex<Option<usize>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.source.stop();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn options(class: &str, controller: &str) -> BuildOptions {
    BuildOptions {
        ingress_class: class.into(),
        controller_class: controller.into(),
        ..BuildOptions::default()
    }
}

/// Starts a controller: source, proxy on 127.0.0.1:0, and the config thread.
pub async fn controller(
    client: kube::Client,
    config: SourceConfig,
    events: Option<EventSink>,
) -> Controller {
    let proxy = Proxy::builder()
        .http("127.0.0.1:0".parse().unwrap())
        .drain(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let handle = proxy.handle();
    let bound = proxy.bind().await.unwrap();
    let http = bound.http_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    let opts = config.options.clone();
    let mut source = KubeSource::start(client, config);
    let source_handle = source.handle();
    let published = Arc::new(AtomicUsize::new(0));
    let (served_tx, served) = watch::channel(Served::new());
    let diagnostics = Arc::new(Mutex::new(Vec::new()));
    let first_routes = Arc::new(Mutex::new(None));
    {
        let (handle, published, diagnostics, first_routes) = (
            handle.clone(),
            published.clone(),
            diagnostics.clone(),
            first_routes.clone(),
        );
        std::thread::spawn(move || {
            let mut last: Vec<Diagnostic> = Vec::new();
            while let Some(update) = source.next_blocking() {
                if update.changed {
                    let built = build(update.snapshot, &opts);
                    let routes = built
                        .table
                        .routes
                        .virtual_hosts
                        .iter()
                        .map(|v| v.routes.len())
                        .sum::<usize>();
                    first_routes.lock().unwrap().get_or_insert(routes);
                    handle.apply(built.table).unwrap();
                    last = built.diagnostics;
                    last.extend(update.invalid.iter().cloned());
                    *diagnostics.lock().unwrap() = last.clone();
                }
                served_tx.send_replace(status::served(update.snapshot, &last, update.ingresses));
                if let Some(events) = &events {
                    events.report(&last, update.ingresses);
                }
                published.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    Controller {
        http,
        handle,
        source: source_handle,
        published,
        served,
        diagnostics,
        first_routes,
        stop: Some(stop),
    }
}

/// Waits (bounded) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// GET `path` with `Host: host` (and optional headers); status and body text.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    get_with(addr, host, path, &[]).await
}

pub async fn get_with(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let client: HttpClient<_, Empty<Bytes>> =
        HttpClient::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder()
        .uri(format!("http://{addr}{path}"))
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    match client.request(req.body(Empty::new()).unwrap()).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        Err(_) => (0, String::new()),
    }
}

/// Waits until `host` `path` answers `status` with `body`.
pub async fn routes_to(addr: SocketAddr, host: &str, path: &str, status: u16, body: &str) {
    let what = format!("{host}{path} -> {status} {body:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = get(addr, host, path).await;
        if last.0 == status && (body.is_empty() || last.1 == body) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last answer {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An HTTP backend answering its name.
pub struct Backend {
    pub port: u16,
}

pub async fn backend(name: &str) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let name = Bytes::from(name.to_owned());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let name = name.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(name)))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Backend { port }
}

// ---- objects ----

pub const CONTROLLER: &str = "sluice.dev/ingress-controller";

pub fn ingress_class(name: &str, controller: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {"controller": controller}
    })
}

pub fn ingress(ns: &str, name: &str, class: &str, host: &str, service: &str) -> Value {
    ingress_annotated(ns, name, class, host, service, json!({}))
}

pub fn ingress_annotated(
    ns: &str,
    name: &str,
    class: &str,
    host: &str,
    service: &str,
    annotations: Value,
) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {
            "ingressClassName": class,
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}
            }]}}]
        }
    })
}

pub fn service(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    })
}

pub fn slice(ns: &str, name: &str, service: &str, ports: &[u16]) -> Value {
    // One endpoint per backend port would need one port per slice; use one slice per port.
    let port = ports.first().copied().unwrap_or(1);
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]
    })
}

pub fn config_map(ns: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data
    })
}

pub fn secret(ns: &str, name: &str, kind: &str, data: &[(&str, &[u8])]) -> Value {
    use base64_lite::encode;
    let data: BTreeMap<&str, String> = data.iter().map(|(k, v)| (*k, encode(v))).collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": kind,
        "data": data
    })
}

/// A service with its backend: Service `name` and EndpointSlice `name-1` pointing at `port`.
pub fn service_for(world: &World, ns: &str, name: &str, port: u16) {
    world.put(service(ns, name));
    world.put(slice(ns, &format!("{name}-1"), name, &[port]));
}

mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(data: &[u8]) -> String {
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// Source config for a class in every namespace.
pub fn source_config(class: &str, controller: &str) -> SourceConfig {
    SourceConfig {
        watch_namespace: None,
        options: options(class, controller),
    }
}
