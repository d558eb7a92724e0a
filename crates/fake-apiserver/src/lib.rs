//! An in-memory Kubernetes API server for sluice's tests, driven through a real `kube::Client`.
//!
//! It speaks the API server's JSON wire format over plain HTTP on `127.0.0.1:0` for the
//! resources the controller uses (Ingress, IngressClass, Service, EndpointSlice, Endpoints,
//! Secret, ConfigMap, Lease, Event, Namespace):
//!
//! - **list** with `resourceVersion`/`resourceVersionMatch`, `labelSelector`, `fieldSelector`
//!   (unsupported field labels are refused as the real server does), and `limit`/`continue`
//!   pagination over a consistent snapshot; items carry no `kind`/`apiVersion`, the list
//!   carries `metadata.resourceVersion`;
//! - **watch** (see [`watch`](crate::watch)): synthetic ADDED, history replay from a
//!   resourceVersion, BOOKMARK, `410 Gone` as an ERROR event for a compacted resourceVersion,
//!   `timeoutSeconds`, `sendInitialEvents`;
//! - **get / create / update (PUT) / patch (merge and strategic merge) / delete**, with one
//!   global, monotonically increasing resourceVersion, `409 Conflict` on a stale
//!   `metadata.resourceVersion`, `409 AlreadyExists`, `404 NotFound` Status objects, the
//!   `status` subresource (only the status changes; the main resource keeps it), `generateName`,
//!   and no-op writes that keep the resourceVersion and emit no event.
//!
//! Test hooks write objects directly (bumping resourceVersions and notifying watches), drop all
//! watches, end them with `410 Gone`, break them mid-event, compact the history, slow every
//! answer down, take the server down (connections refused) and bring it back on the same port,
//! and list the requests received (for RBAC checks).

mod patch;
pub mod resources;
mod select;
mod server;
pub mod status;
mod store;
mod time;
mod watch;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch as tokio_watch};
use tokio::task::JoinHandle;

pub use server::Recorded;
pub use status::ApiError;

use crate::server::Shared;
use crate::store::Store;

/// How a [`FakeApiServer`] behaves.
#[derive(Clone, Debug)]
pub struct Builder {
    history: usize,
    bookmark_interval: Duration,
}

/// A running fake API server. Dropping it stops it.
#[derive(Debug)]
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            history: 10_000,
            bookmark_interval: Duration::from_secs(60),
        }
    }
}

impl Builder {
    /// How many changes the history keeps for watches to resume from (default 10 000).
    pub fn history(mut self, changes: usize) -> Self {
        self.history = changes;
        self
    }

    /// How often watches that allow bookmarks get one (default 60 s, like the API server).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> std::io::Result<FakeApiServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (changes, _) = broadcast::channel(65_536);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(self.history)),
            changes,
            drop_watches: tokio_watch::channel(0).0,
            kill: tokio_watch::channel(0).0,
            expire_watches: tokio_watch::channel(0).0,
            cut_watches: tokio_watch::channel(0).0,
            delay_ms: std::sync::atomic::AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            bookmark_interval: self.bookmark_interval,
            watches: std::sync::atomic::AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FakeApiServer {
            shared,
            addr,
            accept: Mutex::new(Some(accept)),
        })
    }
}

impl FakeApiServer {
    /// Starts a server with the defaults.
    pub async fn start() -> std::io::Result<Self> {
        Builder::default().start().await
    }

