//! End-to-end measurements of the `sluice gateway` binary (built with the bench profile, i.e.
//! release): peak memory while streaming large uploads, requests per second through the
//! gateway versus straight to the backend, and the time to swap in a 10k-Ingress file.
//!
//! ```sh
//! cargo bench --bench gateway                 # everything
//! cargo bench --bench gateway -- upload       # or one of: upload, rps, swap
//! ```
//!
//! Numbers are printed, never asserted; `benches/README.md` says how to read them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use sluice_testkit::manifests::{documents, ingress, service};
use sluice_testkit::{Gateway, Generated, backend, h1_client, request};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if run("upload") {
            upload().await;
        }
        if run("rps") {
            rps().await;
        }
        if run("swap") {
            swap().await;
        }
    });
}

fn gateway() -> sluice_testkit::GatewayBuilder {
    Gateway::builder(env!("CARGO_BIN_EXE_sluice"))
}

/// A field of `/proc/<pid>/status` in KiB (`VmHWM` is the peak resident set size).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Streams 100 MB and then 1 GB through the gateway; its peak RSS must not grow with the size.
async fn upload() {
    println!("== upload: peak RSS (VmHWM) of the gateway while streaming uploads");
    let echo = backend("bulk").await;
    let gw = gateway()
        .file("services.yaml", service("bulk", 80, None, &[echo.addr]))
        .file(
            "routes.yaml",
            ingress("bulk", Some("bulk.example.com"), &[("/", "bulk")]).replace(
                "metadata:\n",
                "metadata:\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: \"0\"\n",
            ),
        )
        .start()
        .await;
    let warm = request(
        &h1_client(),
        gw.http,
        "GET",
        "bulk.example.com",
        "/",
        empty_body(),
    )
    .await;
    assert_eq!(warm.status, 200);
    let idle = proc_status_kib(gw.pid(), "VmHWM");
    println!("  idle after one request: VmHWM {idle} KiB");
    for (label, size) in [("100 MB", 100 << 20), ("1 GB", 1 << 30)] {
        let started = Instant::now();
        let body = Generated::new(size).boxed();
        let reply = request(
            &h1_client(),
            gw.http,
            "POST",
            "bulk.example.com",
            "/up",
            body,
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(reply.json()["body_len"], size as u64);
        let hwm = proc_status_kib(gw.pid(), "VmHWM");
        let rss = proc_status_kib(gw.pid(), "VmRSS");
        println!(
            "  {label} upload: {:.2} s ({:.0} MB/s); VmHWM {hwm} KiB (+{} KiB over idle), VmRSS {rss} KiB",
            elapsed.as_secs_f64(),
            size as f64 / 1e6 / elapsed.as_secs_f64(),
            hwm.saturating_sub(idle)
        );
    }
}

fn empty_body() -> sluice_testkit::TestBody {
    sluice_testkit::empty()
}

/// A minimal HTTP/1.1 backend answering `ok` (so the numbers measure the proxy, not the echo).
async fn ok_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Keep-alive GET loops on `connections` connections for `duration`; requests per second.
async fn load(addr: SocketAddr, host: &str, connections: usize, duration: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (stop, done, host) = (stop.clone(), done.clone(), host.to_owned());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            while !stop.load(Ordering::Relaxed) {
                let req = Request::builder()
                    .uri("/bench")
                    .header("host", &host)
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = sender.send_request(req).await.unwrap();
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm up, then count over `duration`.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let counted = done.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    counted as f64 / elapsed.as_secs_f64()
}

/// Requests per second straight to a backend and through the gateway, same client and
/// backend; with `wrk` installed, its numbers too.
async fn rps() {
    println!(
        "== rps: HTTP/1.1 keep-alive GETs, same machine (client, gateway and backend share the cores)"
    );
    let backend = ok_backend().await;
    let gw = gateway()
        .file("services.yaml", service("ok", 80, None, &[backend]))
        .file(
            "routes.yaml",
            ingress("ok", Some("ok.example.com"), &[("/", "ok")]),
        )
        .start()
        .await;
    let duration = Duration::from_secs(5);
    for connections in [1, 16, 64] {
        let direct = load(backend, "ok.example.com", connections, duration).await;
        let proxied = load(gw.http, "ok.example.com", connections, duration).await;
        println!(
            "  {connections:>2} connections: direct {direct:>8.0} req/s, through the gateway {proxied:>8.0} req/s ({:.0}%)",
            100.0 * proxied / direct
        );
    }
    if let Ok(path) = which("wrk") {
        for (label, addr) in [("direct", backend), ("gateway", gw.http)] {
            let output = std::process::Command::new(&path)
                .args(["-t2", "-c64", "-d5s", "-H", "Host: ok.example.com"])
                .arg(format!("http://{addr}/bench"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("Requests/sec"))
                .unwrap_or("no Requests/sec line");
            println!("  wrk -t2 -c64 {label}: {line}");
        }
    } else {
        println!("  (wrk not installed: `apt-get install wrk` adds its numbers)");
    }
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

/// `n` Ingresses, each with its own host and two paths, over 100 Services.
fn many_ingresses(n: usize) -> String {
    let mut out = String::with_capacity(n * 600);
    for i in 0..n {
        let svc = format!("svc-{}", i % 100);
        out.push_str(&format!(
            "---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing-{i}
  namespace: default
spec:
  ingressClassName: sluice
  rules:
  - host: host-{i}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}
      - path: /api/v{i}
        pathType: Exact
        backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}
"
        ));
    }
    out
}

/// The 100 Services of [`many_ingresses`], all on `endpoints`.
fn many_services(endpoints: &[SocketAddr]) -> String {
    let docs: Vec<String> = (0..100)
        .map(|i| service(&format!("svc-{i}"), 80, None, endpoints))
        .collect();
    let parts: Vec<&str> = docs.iter().map(String::as_str).collect();
    documents(&parts)
}

/// Waits (polling every millisecond) for the `n`-th `config applied` line.
async fn applied(gw: &Gateway, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(line) = gw.applied().get(n - 1) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "no config applied #{n}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn describe(line: &serde_json::Value) -> String {
    format!(
        "change={} hosts={} routes={} apply_us={}",
        line["change"], line["hosts"], line["routes"], line["apply_us"]
    )
}

/// Time from writing a file to its `config applied` line, for a 10k-Ingress file.
async fn swap() {
    println!("== swap: time from a manifest write to its `config applied` line (10k Ingresses)");
    let a = backend("a").await;
    let b = backend("b").await;
    let big = many_ingresses(10_000);
    println!(
        "  file: {} Ingresses, {:.1} MB",
        10_000,
        big.len() as f64 / 1e6
    );
    let gw = gateway()
        .file("services.yaml", many_services(&[a.addr]))
        .file(
            "routes.yaml",
            ingress("small", Some("small.example.com"), &[("/", "svc-0")]),
        )
        .start()
        .await;
    applied(&gw, 1).await;

    let started = Instant::now();
    gw.replace("routes.yaml", &big);
    let line = applied(&gw, 2).await;
    println!(
        "  1 → 10k Ingresses: {:.0} ms from write to applied; {}",
        started.elapsed().as_secs_f64() * 1e3,
        describe(&line)
    );
    let reply = sluice_testkit::get(gw.http, "host-9999.example.com", "/api/v9999").await;
    assert_eq!(reply.status, 200);

    let edited = big.replace("path: /api/v5000\n", "path: /api/v5000-renamed\n");
    let started = Instant::now();
    gw.replace("routes.yaml", &edited);
    let line = applied(&gw, 3).await;
    println!(
        "  one path changed among 10k: {:.0} ms from write to applied; {}",
        started.elapsed().as_secs_f64() * 1e3,
        describe(&line)
    );

    let started = Instant::now();
    gw.replace("services.yaml", &many_services(&[a.addr, b.addr]));
    let line = applied(&gw, 4).await;
    println!(
        "  endpoints of 100 Services changed (10k Ingresses live): {:.0} ms from write to applied; {}",
        started.elapsed().as_secs_f64() * 1e3,
        describe(&line)
    );

    drop(gw);
    let started = Instant::now();
    let cold = gateway()
        .file("services.yaml", many_services(&[a.addr]))
        .file("routes.yaml", big)
        .start()
        .await;
    println!(
        "  cold start on the 10k file: {:.0} ms from spawn to listening; {}",
        started.elapsed().as_secs_f64() * 1e3,
        describe(&applied(&cold, 1).await)
    );
}
