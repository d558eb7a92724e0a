//! Test support: echo backends, route tables built from snapshots, a running proxy, clients.

mod backend;
mod client;
mod running;
mod world;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

pub use backend::*;
pub use client::*;
pub use running::*;
pub use world::*;

/// The namespace every test object lives in.
pub const NS: &str = "default";

/// The body type of test clients and backends.
pub type TestBody = BoxBody<Bytes, Infallible>;

/// Installs ring as the process-wide provider for anything that asks for the default.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Polls `check` every 20 ms until it holds, for at most 10 s.
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 10 s");
}