    /// A builder for other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig document pointing at this server (context `fake`, namespace `default`).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n",
            url = self.url()
        )
    }

    /// Creates or replaces an object as given (status included, resourceVersion ignored),
    /// bumping the resourceVersion and notifying watches. Returns the stored object.
    pub fn apply(&self, mut object: Value) -> Result<Value, ApiError> {
        let resource = type_of(&object)?;
        let meta = store::metadata(&mut object);
        meta.remove("resourceVersion");
        let namespace = if resource.namespaced {
            let ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_owned();
            meta.insert("namespace".into(), Value::String(ns.clone()));
            ns
        } else {
            String::new()
        };
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request("metadata.name is required"))?;
        server::set_type(resource, &mut object);
        let key = (namespace, name);
        let mut store = self.shared.store();
        let (stored, change) = if store.get(resource, &key).is_some() {
            store.replace(resource, key, object)?
        } else {
            store.create(resource, key, object)?
        };
        self.shared.publish(change);
        Ok(stored)
    }

    /// Deletes an object.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let resource = resources::by_kind(api_version, kind)
            .ok_or_else(|| ApiError::bad_request(format!("unknown kind {api_version} {kind}")))?;
        let ns = if resource.namespaced { namespace } else { "" };
        let mut store = self.shared.store();
        let (last, change) = store.delete(resource, &(ns.to_owned(), name.to_owned()))?;
        self.shared.publish(Some(change));
        Ok(last)
    }

    /// One object, as stored.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource = resources::by_kind(api_version, kind)?;
        let ns = if resource.namespaced { namespace } else { "" };
        self.shared
            .store()
            .get(resource, &(ns.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every object of a kind, as stored.
    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        resources::by_kind(api_version, kind)
            .map(|r| self.shared.store().objects(r, None))
            .unwrap_or_default()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv
    }

    /// Forgets the change history (etcd compaction): resuming a watch from any earlier
    /// resourceVersion gets `410 Gone`, and the client must relist.
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// Ends every open watch stream (cleanly, as on an API server restart or timeout).
    pub fn drop_watches(&self) {
        self.shared.drop_watches.send_modify(|n| *n += 1);
    }

    /// Ends every open watch with an `ERROR` event carrying a `410 Expired` Status, after
    /// compacting the history (so resuming from any earlier resourceVersion is `410 Gone` too):
    /// what a client sees when etcd compacts past its watch. The client must relist.
    pub fn expire_watches(&self) {
        self.compact();
        self.shared.expire_watches.send_modify(|n| *n += 1);
    }

    /// Breaks every open watch mid-stream: each writes the first half of an event, then every
    /// connection is dropped without ending its response (no final chunk), as when the API
    /// server crashes or a load balancer in front of it resets connections. The listener stays
    /// up. Returns once no watch is open (or after a bounded wait, as clients reconnect).
    pub async fn cut_watches(&self) {
        self.shared.cut_watches.send_modify(|n| *n += 1);
        // Let the half events reach the sockets before the connections go.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.shared.kill.send_modify(|n| *n += 1);
        for _ in 0..500 {
            if self.watch_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Makes every request wait `delay` before it is answered (zero: answer at once), as an
    /// overloaded API server does. Watches already open are not slowed.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many watches are open.
    pub fn watch_count(&self) -> usize {
        self.shared.watches.load(Ordering::SeqCst)
    }

    /// Stops listening and closes every connection and watch: clients get connection refused.
    /// Returns once no watch is open any more.
    pub async fn go_down(&self) {
        let accept = self.accept.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(accept) = accept {
            accept.abort();
            let _ = accept.await;
        }
        self.shared.kill.send_modify(|n| *n += 1);
        self.drop_watches();
        for _ in 0..500 {
            if self.watch_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn stop_now(&self) {
        if let Some(accept) = self.accept.lock().unwrap_or_else(|p| p.into_inner()).take() {
            accept.abort();
        }
        self.shared.kill.send_modify(|n| *n += 1);
    }

    /// Listens again on the same address (retrying briefly while the old listener, dropped
    /// by its aborted task, is still being closed).
    pub async fn come_back(&self) -> std::io::Result<()> {
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 200 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let accept = tokio::spawn(accept_loop(listener, self.shared.clone()));
        *self.accept.lock().unwrap_or_else(|p| p.into_inner()) = Some(accept);
        Ok(())
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn type_of(object: &Value) -> Result<&'static resources::ResourceType, ApiError> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    resources::by_kind(api_version, kind)
        .ok_or_else(|| ApiError::bad_request(format!("unknown kind {api_version} {kind}")))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let mut kill = shared.kill.subscribe();
        tokio::spawn(async move {
            let service = hyper::service::service_fn({
                let shared = shared.clone();
                move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(server::handle(shared, req).await) }
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.changed() => {}
            }
        });
    }
}
