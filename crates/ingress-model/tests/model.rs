//! Integration tests of the model, collected into one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model {
    pub mod compat;
    pub mod diagnostics;
    pub mod fixtures;
    pub mod laws;
    pub mod path_table;
    pub mod semantics;
    pub mod tls;
}
