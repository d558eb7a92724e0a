//! Controller end to end against the fake API server: propagation latency (an Ingress created
//! through the API → the first request routed by it) and memory with many Ingresses in the
//! watch cache.
//!
//! The fake API server runs in a child process (this same binary, `SLUICE_BENCH_APISERVER=1`)
//! so the RSS measured here is the controller's alone: kube client, watchers, fold, snapshot,
//! route table and proxy. The latency is measured by creating an Ingress with a real
//! `kube::Client` (POST), then polling the proxy over one keep-alive connection until the new
//! host answers 200.
//!
//! Run: `cargo bench --bench controller` (sizes: `SLUICE_BENCH_SIZES=10,10000`). Numbers go in
//! benches/README.md, never in tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::PostParams;
use serde_json::json;
use sluice::kube_source::{KubeSource, SourceConfig};
use sluice::model::{BuildOptions, Incremental};
use sluice::proxy::Proxy;
use sluice_fake_apiserver::FakeApiServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("SLUICE_BENCH_APISERVER").is_some() {
        runtime.block_on(apiserver());
        return;
    }
    let sizes: Vec<usize> = std::env::var("SLUICE_BENCH_SIZES")
        .unwrap_or_else(|_| "10,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for n in sizes {
        runtime.block_on(run(n));
    }
}

fn ingress(name: &str, host: &str) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "apps",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x".repeat(600)}},
        "spec": {"ingressClassName": "sluice", "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
        ]}}]}
    })
}

/// The child: a fake API server holding `SLUICE_BENCH_INGRESSES` Ingresses.
async fn apiserver() {
    let n: usize = std::env::var("SLUICE_BENCH_INGRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let port: u16 = std::env::var("SLUICE_BENCH_BACKEND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let api = FakeApiServer::start().await.expect("fake API server");
    let put = |v| api.apply(v).expect("apply");
    put(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "sluice"}, "spec": {"controller": "sluice.dev/ingress-controller"}}),
    );
    put(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
    );
    put(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-1", "namespace": "apps", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]}),
    );
    for i in 0..n {
        put(ingress(&format!("web-{i}"), &format!("h{i}.test")));
    }
    println!("{}", api.url());
    let _ = std::io::stdout().flush();
    // Serve until the parent closes stdin.
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

async fn run(n: usize) {
    let backend = echo().await;
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("SLUICE_BENCH_APISERVER", "1")
        .env("SLUICE_BENCH_INGRESSES", n.to_string())
        .env("SLUICE_BENCH_BACKEND", backend.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("url");
    let client = kube::Client::try_from(kube::Config::new(url.trim().parse().expect("url")))
        .expect("client");

    let proxy = Proxy::builder()
        .http("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("proxy");
    let handle = proxy.handle();
    let bound = proxy.bind().await.expect("bind");
    let http = bound.http_addr().expect("http");
    tokio::spawn(bound.serve(std::future::pending()));
    let rss_before = rss_kib();
    let started = Instant::now();
    let opts = BuildOptions::default();
    let mut source = KubeSource::start(
        client.clone(),
        SourceConfig {
            watch_namespace: None,
            options: opts.clone(),
        },
    );
    let apply_handle = handle.clone();
    let timings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Duration, Duration)>::new()));
    let record = timings.clone();
    std::thread::spawn(move || {
        // As `sluice controller` builds: incrementally, only the hosts a change touches.
        let mut incremental = Incremental::new();
        while let Some(update) = source.next_blocking() {
            if update.changed {
                let t = Instant::now();
                let built = incremental.build(update.snapshot, &opts);
                let built_in = t.elapsed();
                let _ = apply_handle.apply(built.table);
                if let Ok(mut r) = record.lock() {
                    r.push((built_in, t.elapsed() - built_in));
                }
            }
        }
    });
    let mut conn = Conn::new(http).await;
    let last = format!("h{}.test", n.saturating_sub(1));
    while conn.status(&last).await != 200 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let synced = started.elapsed();
    // Let allocator caches settle before reading RSS.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = rss_kib();

    let api: kube::Api<Ingress> = kube::Api::namespaced(client, "apps");
    let rounds = if n > 1000 { 30 } else { 200 };
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let host = format!("new-{i}.test");
        let object: Ingress =
            serde_json::from_value(ingress(&format!("new-{i}"), &host)).expect("ingress");
        let t0 = Instant::now();
        api.create(&PostParams::default(), &object)
            .await
            .expect("create");
        while conn.status(&host).await != 200 {}
        samples.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples.sort();
    let pct = |p: f64| {
        let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(idx).copied().unwrap_or_default()
    };
    println!(
        "controller/{n} ingresses: initial sync {:.0} ms; RSS {} KiB -> {} KiB (+{} KiB, {:.1} KiB per Ingress); \
         propagation API write -> routed request over {rounds}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; rebuilds {}",
        synced.as_secs_f64() * 1e3,
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) as f64 / n.max(1) as f64,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        handle.rebuilds(),
    );
    if let Ok(t) = timings.lock() {
        let last: Vec<_> = t.iter().rev().take(rounds).collect();
        let avg = |f: fn(&(Duration, Duration)) -> Duration| {
            last.iter().map(|x| f(x)).sum::<Duration>().as_secs_f64() * 1e3
                / last.len().max(1) as f64
        };
        println!(
            "controller/{n} ingresses: per change: build {:.2} ms, apply (diff + router compile + swap) {:.2} ms",
            avg(|x| x.0),
            avg(|x| x.1)
        );
    }
    drop(child.stdin.take());
    let _ = child.wait();
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            if tcp
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// One keep-alive HTTP/1.1 connection to the proxy.
struct Conn {
    addr: SocketAddr,
    tcp: Option<TcpStream>,
}

impl Conn {
    async fn new(addr: SocketAddr) -> Self {
        Self { addr, tcp: None }
    }

    async fn status(&mut self, host: &str) -> u16 {
        for _ in 0..2 {
            if self.tcp.is_none() {
                self.tcp = TcpStream::connect(self.addr).await.ok();
                if let Some(t) = &self.tcp {
                    let _ = t.set_nodelay(true);
                }
            }
            let Some(tcp) = self.tcp.as_mut() else {
                return 0;
            };
            let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            if tcp.write_all(req.as_bytes()).await.is_ok()
                && let Some(status) = read_response(tcp).await
            {
                return status;
            }
            self.tcp = None;
        }
        0
    }
}

async fn read_response(tcp: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}
