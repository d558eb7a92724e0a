//! End-to-end tests of `sluice gateway`: the real binary on YAML in a temporary directory, real
//! echo backends and real clients on 127.0.0.1 ports the kernel picks. Every test starts its
//! own gateway process and stops exactly that process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway {
    mod broken_yaml;
    mod conformance;
    mod errors;
    mod hot_update;
    mod kubernetes_docs;
    mod protocols;
    mod routing;
    mod shutdown;
    mod support;
    mod tls;
}
