//! Route, upstream and global policies. Annotations and the controller ConfigMap fill them; the
//! defaults are ingress-nginx's. Durations are whole milliseconds, sizes whole bytes.

use serde::Serialize;

/// Per-route policy. Routes of one Ingress share one `Arc<Policy>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Upstream timeouts.
    pub timeouts: Timeouts,
}

/// Upstream timeouts (`proxy-connect-timeout`, `proxy-read-timeout`, `proxy-send-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// Time to establish an upstream connection.
    pub connect_ms: u64,
    /// Longest wait between two reads from the upstream.
    pub read_ms: u64,
    /// Longest wait between two writes to the upstream.
    pub send_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5_000,
            read_ms: 60_000,
            send_ms: 60_000,
        }
    }
}

/// How to talk to an upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamPolicy {
    /// Wire protocol.
    pub protocol: BackendProtocol,
}

/// `backend-protocol`: the protocol spoken to the upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackendProtocol {
    /// HTTP/1.1 over TCP.
    #[default]
    Http,
    /// HTTP/1.1 (or h2 by ALPN) over TLS.
    Https,
    /// The client's scheme.
    AutoHttp,
    /// gRPC over cleartext HTTP/2 (h2c prior knowledge).
    Grpc,
    /// gRPC over TLS.
    Grpcs,
}

/// Global settings from the controller ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `worker-processes`: proxy worker threads; `None` means the CPU quota.
    pub worker_processes: Option<usize>,
}
