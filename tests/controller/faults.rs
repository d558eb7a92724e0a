//! `sluice controller` as a process while the API server misbehaves, with a loop of requests
//! through the proxy all along (every one must succeed):
//!
//! - the API server down (connections refused) for a while: traffic flows on the last table,
//!   and an Ingress created meanwhile is served once it is back. The down period is
//!   `SLUICE_APISERVER_DOWN_SECS` seconds (default 3, at most 60); the long form is
//!   `SLUICE_APISERVER_DOWN_SECS=60 cargo test --test controller faults::api_server_down`
//!   (the watchers' backoff reaches 30 s, so the catch-up takes up to that long);
//! - every watch cut mid-event (half a JSON line, then the connection dropped);
//! - every watch ended with `410 Gone` after compaction: the watchers relist;
//! - slow answers (every request delayed) during such a relist;
//! - a relist of 5,000 objects, three times over: no gap in traffic, and the process's
//!   resident memory (VmRSS) stays bounded and does not keep growing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_fake_apiserver::FakeApiServer;

use super::process::{Process, echo, http_get, start, until};

/// Requests sent in a loop until stopped (at most `LIMIT`), with every failure kept.
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

const LIMIT: usize = 50_000;

impl Traffic {
    /// GET `host`/ on `addr` in a loop, expecting `200 echo`.
    fn start(addr: SocketAddr, host: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (task_stop, task_sent) = (stop.clone(), sent.clone());
        let task = tokio::spawn(async move {
            let mut failures = Vec::new();
            while !task_stop.load(Ordering::SeqCst) && task_sent.load(Ordering::SeqCst) < LIMIT {
                let answer = http_get(addr, host, "/").await;
                task_sent.fetch_add(1, Ordering::SeqCst);
                if answer != (200, "echo".to_owned()) {
                    failures.push(format!("{answer:?}"));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            failures
        });
        Self { stop, sent, task }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Waits until `n` more requests went out.
    async fn more(&self, n: usize) {
        let mark = self.sent();
        until("more requests", async || self.sent() >= mark + n).await;
    }

    /// Stops the loop; requests sent and the failures.
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let failures = self.task.await.unwrap();
        (self.sent.load(Ordering::SeqCst), failures)
    }
}

/// A fake API server with the controller's class, its ConfigMap, and `a.test` → Service `web`
/// whose endpoint is an echo backend; returns the server and the echo port.
async fn cluster() -> (FakeApiServer, u16) {
    let api = FakeApiServer::start().await.unwrap();
    let port = echo().await;
    for object in [
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "sluice"}, "spec": {"controller": "sluice.dev/ingress-controller"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "sluice", "namespace": "ingress"}, "data": {}}),
        service("web"),
        slice("web", port),
        ingress("web", "a.test", "web"),
    ] {
        api.apply(object).unwrap();
    }
    (api, port)
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"},
           "spec": {"ports": [{"name": "http", "port": 80}]}})
}

fn slice(service: &str, port: u16) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-1"), "namespace": "apps",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
           "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]})
}

