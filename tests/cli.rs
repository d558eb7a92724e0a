//! The `sluice` binary's operator commands, run as a process: `check` against the fixture
//! manifests and against a fake API server, and `routes`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli {
    mod check;
    mod kube_check;
    mod routes;
    mod support;
}
