//! Quick start: the real sluice gateway on example YAML, with two tiny demo backends.
//!
//! ```sh
//! cargo run --release --example quickstart            # manifests in $TMPDIR/sluice-quickstart
//! cargo run --release --example quickstart -- ./demo  # or in a directory of your choice
//! ```
//!
//! It starts two backends ("blue" and "green") on free ports, writes the manifests of
//! `examples/quickstart/` into the directory plus an `endpoints.yaml` pointing the Services at
//! the backends, starts the gateway on them (the same code as `sluice gateway`, through
//! `sluice::gateway`), prints curl lines to try, and reloads whenever a file in the directory
//! changes. Ctrl-C stops it.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice::gateway::{Gateway, GatewayConfig};
use tokio::net::TcpListener;

const INGRESS: &str = include_str!("quickstart/ingress.yaml");
const SERVICES: &str = include_str!("quickstart/services.yaml");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();

    let dir = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join("sluice-quickstart"),
        PathBuf::from,
    );
    let blue = demo_backend("blue").await?;
    let green = demo_backend("green").await?;
    write_manifests(&dir, blue, green)?;

    let mut config = GatewayConfig::new([&dir]);
    config.http = Some(preferred(8080));
    config.https = Some(preferred(8443));
    config.admin = Some(preferred(10254));
    config.drain = Duration::ZERO;
    config.shutdown_timeout = Duration::from_secs(5);
    let signal = sluice::signal::shutdown();
    let running = Gateway::load(config).start().await?;
    let (Some(http), Some(https), Some(admin)) = (
        running.http_addr(),
        running.https_addr(),
        running.admin_addr(),
    ) else {
        return Err("a listener is missing".into());
    };
    print_instructions(&dir, http, https, admin);
    running.serve(signal).await;
    Ok(())
}

/// 127.0.0.1 on `port` when it is free, else on a port the kernel picks.
fn preferred(port: u16) -> SocketAddr {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match StdListener::bind(addr) {
        Ok(_) => addr,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

/// Copies the example manifests into `dir` and writes the EndpointSlices of the two Services.
fn write_manifests(dir: &Path, blue: SocketAddr, green: SocketAddr) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ingress.yaml"), INGRESS)?;
    std::fs::write(dir.join("services.yaml"), SERVICES)?;
    let slice = |service: &str, addr: SocketAddr| {
        format!(
            "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-demo
  labels:
    kubernetes.io/service-name: {service}
addressType: IPv4
ports:
- name: http
  port: {port}
endpoints:
- addresses: [\"{ip}\"]
",
            port = addr.port(),
            ip = addr.ip()
        )
    };
    let endpoints = format!(
        "# Written by the quickstart example: where the demo backends listen this time.\n{}---\n{}",
        slice("blue", blue),
        slice("green", green)
    );
    std::fs::write(dir.join("endpoints.yaml"), endpoints)
}

fn print_instructions(dir: &Path, http: SocketAddr, https: SocketAddr, admin: SocketAddr) {
    let (h, s) = (http.port(), https.port());
    println!(
        "
sluice quick start: the gateway serves the manifests in {dir}

Try:
  curl -H 'Host: blue.example' http://127.0.0.1:{h}/
  curl -H 'Host: green.example' 'http://127.0.0.1:{h}/some/path?x=1'
  curl http://127.0.0.1:{h}/blue/fanout
  curl http://127.0.0.1:{h}/nothing-here                      # 404 from the default backend
  curl --http2-prior-knowledge -H 'Host: blue.example' http://127.0.0.1:{h}/h2c
  curl -k --resolve green.example:{s}:127.0.0.1 https://green.example:{s}/tls
  curl http://{admin}/debug/routes                        # the live route table

Edit {ingress}
(e.g. point blue.example at the green Service) and run the curl lines again: the gateway
reloads on save. Ctrl-C stops it.
",
        dir = dir.display(),
        ingress = dir.join("ingress.yaml").display(),
    );
}

/// A tiny backend that says who it is and what it was asked.
async fn demo_backend(name: &'static str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let builder = builder.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(name, req));
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn answer(name: &str, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let text = format!("hello from {name}: {} {path} (host {host})\n", req.method());
    Ok(Response::new(Full::new(Bytes::from(text))))
}
