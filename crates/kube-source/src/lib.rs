//! The Kubernetes side of `sluice controller`: kube-runtime watchers folded into
//! ingress-model [`Snapshot`](sluice_ingress_model::Snapshot)s ([`KubeSource`]), the Ingress
//! status writer ([`status`]) with Lease leader election ([`leader`]), Warning Events for
//! diagnostics ([`events`]) and the validating admission webhook ([`webhook`]); [`list`]
//! reads everything once, without watching (`sluice check --kubeconfig`).
//!
//! Data flows one way: watchers → [`fold`] → snapshot → (the consumer builds and applies the
//! table) → diagnostics and served Ingresses back to the Event and status writers. This crate
//! never sees the proxy, never picks a k8s-openapi version feature, and never runs a
//! subprocess.
//!
//! What is watched (RBAC in `deploy/` grants exactly this): Ingresses, Services and
//! EndpointSlices (all namespaces or `--watch-namespace`), IngressClasses, Secrets of type
//! `kubernetes.io/tls` (field selector), the controller ConfigMap and, one watch each, the
//! Secrets and ConfigMaps that annotations reference ([`refs`]). Objects are converted into the
//! model's plain types as they arrive, so `managedFields`, the last-applied annotation and
//! every field routing does not read are never stored.

pub mod config;
pub mod error;
pub mod events;
pub mod fold;
pub mod leader;
pub mod list;
pub mod refs;
pub mod source;
pub mod status;
pub mod watch;
pub mod webhook;
mod webhook_cert;

pub use config::SourceConfig;
pub use error::Error;
pub use events::{EventSink, RateLimit};
pub use fold::{Folder, IngressMeta, Object, StreamId};
pub use leader::LeaderConfig;
pub use list::{ListOptions, Listed, list};
pub use source::{KubeSource, Published, SourceHandle};
pub use status::{AddressSource, Served};
pub use webhook::{Verdict, Webhook};
