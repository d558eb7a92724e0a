//! `sluice controller` as a process against the in-process fake API server: flags, readiness
//! after the first synced snapshot, traffic, status, Events, least-privilege RBAC, and the Lease
//! handed over on SIGTERM.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_fake_apiserver::FakeApiServer;

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// Every flag the controller issue names; `--help` must document each.
const FLAGS: &[&str] = &[
    "--kubeconfig",
    "--ingress-class",
    "--controller-class",
    "--watch-ingress-without-class",
    "--ingress-class-by-name",
    "--watch-namespace",
    "--configmap",
    "--publish-service",
    "--publish-status-address",
    "--update-status",
    "--election-id",
    "--default-backend-service",
    "--default-ssl-certificate",
    "--http-port",
    "--https-port",
    "--admin-port",
    "--annotations-prefix",
    "--validating-webhook",
    "--validating-webhook-certificate",
    "--validating-webhook-key",
];

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN)
        .args(["controller", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in FLAGS {
        let documented = help.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with(&format!("{flag} ")) || l == *flag
        });
        assert!(documented, "{flag} is not in --help:\n{help}");
    }
    for default in [
        "[default: 80]",
        "[default: 443]",
        "[default: 10254]",
        "[default: sluice]",
    ] {
        assert!(help.contains(default), "{default}");
    }
}

pub(crate) struct Process {
    pub(crate) child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Process {
    /// Waits for a JSON log line whose message is `message`.
    pub(crate) fn wait_for(&self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line {message:?}"));
            if line["message"] == message {
                return line;
            }
        }
    }

    pub(crate) fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(kubeconfig: &std::path::Path) -> Process {
    let mut child = Command::new(BIN)
        .args([
            "controller",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--admin-port",
            "0",
            "--admin-address",
            "127.0.0.1",
            "--bind-address",
            "127.0.0.1",
            "--pod-name",
            "one",
            "--pod-namespace",
            "ingress",
            "--publish-status-address",
            "192.0.2.9",
            "--configmap",
            "ingress/sluice",
            "--shutdown-grace-period",
            "0",
            "--shutdown-timeout",
            "2",
        ])
        .env("SLUICE_LOG", "info")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(value);
            }
        }
    });
    Process { child, lines }
}

pub(crate) async fn http_get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub(crate) async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn echo() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\necho",
                    )
                    .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_after_sync_writes_status_and_hands_over_the_lease() {
    let api = FakeApiServer::start().await.unwrap();
    let port = echo().await;
    for object in [
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "sluice"}, "spec": {"controller": "sluice.dev/ingress-controller"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-1", "namespace": "apps", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "apps"},
               "spec": {"ingressClassName": "sluice", "rules": [{"host": "a.test", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sluice", "namespace": "ingress"},
               "data": {"proxy-body-size": "8m"}}),
        // A diagnostic (missing Service) for an Event, and a referenced Secret.
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "broken", "namespace": "apps", "annotations": {
                   "nginx.ingress.kubernetes.io/auth-type": "basic",
                   "nginx.ingress.kubernetes.io/auth-secret": "users"}},
               "spec": {"ingressClassName": "sluice", "rules": [{"host": "b.test", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "nope", "port": {"number": 80}}}}]}}]}}),
    ] {
        api.apply(object).unwrap();
    }
    let dir = tempfile_dir();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig()).unwrap();

    let mut process = start(&kubeconfig);
    let listening = process.wait_for("listening");
    let http: SocketAddr = listening["http"].as_str().unwrap().parse().unwrap();
    let admin: SocketAddr = listening["admin"].as_str().unwrap().parse().unwrap();
    until("ready", async || {
        http_get(admin, "admin", "/readyz").await.0 == 200
    })
    .await;
    until("traffic", async || {
        http_get(http, "a.test", "/").await == (200, "echo".into())
    })
    .await;
    until("status", async || {
        api.get("networking.k8s.io/v1", "Ingress", "apps", "web")
            .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
            == Some(json!([{"ip": "192.0.2.9"}]))
    })
    .await;
    let holder = |api: &FakeApiServer| {
        api.get(
            "coordination.k8s.io/v1",
            "Lease",
            "ingress",
            "sluice-leader",
        )
        .and_then(|l| l.pointer("/spec/holderIdentity").cloned())
    };
    assert_eq!(holder(&api), Some(json!("one")));
    until("a Warning Event", async || {
        api.list("v1", "Event")
            .iter()
            .any(|e| e["involvedObject"]["name"] == "broken" && e["type"] == "Warning")
    })
    .await;

    process.terminate();
    until("lease released", async || holder(&api).is_none()).await;
    check_rbac(&api);
    let status = tokio::task::spawn_blocking(move || {
        let mut process = process;
        process.child.wait().map(|s| s.success())
    });
    assert!(status.await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

/// The ClusterRole and Role in deploy/ grant exactly what the controller asked for: every
/// (group, resource, verb) it used is granted, and every one granted was used. Leases are
/// touched only in the controller's own namespace, through the Role.
fn check_rbac(api: &FakeApiServer) {
    let mut cluster = BTreeSet::new();
    let mut namespaced = BTreeSet::new();
    for r in api.requests() {
        let resource = match &r.subresource {
            Some(sub) => format!("{}/{sub}", r.resource),
            None => r.resource.to_owned(),
        };
        let entry = (r.group.to_owned(), resource, r.verb.to_owned());
        if r.resource == "leases" {
            assert_eq!(r.namespace.as_deref(), Some("ingress"), "{r:?}");
            namespaced.insert(entry);
        } else {
            cluster.insert(entry);
        }
    }
    let granted = super::deploy::granted();
    assert_eq!(
        cluster, granted.cluster,
        "ClusterRole rules vs requests made"
    );
    assert_eq!(
        namespaced, granted.namespaced,
        "Role rules vs requests made"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-controller-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
