//! sluice: a Kubernetes ingress controller and standalone HTTP gateway.
//!
//! This facade re-exports the crates so embedders need one dependency: [`model`] turns
//! Kubernetes objects into a route table, [`router`] compiles it, [`proxy`] serves it, and the
//! sources ([`kube_source`], [`file_source`]) produce snapshots. The binary wires them together.

pub use sluice_file_source as file_source;
pub use sluice_ingress_model as model;
pub use sluice_kube_source as kube_source;
pub use sluice_proxy as proxy;
pub use sluice_router as router;