fn ingress(name: &str, host: &str, service: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": "apps"},
           "spec": {"ingressClassName": "sluice", "rules": [{"host": host, "http": {"paths": [
               {"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}})
}

/// The controller, started against `api` and serving `a.test`; its HTTP address.
async fn controller(api: &FakeApiServer, dir: &tempfile::TempDir) -> (Process, SocketAddr) {
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig()).unwrap();
    let process = start(&kubeconfig);
    let listening = process.wait_for("listening");
    let http: SocketAddr = listening["http"].as_str().unwrap().parse().unwrap();
    until("traffic", async || {
        http_get(http, "a.test", "/").await == (200, "echo".into())
    })
    .await;
    (process, http)
}

/// Waits until `host` is served.
async fn served(http: SocketAddr, host: &str) {
    until(&format!("{host} served"), async || {
        http_get(http, host, "/").await == (200, "echo".into())
    })
    .await;
}

/// List requests received so far for a plural resource.
fn lists(api: &FakeApiServer, resource: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.verb == "list" && r.resource == resource)
        .count()
}

/// Whether the watcher of a plural resource is watching: its last list-or-watch request was a
/// watch (the fake server records a request when it starts answering it).
fn watching(api: &FakeApiServer, resource: &str) -> bool {
    api.requests()
        .iter()
        .rev()
        .find(|r| r.resource == resource && matches!(r.verb, "list" | "watch"))
        .is_some_and(|r| r.verb == "watch")
}

fn check(what: &str, sent: usize, failures: &[String]) {
    println!("{what}: requests sent {sent}, failed {}", failures.len());
    assert!(sent > 0);
    assert!(
        failures.is_empty(),
        "{what}: {} of {sent} requests failed: {failures:?}",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_down_keeps_traffic_and_changes_made_meanwhile_arrive() {
    let down = std::env::var("SLUICE_APISERVER_DOWN_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3)
        .min(60);
    let (api, _) = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let (_process, http) = controller(&api, &dir).await;
    let traffic = Traffic::start(http, "a.test");
    traffic.more(10).await;

    api.go_down().await;
    // Written while the controller cannot see it.
    api.apply(ingress("late", "late.test", "web")).unwrap();
    tokio::time::sleep(Duration::from_secs(down)).await;
    assert_eq!(http_get(http, "late.test", "/").await.0, 404);
    traffic.more(10).await;
    api.come_back().await.unwrap();

    served(http, "late.test").await;
    traffic.more(10).await;
    let (sent, failures) = traffic.finish().await;
    check(&format!("API server down {down} s"), sent, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_cut_mid_event_reconnect_and_catch_up() {
    let (api, _) = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let (_process, http) = controller(&api, &dir).await;
    until("watches open", async || api.watch_count() >= 5).await;
    let traffic = Traffic::start(http, "a.test");
    traffic.more(10).await;

    api.cut_watches().await;
    api.apply(ingress("after-cut", "cut.test", "web")).unwrap();
    served(http, "cut.test").await;
    // A second cut, once the watches are back.
    until("watches open again", async || api.watch_count() >= 5).await;
    api.cut_watches().await;
    api.delete("networking.k8s.io/v1", "Ingress", "apps", "after-cut")
        .unwrap();
    until("cut.test removed", async || {
        http_get(http, "cut.test", "/").await.0 == 404
    })
    .await;
    traffic.more(10).await;
    let (sent, failures) = traffic.finish().await;
    check("watches cut twice", sent, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_watches_relist_even_when_the_api_server_is_slow() {
    let (api, _) = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let (_process, http) = controller(&api, &dir).await;
    until("watches open", async || api.watch_count() >= 5).await;
    let traffic = Traffic::start(http, "a.test");
    traffic.more(10).await;

    // 410 Gone on every watch: the watchers relist.
    until("ingresses watched", async || watching(&api, "ingresses")).await;
    let before = lists(&api, "ingresses");
    api.expire_watches();
    api.apply(ingress("after-gone", "gone.test", "web"))
        .unwrap();
    served(http, "gone.test").await;
    until("ingresses relisted", async || {
        lists(&api, "ingresses") > before
    })
    .await;

    // Again, with every answer of the API server taking 1.5 s.
    until("ingresses watched again", async || {
        watching(&api, "ingresses")
    })
    .await;
    api.set_delay(Duration::from_millis(1500));
    let before = lists(&api, "ingresses");
    api.expire_watches();
    api.apply(ingress("while-slow", "slow.test", "web"))
        .unwrap();
    served(http, "slow.test").await;
    until("ingresses relisted slowly", async || {
        lists(&api, "ingresses") > before
    })
    .await;
    api.set_delay(Duration::ZERO);
    traffic.more(10).await;
    let (sent, failures) = traffic.finish().await;
    check("410 Gone relists, fast and slow", sent, &failures);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relists_of_5000_objects_leave_no_gap_and_bounded_memory() {
    const INGRESSES: usize = 2_000;
    const SERVICES: usize = 1_500;
    let (api, port) = cluster().await;
    for i in 0..SERVICES {
        api.apply(service(&format!("s{i}"))).unwrap();
        api.apply(slice(&format!("s{i}"), port)).unwrap();
    }
    for i in 0..INGRESSES {
        let name = format!("i{i}");
        let host = format!("h{i}.test");
        api.apply(ingress(&name, &host, &format!("s{}", i % SERVICES)))
            .unwrap();
    }
    let objects = INGRESSES + 2 * SERVICES;
    let dir = tempfile::tempdir().unwrap();
    let (process, http) = controller(&api, &dir).await;
    served(http, &format!("h{}.test", INGRESSES - 1)).await;
    let pid = process.child.id();
    let start_rss = rss_kib(pid);
    let traffic = Traffic::start(http, "a.test");
    traffic.more(10).await;

    let mut after = Vec::new();
    for round in 0..3 {
        until("watched", async || {
            watching(&api, "ingresses") && watching(&api, "endpointslices")
        })
        .await;
        let before = (lists(&api, "ingresses"), lists(&api, "endpointslices"));
        api.expire_watches();
        let marker = format!("relist{round}.test");
        api.apply(ingress(&format!("relist-{round}"), &marker, "web"))
            .unwrap();
        served(http, &marker).await;
        until("relisted", async || {
            lists(&api, "ingresses") > before.0 && lists(&api, "endpointslices") > before.1
        })
        .await;
        traffic.more(10).await;
        after.push(rss_kib(pid));
    }
    let (sent, failures) = traffic.finish().await;
    println!(
        "{objects}-object relists: VmRSS {start_rss} KiB after the first sync, {after:?} KiB \
         after each relist"
    );
    check(
        &format!("three relists of {objects} objects"),
        sent,
        &failures,
    );
    // Generous bounds: well under 1 GiB, and no growth of more than 128 MiB between the first
    // and the last relist.
    let last = *after.last().unwrap();
    assert!(last < 1024 * 1024, "VmRSS {last} KiB");
    assert!(last < after[0] + 128 * 1024, "VmRSS grew: {after:?}");
    drop(process);
}
