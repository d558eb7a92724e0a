//! The validating admission webhook: AdmissionReview v1 for Ingress CREATE and UPDATE.
//!
//! [`review`] is a pure function over the model: it puts the candidate Ingress in place of its
//! stored version, runs `build`, restores the snapshot, and denies with the diagnostics that
//! concern the candidate and would keep it (or part of it) from being served: every error
//! (invalid annotation values, invalid hosts, paths or regexes, refused snippets, unreadable
//! fields) and every host+path another Ingress already owns. Warnings become AdmissionReview
//! `warnings`. It runs nothing else: no subprocess, no file, no network (ingress-nginx ran
//! `nginx -t` here, the root of CVE-2025-1974).
//!
//! [`serve`] is the small HTTPS server around it (hyper + rustls with the ring provider).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::networking::v1 as net;
use rustls::ServerConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_ingress_model::{BuildOptions, DiagnosticKind, Ingress, Severity, Snapshot, build};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::source::SourceHandle;
pub use crate::webhook_cert::DEFAULT_CHECK_EVERY;
use crate::webhook_cert::ReloadingCert;

/// The largest request body accepted (an Ingress is at most about 1.5 MiB; the review wraps
/// the old and new object).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Kubernetes limits an admission message; longer ones are cut.
const MAX_MESSAGE: usize = 4096;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn {
    api_version: Option<String>,
    request: Option<RequestIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn {
    uid: String,
    kind: Option<GroupVersionKind>,
    operation: Option<String>,
    namespace: Option<String>,
    object: Option<Value>,
}

#[derive(Deserialize)]
struct GroupVersionKind {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
}

/// The verdict on one candidate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether the write may proceed.
    pub allowed: bool,
    /// Why not (empty when allowed).
    pub message: String,
    /// Non-fatal findings, shown by kubectl as `Warning:` lines.
    pub warnings: Vec<String>,
}

/// Answers one AdmissionReview request body with a response body (always a well-formed
/// AdmissionReview; a request that cannot be read is denied with the reason).
pub fn review(snapshot: &mut Snapshot, opts: &BuildOptions, body: &[u8], now: i64) -> Vec<u8> {
    let (uid, api_version, verdict) = match serde_json::from_slice::<ReviewIn>(body) {
        Ok(ReviewIn {
            api_version,
            request: Some(request),
        }) => {
            let verdict = judge_request(snapshot, opts, &request, now);
            (request.uid, api_version, verdict)
        }
        Ok(ReviewIn { request: None, .. }) => (String::new(), None, deny("no request in review")),
        Err(e) => (
            String::new(),
            None,
            deny(&format!("unreadable AdmissionReview: {e}")),
        ),
    };
    let mut response = json!({ "uid": uid, "allowed": verdict.allowed });
    if !verdict.allowed {
        response["status"] = json!({
            "code": 400,
            "reason": "BadRequest",
            "message": verdict.message,
        });
    }
    if !verdict.warnings.is_empty() {
        response["warnings"] = json!(verdict.warnings);
    }
    let out = json!({
        "apiVersion": api_version.unwrap_or_else(|| "admission.k8s.io/v1".to_owned()),
        "kind": "AdmissionReview",
        "response": response,
    });
    serde_json::to_vec(&out).unwrap_or_default()
}

fn judge_request(
    snapshot: &mut Snapshot,
    opts: &BuildOptions,
    request: &RequestIn,
    now: i64,
) -> Verdict {
    let is_ingress = request.kind.as_ref().is_some_and(|k| {
        k.group == "networking.k8s.io" && k.version == "v1" && k.kind == "Ingress"
    });
    let writes = matches!(request.operation.as_deref(), Some("CREATE" | "UPDATE"));
    let (true, true, Some(object)) = (is_ingress, writes, request.object.as_ref()) else {
        return allow(Vec::new());
    };
    let mut object = match serde_json::from_value::<net::Ingress>(object.clone()) {
        Ok(object) => object,
        Err(e) => return deny(&format!("unreadable Ingress: {e}")),
    };
    if object
        .metadata
        .namespace
        .as_deref()
        .is_none_or(str::is_empty)
    {
        object.metadata.namespace = request.namespace.clone();
    }
    match Ingress::try_from(&object) {
        Ok(mut candidate) => {
            // A brand-new object is the newest: it loses every conflict, as it will once stored.
            candidate.created.get_or_insert(now);
            judge(snapshot, opts, candidate)
        }
        Err(e) => deny(&e.to_string()),
    }
}

