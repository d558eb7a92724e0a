//! Test support: route tables built from snapshots, a running proxy, ingress-nginx vocabulary
//! for test worlds and TLS peers here; echo backends, clients and the rest come from
//! `sluice-testkit`.

mod nginx;
mod running;
mod world;

pub use nginx::*;
pub use running::*;
pub use sluice_testkit::*;
pub use world::*;

/// The namespace every test object lives in.
pub const NS: &str = "default";
