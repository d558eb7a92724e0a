//! sluice: a Kubernetes ingress controller and standalone HTTP gateway.
//!
//! This facade re-exports the crates so embedders need one dependency: [`model`] turns
//! Kubernetes objects into a route table, [`router`] compiles it, [`proxy`] serves it, and the
//! sources ([`kube_source`], [`file_source`]) produce snapshots. [`gateway`] wires the file
//! source to the proxy: it is `sluice gateway`, and what embedders start in their own runtime;
//! [`run`], [`observe`] and [`signal`] are what every serving mode shares.

pub mod gateway;
pub mod observe;
pub mod run;
pub mod signal;

pub use sluice_file_source as file_source;
pub use sluice_ingress_model as model;
pub use sluice_kube_source as kube_source;
pub use sluice_proxy as proxy;
pub use sluice_router as router;

/// Seconds since the Unix epoch, for certificate-expiry diagnostics (the model never reads a
/// clock).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
