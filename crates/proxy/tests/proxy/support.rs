//! Test support: route tables built from snapshots and a running proxy here; echo backends,
//! clients and the rest come from `sluice-testkit`.

mod running;
mod world;

pub use running::*;
pub use sluice_testkit::*;
pub use world::*;

/// The namespace every test object lives in.
pub const NS: &str = "default";
