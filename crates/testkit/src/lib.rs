//! Test support for sluice, used only as a dev-dependency: in-process echo backends (HTTP/1.1,
//! h2c and WebSocket), clients (HTTP/1.1, h2c prior knowledge, TLS with SNI and ALPN,
//! WebSocket), rcgen certificates, Kubernetes YAML builders, a client load loop for hot-update
//! tests, and [`Gateway`], a `sluice gateway` child process on kernel-chosen ports.
//!
//! Everything here panics on failure: it is for tests, where a panic is the failure report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backend;
mod body;
pub mod certs;
mod client;
mod gateway;
mod load;
pub mod manifests;
mod tls;
pub mod websocket;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

pub use backend::{Backend, Hold, backend, backend_on, echo, refused_addr};
pub use body::{Generated, WithTrailers};
pub use client::{
    Reply, empty, full, get, h1_client, h2_request, h2c, parse_raw, raw, read, request, try_read,
    try_request,
};
pub use gateway::{CONFIG_APPLIED, Gateway, GatewayBuilder, message};
pub use load::{Accept, Load, Report, Target};
pub use tls::{AnyCertificate, TlsReply, Trust, contains, tls_client_config, tls_get, tls_request};

/// The body type of test clients and backends.
pub type TestBody = BoxBody<Bytes, Infallible>;

/// How long a liveness wait lasts before the test fails (a bound, never an assertion on time).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Installs ring as the process-wide provider for anything that asks for the default.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Polls `check` every 20 ms until it holds, for at most [`PATIENCE`].
pub async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within {PATIENCE:?}");
}