/// Builds `snapshot` with `candidate` in place of its stored version and judges it.
pub fn judge(snapshot: &mut Snapshot, opts: &BuildOptions, candidate: Ingress) -> Verdict {
    let key = candidate.key.clone();
    let stored = snapshot
        .ingresses
        .insert(key.clone(), std::sync::Arc::new(candidate));
    let built = build(snapshot, opts);
    match stored {
        Some(stored) => snapshot.ingresses.insert(key.clone(), stored),
        None => snapshot.ingresses.remove(&key),
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for d in built
        .diagnostics
        .iter()
        .filter(|d| d.concerns_ingress(&key))
    {
        if matches!(d.kind, DiagnosticKind::NotOurClass(_)) {
            // Another controller's Ingress: not ours to judge.
            return allow(Vec::new());
        }
        let line = if d.field.is_empty() {
            d.kind.to_string()
        } else {
            format!("{}: {}", d.field, d.kind)
        };
        if d.severity == Severity::Error || matches!(d.kind, DiagnosticKind::Conflict { .. }) {
            errors.push(line);
        } else if d.severity == Severity::Warning {
            warnings.push(line);
        }
    }
    // Routes the candidate would take from an Ingress that serves them now (an older Ingress
    // can tie on creationTimestamp and lose by name): a conflict just the same.
    let taken: Vec<&sluice_ingress_model::Diagnostic> = built
        .diagnostics
        .iter()
        .filter(|d| {
            !d.concerns_ingress(&key)
                && matches!(&d.kind, DiagnosticKind::Conflict { winner, .. } if *winner == key)
        })
        .collect();
    if !taken.is_empty() {
        let before = build(snapshot, opts);
        for d in taken {
            if before.diagnostics.contains(d) {
                continue;
            }
            if let DiagnosticKind::Conflict { host, path, .. } = &d.kind {
                errors.push(format!(
                    "host {host:?} path {path} is already served by Ingress {}",
                    d.object.key
                ));
            }
        }
    }
    if errors.is_empty() {
        allow(warnings)
    } else {
        let mut message = format!(
            "Ingress {key} is not valid for sluice: {}",
            errors.join("; ")
        );
        truncate(&mut message, MAX_MESSAGE);
        Verdict {
            allowed: false,
            message,
            warnings,
        }
    }
}

fn allow(warnings: Vec<String>) -> Verdict {
    Verdict {
        allowed: true,
        message: String::new(),
        warnings,
    }
}

fn deny(message: &str) -> Verdict {
    let mut message = message.to_owned();
    truncate(&mut message, MAX_MESSAGE);
    Verdict {
        allowed: false,
        message,
        warnings: Vec::new(),
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// A rustls server configuration (ring provider) from PEM certificate chain and key files,
/// re-read when they change (checked at most every [`DEFAULT_CHECK_EVERY`]).
pub fn tls_config(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    reloading_tls_config(certificate, key, DEFAULT_CHECK_EVERY)
}

/// [`tls_config`] with the interval between looks at the files.
pub fn reloading_tls_config(
    certificate: &Path,
    key: &Path,
    check_every: Duration,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::load(certificate, key, provider.clone(), check_every)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::WebhookTls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A bound webhook listener; [`Webhook::serve`] runs it.
pub struct Webhook {
    listener: TcpListener,
    tls: TlsAcceptor,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Binds `addr` (port 0 picks one).
    pub async fn bind(addr: SocketAddr, tls: Arc<ServerConfig>) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Self {
            listener,
            tls: TlsAcceptor::from(tls),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves reviews (any path, `POST`) until the task is dropped.
    pub async fn serve(self, source: SourceHandle) {
        info!(addr = ?self.local_addr(), "admission webhook listening");
        loop {
            let (tcp, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "webhook accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let tls = self.tls.clone();
            let source = source.clone();
            tokio::spawn(async move {
                let stream = match tls.accept(tcp).await {
                    Ok(stream) => stream,
                    Err(e) => {
                        debug!(%peer, error = %e, "webhook TLS handshake failed");
                        return;
                    }
                };
                let service = hyper::service::service_fn(move |req| handle(req, source.clone()));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    debug!(%peer, error = %e, "webhook connection ended");
                }
            });
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    source: SourceHandle,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.method() != Method::POST {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST an AdmissionReview",
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match source.review(body, now).await {
        Ok(answer) => Ok(Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(answer)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response"))),
        Err(_) => Ok(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "controller stopping",
        )),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
