//! Integration tests of the model, collected into one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model {
    pub mod annotations;
    pub mod auth;
    pub mod canary;
    pub mod compat;
    pub mod configmap;
    pub mod diagnostics;
    pub mod fixtures;
    pub mod hosts;
    pub mod incremental;
    pub mod key_mismatch;
    pub mod laws;
    pub mod path_table;
    pub mod processing;
    pub mod regex_mode;
    pub mod semantics;
    pub mod tls;
}
