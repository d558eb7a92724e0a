//! Test support: route tables built from snapshots, a running proxy, ingress-nginx vocabulary
//! for test worlds and TLS peers here; echo backends, clients and the rest come from
//! `sluice-testkit`.

mod nginx;
mod running;
mod tls_peer;
mod world;

pub use nginx::*;
pub use running::*;
pub use sluice_testkit::*;
pub use tls_peer::*;
pub use world::*;

/// The namespace every test object lives in.
pub const NS: &str = "default";
