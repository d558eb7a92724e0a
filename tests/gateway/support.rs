//! Shared helpers: the gateway under test, and backends with their Services.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use sluice_testkit::certs::Ca;
pub use sluice_testkit::manifests::*;
pub use sluice_testkit::*;

/// A `sluice gateway` of the binary under test.
pub fn gateway() -> GatewayBuilder {
    init();
    Gateway::builder(env!("CARGO_BIN_EXE_sluice"))
}

/// Echo backends, one per name.
pub async fn backends(names: &[&str]) -> Vec<Backend> {
    let mut out = Vec::new();
    for name in names {
        out.push(backend(name).await);
    }
    out
}

/// For each backend, a Service of its name (port `port`, named `http`) whose one endpoint is
/// the backend.
pub fn services(backends: &[Backend], port: u16) -> String {
    let docs: Vec<String> = backends
        .iter()
        .map(|b| service(&b.name, port, Some("http"), &[b.addr]))
        .collect();
    let parts: Vec<&str> = docs.iter().map(String::as_str).collect();
    documents(&parts)
}

/// `n` echo backends named `{prefix}-{i}` on `n` different loopback addresses
/// (127.0.0.2, 127.0.0.3, …) sharing one port, like the pods behind a Service.
pub async fn replicas(prefix: &str, n: u8) -> Vec<Backend> {
    for _ in 0..20 {
        let first = backend_on(&format!("{prefix}-0"), ip_addr(2, 0))
            .await
            .unwrap();
        let port = first.port();
        let mut all = vec![first];
        for i in 1..n {
            match backend_on(&format!("{prefix}-{i}"), ip_addr(2 + i, port)).await {
                Ok(b) => all.push(b),
                Err(_) => break,
            }
        }
        if all.len() == usize::from(n) {
            return all;
        }
    }
    panic!("no common free port for {n} loopback addresses");
}

fn ip_addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port)
}

/// The name of the backend behind an answer, or the status when it is not an echo answer.
pub fn served_by(reply: &Reply) -> String {
    serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["backend"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("status {}", reply.status.as_u16()))
}
