//! Shared helpers: the gateway under test with a ConfigMap, a recording backend that keeps every
//! request it receives, raw-socket exchanges bounded by [`PATIENCE`], and the liveness check
//! each test ends with.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use sluice_testkit::manifests::*;
pub use sluice_testkit::*;

/// The host every catch-all test request names.
pub const HOST: &str = "hostile.test";

/// A `sluice gateway` of the binary under test.
pub fn gateway() -> GatewayBuilder {
    init();
    Gateway::builder(env!("CARGO_BIN_EXE_sluice"))
}

/// The controller ConfigMap `ingress/sluice` with `data`.
pub fn configmap(data: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sluice\n  namespace: ingress\ndata:\n",
    );
    for (key, value) in data {
        out.push_str(&format!("  {key}: \"{value}\"\n"));
    }
    out
}

/// A gateway with the ConfigMap `config` and the given manifests.
pub async fn start(config: &[(&str, &str)], files: &[(&str, String)]) -> Gateway {
    let mut builder = gateway()
        .arg("--configmap")
        .arg("ingress/sluice")
        .file("config.yaml", configmap(config));
    for (name, yaml) in files {
        builder = builder.file(name, yaml.clone());
    }
    builder.start().await
}

/// A gateway whose one catch-all Ingress (any host, `/`) forwards to a recording backend.
pub async fn catch_all(config: &[(&str, &str)]) -> (Recorder, Gateway) {
    recorded("catch-all", None, config).await
}

/// A gateway whose one Ingress `name` (`host`, or any host; `/`) forwards to a recording
/// backend.
pub async fn recorded(
    name: &str,
    host: Option<&str>,
    config: &[(&str, &str)],
) -> (Recorder, Gateway) {
    let recorder = recorder().await;
    let gw = start(
        config,
        &[
            (
                "services.yaml",
                service("recorder", 80, None, &[recorder.addr]),
            ),
            ("ingress.yaml", ingress(name, host, &[("/", "recorder")])),
        ],
    )
    .await;
    (recorder, gw)
}

/// One request as the recording backend received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query, as sent on the request line.
    pub target: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, or the error that ended it.
    pub body: Result<Bytes, String>,
}

/// A backend that answers `200 recorded` and keeps every request it receives.
pub struct Recorder {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Takes every request so far, leaving none.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// The targets (path and query) of every request so far.
    pub fn targets(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.target).collect()
    }
}

/// Starts a recording backend on 127.0.0.1 (HTTP/1.1 and h2c).
pub async fn recorder() -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (sink, builder) = (sink.clone(), builder.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let sink = sink.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body: hyper::body::Incoming = body;
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .map_err(|e| e.to_string());
                        sink.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            target: parts
                                .uri
                                .path_and_query()
                                .map_or_else(String::new, ToString::to_string),
                            headers: parts.headers,
                            body,
                        });
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"recorded\n"),
                        )))
                    }
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Recorder { addr, seen }
}

/// Reads until the peer closes the connection (a reset counts as closed). Panics when it is
/// still open after [`PATIENCE`].
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the connection is still open after {PATIENCE:?}; read so far: {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                return out;
            }
            Ok(Err(e)) => panic!("reading: {e}"),
        }
    }
}

/// Sends `bytes` on a new connection (a write the peer cuts short is fine) and reads until the
/// gateway closes it.
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    read_to_close(&mut stream).await
}

/// The status code of every HTTP/1.x response in `raw`, in order (a status line is one that
/// starts the data or follows a line end).
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    let mut at_line_start = true;
    while !rest.is_empty() {
        if at_line_start
            && (rest.starts_with("HTTP/1.1 ") || rest.starts_with("HTTP/1.0 "))
            && let Some(code) = rest.get(9..12).and_then(|c| c.parse().ok())
        {
            out.push(code);
        }
        let Some(end) = rest.find('\n') else { break };
        rest = &rest[end + 1..];
        at_line_start = true;
    }
    out
}

/// Checks the gateway still answers a new client through the recorder, and that the recorder
/// received exactly that request; leaves the recorder empty.
pub async fn still_serving(gw: &Gateway, recorder: &Recorder) {
    recorder.take();
    let reply = get(gw.http, HOST, "/still-serving").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "recorded\n");
    assert_eq!(recorder.targets(), ["/still-serving"]);
    recorder.take();
}

/// The gateway's resident memory in KiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_kib(gw: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}
