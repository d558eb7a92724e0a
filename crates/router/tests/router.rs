//! Integration tests of `sluice-router`, collected into one binary: the router against the
//! model's reference matcher, end to end from Kubernetes objects and on arbitrary tables.

// Helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "router/common.rs"]
mod common;
#[path = "router/errors.rs"]
mod errors;
#[path = "router/hosts.rs"]
mod hosts;
#[path = "router/kubernetes.rs"]
mod kubernetes;
#[path = "router/paths.rs"]
mod paths;
#[path = "router/properties.rs"]
mod properties;
