//! The controller mode of the binary and its deployment manifests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controller {
    pub mod deploy;
    pub mod faults;
    pub mod process;
}
