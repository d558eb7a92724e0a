//! The crate's one error type.

/// What can go wrong starting or running the Kubernetes side of the controller. Watch errors
/// are not here: watchers back off and retry forever, and the proxy keeps its last table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes API request failed.
    #[error("Kubernetes API request {action} failed: {source}")]
    Api {
        /// What was being done, e.g. `replace Lease sluice/sluice-leader`.
        action: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The webhook's certificate or key could not be read or used.
    #[error("webhook TLS: {0}")]
    WebhookTls(String),
    /// The webhook listener could not be bound.
    #[error("binding the webhook listener on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The source stopped (its consumer went away).
    #[error("the Kubernetes source has stopped")]
    Stopped,
}
