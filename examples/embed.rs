//! Embedding sluice as a library: build a route table in code from plain Kubernetes-shaped
//! objects (no cluster, no YAML), serve it with `sluice::proxy` plus a filter of your own, and
//! swap in a new table while serving.
//!
//! ```sh
//! cargo run --example embed             # shows one request before and after an update, exits
//! cargo run --example embed -- --serve  # then keeps serving on 127.0.0.1 until Ctrl-C
//! ```
//!
//! To read YAML instead, replace `snapshot()` with
//! `sluice::file_source::load(&["manifests/".into()]).snapshot`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice::model::{
    BuildOptions, Endpoint, EndpointPort, EndpointSlice, HttpPath, Ingress, IngressBackend,
    IngressRule, ObjectKey, PathType, PortRef, Service, ServicePort, Snapshot, build,
};
use sluice::proxy::{Filter, Proxy, RequestContext};
use tokio::net::TcpListener;

/// A filter of our own: tags every response with the route's Ingress.
struct Tag;

impl Filter for Tag {
    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let origin = ctx
            .route
            .as_ref()
            .and_then(|r| r.origin.as_ref())
            .map_or_else(|| "none".to_owned(), |o| o.ingress.to_string());
        if let Ok(value) = HeaderValue::from_str(&origin) {
            res.headers.insert("x-ingress", value);
        }
    }
}

/// Objects as a source would deliver them: an Ingress routing `hello.local/` to Service
/// `hello` port 80, and that Service's endpoints.
fn snapshot(endpoints: &[SocketAddr]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    snapshot.insert_ingress(Ingress {
        key: ObjectKey::new("default", "hello"),
        class_name: Some("sluice".into()),
        rules: vec![IngressRule {
            host: Some("hello.local".into()),
            paths: vec![HttpPath {
                path: Some("/".into()),
                path_type: Some(PathType::Prefix),
                backend: IngressBackend::Service {
                    name: "hello".into(),
                    port: PortRef::Number(80),
                },
            }],
        }],
        ..Ingress::default()
    });
    snapshot.insert_service(Service {
        key: ObjectKey::new("default", "hello"),
        ports: vec![ServicePort {
            port: 80,
            ..ServicePort::default()
        }],
        ..Service::default()
    });
    for (i, addr) in endpoints.iter().enumerate() {
        snapshot.insert_endpoint_slice(EndpointSlice {
            key: ObjectKey::new("default", format!("hello-{i}")),
            service_name: Some("hello".into()),
            address_type: "IPv4".into(),
            ports: vec![EndpointPort {
                port: Some(addr.port()),
                ..EndpointPort::default()
            }],
            endpoints: vec![Endpoint {
                addresses: vec![addr.ip().to_string()],
                ready: Some(true),
            }],
        });
    }
    snapshot
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let one = upstream("one").await?;
    let two = upstream("two").await?;
    // The class name is accepted without an IngressClass object, as in `sluice gateway`.
    let options = BuildOptions {
        class_name_without_object: true,
        ..BuildOptions::default()
    };
    let built = build(&snapshot(&[one]), &options);
    for diagnostic in &built.diagnostics {
        eprintln!("{diagnostic}");
    }

    let proxy = Proxy::builder()
        .http(SocketAddr::from(([127, 0, 0, 1], 0)))
        .filter(Arc::new(Tag))
        .build()?;
    let handle = proxy.handle();
    handle.apply(built.table)?;
    let bound = proxy.bind().await?;
    let addr = bound.http_addr().ok_or("no HTTP listener")?;
    let serving = tokio::spawn(bound.serve(async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    println!("serving hello.local on http://{addr}");
    println!("before: {}", fetch(addr).await?);

    // A new endpoint set: only the endpoints are swapped, the router is kept.
    let outcome = handle.apply(build(&snapshot(&[one, two]), &options).table)?;
    println!("applied: {:?} in {:?}", outcome.change, outcome.elapsed);
    println!("after:   {}", fetch(addr).await?);
    println!("after:   {}", fetch(addr).await?);

    if std::env::args().any(|a| a == "--serve") {
        println!("try: curl -H 'Host: hello.local' http://{addr}/  (Ctrl-C stops)");
        serving.await?;
    }
    Ok(())
}

/// GET `hello.local/` through the proxy: the answer and the `x-ingress` header.
async fn fetch(addr: SocketAddr) -> Result<String, Box<dyn std::error::Error>> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let req = Request::builder()
        .uri(format!("http://{addr}/greeting"))
        .header("host", "hello.local")
        .body(Empty::new())?;
    let response = client.request(req).await?;
    let tag = response
        .headers()
        .get("x-ingress")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!(
        "{} [x-ingress: {tag}]",
        String::from_utf8_lossy(&body).trim_end()
    ))
}

/// A one-line upstream that says its name.
async fn upstream(name: &'static str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        let text = format!("hello from upstream {name}, path {}", req.uri().path());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
