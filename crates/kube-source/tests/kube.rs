//! kube-source against the in-process fake API server, through a real `kube::Client`, with a
//! real proxy and real HTTP requests to echo backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kube {
    pub mod changes;
    pub mod classes;
    pub mod leader;
    pub mod outage;
    pub mod support;
    pub mod sync;
    pub mod webhook;
}
