//! Warning Events on Ingresses, so `kubectl describe ingress` says why a rule is not served.
//!
//! After each build the consumer hands over the diagnostics ([`EventSink::report`]). Each
//! error or warning that concerns an Ingress (not `NotOurClass`: other controllers' Ingresses
//! are left alone) becomes one core/v1 Warning Event when it first appears; while it persists
//! it is not repeated, and when it goes away and comes back it is reported again. Events are
//! written by the leader only (replicas see the same diagnostics) and rate-limited by a token
//! bucket; what exceeds it is dropped with a log line. A failed write is logged, never retried
//! in a loop, and never touches traffic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use sluice_ingress_model::{Diagnostic, DiagnosticKind, Kind, ObjectKey, Severity};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::fold::IngressMeta;

/// Event `source.component` and `reportingComponent`.
pub const COMPONENT: &str = "sluice-controller";

/// Kubernetes refuses longer Event messages.
const MAX_MESSAGE: usize = 1024;

/// One finding to report: the Ingress, its uid, the reason and the message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    ingress: ObjectKey,
    reason: String,
    message: String,
}

/// Rate limit of Event writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Events per second, sustained.
    pub per_second: u32,
    /// Events allowed in a burst.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 5,
            burst: 25,
        }
    }
}

/// The consumer's side: hands over each build's diagnostics.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Vec<(Finding, Option<String>)>>,
}

impl EventSink {
    /// Starts the writer task; it writes while `leading` is true. `instance` names this
    /// replica (the pod name) in `reportingInstance`.
    pub fn spawn(
        client: Client,
        instance: String,
        limit: RateLimit,
        leading: watch::Receiver<bool>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(client, instance, limit, rx, leading));
        (Self { tx }, task)
    }

    /// Reports the current diagnostics (the whole set after a build, not a delta).
    pub fn report<'a>(
        &self,
        diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
        ingresses: &BTreeMap<ObjectKey, IngressMeta>,
    ) {
        let findings = findings(diagnostics)
            .into_iter()
            .map(|f| {
                let uid = ingresses.get(&f.ingress).and_then(|m| m.uid.clone());
                (f, uid)
            })
            .collect();
        let _ = self.tx.send(findings);
    }
}

/// The diagnostics that become Events, deduplicated.
fn findings<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>) -> BTreeSet<Finding> {
    diagnostics
        .into_iter()
        .filter(|d| d.object.kind == Kind::Ingress)
        .filter(|d| matches!(d.severity, Severity::Error | Severity::Warning))
        .filter(|d| !matches!(d.kind, DiagnosticKind::NotOurClass(_)))
        .map(|d| {
            let mut message = if d.field.is_empty() {
                d.kind.to_string()
            } else {
                format!("{}: {}", d.field, d.kind)
            };
            if message.len() > MAX_MESSAGE {
                let mut cut = MAX_MESSAGE;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
            }
            Finding {
                ingress: d.object.key.clone(),
                reason: reason(d.kind.code()),
                message,
            }
        })
        .collect()
}

/// `invalid_annotation` → `InvalidAnnotation`.
fn reason(code: &str) -> String {
    code.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

async fn run(
    client: Client,
    instance: String,
    limit: RateLimit,
    mut rx: mpsc::UnboundedReceiver<Vec<(Finding, Option<String>)>>,
    mut leading: watch::Receiver<bool>,
) {
    let mut active: BTreeMap<Finding, Option<String>> = BTreeMap::new();
    let mut reported: BTreeSet<Finding> = BTreeSet::new();
    let mut bucket = Bucket::new(limit);
    loop {
        tokio::select! {
            batch = rx.recv() => {
                let Some(mut batch) = batch else { return };
                // Only the latest set matters.
                while let Ok(newer) = rx.try_recv() {
                    batch = newer;
                }
                active = batch.into_iter().collect();
                reported.retain(|f| active.contains_key(f));
            }
            changed = leading.changed() => {
                if changed.is_err() { return; }
            }
        }
        if !*leading.borrow() {
            continue;
        }
        let mut queue: VecDeque<Finding> = active
            .keys()
            .filter(|f| !reported.contains(*f))
            .cloned()
            .collect();
        let mut dropped = 0usize;
        while let Some(finding) = queue.pop_front() {
            if !bucket.take() {
                dropped = queue.len() + 1;
                break;
            }
            let uid = active.get(&finding).cloned().flatten();
            match create(&client, &instance, &finding, uid).await {
                Ok(()) => {
                    reported.insert(finding);
                }
                Err(e) => {
                    warn!(ingress = %finding.ingress, error = %e, "writing an Event failed");
                    reported.insert(finding);
                }
            }
        }
        if dropped > 0 {
            warn!(
                dropped,
                "Event rate limit reached; the rest are reported when their diagnostics change"
            );
            for finding in queue.drain(..) {
                reported.insert(finding);
            }
        }
    }
}

async fn create(
    client: &Client,
    instance: &str,
    finding: &Finding,
    uid: Option<String>,
) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.", finding.ingress.name)),
            namespace: Some(finding.ingress.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("networking.k8s.io/v1".into()),
            kind: Some("Ingress".into()),
            namespace: Some(finding.ingress.namespace.clone()),
            name: Some(finding.ingress.name.clone()),
            uid,
            ..ObjectReference::default()
        },
        reason: Some(finding.reason.clone()),
        message: Some(finding.message.clone()),
        type_: Some("Warning".into()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(instance.to_owned()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &finding.ingress.namespace);
    api.create(&PostParams::default(), &event).await?;
    debug!(ingress = %finding.ingress, reason = %finding.reason, "event written");
    Ok(())
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    limit: RateLimit,
    last: Instant,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            limit,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * f64::from(self.limit.per_second);
        self.tokens = (self.tokens + refill).min(f64::from(self.limit.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_and_findings_skip_other_classes() {
        assert_eq!(reason("invalid_annotation"), "InvalidAnnotation");
        assert_eq!(reason("conflict"), "Conflict");
        let key = ObjectKey::new("a", "web");
        let ds = [
            Diagnostic::new(
                Severity::Info,
                Kind::Ingress,
                &key,
                "spec.ingressClassName",
                DiagnosticKind::NotOurClass("nginx".into()),
            ),
            Diagnostic::new(
                Severity::Warning,
                Kind::Ingress,
                &key,
                "spec.rules[0]",
                DiagnosticKind::ServiceNotFound(ObjectKey::new("a", "svc")),
            ),
            Diagnostic::new(
                Severity::Warning,
                Kind::Ingress,
                &key,
                "spec.rules[0]",
                DiagnosticKind::ServiceNotFound(ObjectKey::new("a", "svc")),
            ),
            Diagnostic::new(
                Severity::Warning,
                Kind::Service,
                &key,
                "",
                DiagnosticKind::Malformed("x".into()),
            ),
        ];
        let found = findings(&ds);
        assert_eq!(found.len(), 1);
        let only = found.iter().next().unwrap();
        assert_eq!(only.reason, "ServiceNotFound");
        assert!(
            only.message
                .starts_with("spec.rules[0]: Service a/svc not found")
        );
    }

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let mut bucket = Bucket::new(RateLimit {
            per_second: 0,
            burst: 3,
        });
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take());
    }
}
