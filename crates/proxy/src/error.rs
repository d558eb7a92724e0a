//! The crate's one error type, and the one place that maps an error to a status code and to the
//! side that caused it (pingora's `ErrorSource`).

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;

/// A boxed error from hyper, a body or a connector.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the proxy, from binding a port to forwarding one request.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// No route matches and there is no default backend.
    #[error("no route for host {host:?} path {path:?}")]
    NoRoute {
        /// The normalised request host.
        host: String,
        /// The normalised request path.
        path: String,
    },
    /// The chosen upstream has no ready endpoint (or is unknown).
    #[error("no endpoints for {upstream}")]
    NoEndpoints {
        /// The upstream, displayed like ingress-nginx's upstream name.
        upstream: String,
    },
    /// The upstream's protocol is not implemented yet.
    #[error("backend protocol {protocol} of {upstream} is not supported")]
    UnsupportedProtocol {
        /// The upstream.
        upstream: String,
        /// The protocol as written in the policy.
        protocol: String,
    },
    /// Connecting to an endpoint failed.
    #[error("connect to {endpoint} failed: {source}")]
    Connect {
        /// The endpoint.
        endpoint: SocketAddr,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// Connecting to an endpoint took longer than the connect timeout.
    #[error("connect to {endpoint} timed out after {after:?}")]
    ConnectTimeout {
        /// The endpoint.
        endpoint: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// The upstream sent nothing for longer than the read (or send) timeout.
    #[error("upstream {endpoint} timed out: idle for {after:?}")]
    UpstreamTimeout {
        /// The endpoint.
        endpoint: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// The upstream broke the protocol or closed the connection.
    #[error("upstream {endpoint} failed: {source}")]
    UpstreamProtocol {
        /// The endpoint.
        endpoint: SocketAddr,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The client's request body failed or stalled while being forwarded.
    #[error("client request body failed: {reason}")]
    ClientBody {
        /// Why.
        reason: String,
    },
    /// The request body is larger than `proxy-body-size`.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The client sent nothing for `client-body-timeout`.
    #[error("client sent no body data for {after:?}")]
    ClientTimeout {
        /// The timeout.
        after: Duration,
    },
    /// The upstream's response head is larger than `proxy-buffer-size`.
    #[error("upstream {endpoint} sent too big header ({size} bytes, limit {limit})")]
    HeaderTooBig {
        /// The endpoint.
        endpoint: SocketAddr,
        /// The head's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The request cannot be forwarded as it is (e.g. no usable path).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// Why.
        reason: String,
    },
    /// The route table could not be compiled; the previous one keeps serving.
    #[error("route table rejected: {0}")]
    Router(#[from] sluice_router::RouterError),
    /// The route table holds something the proxy cannot serve (the model never builds such a
    /// table); the previous one keeps serving.
    #[error("route table rejected: {reason}")]
    InvalidTable {
        /// What is wrong, naming the host and route.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TLS setup failed (server configuration or the self-signed default certificate).
    #[error("TLS setup failed: {reason}")]
    Tls {
        /// Why.
        reason: String,
    },
}

/// Which side of the proxy caused a failure (pingora's `ErrorSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorSource {
    /// The client: a bad request, an unknown host, a failed upload.
    Client,
    /// The upstream: refused, timed out, broke the protocol, or has no endpoints.
    Upstream,
    /// The proxy itself: configuration or an unsupported feature.
    Internal,
}

impl ProxyError {
    /// The status code a client receives for this error, and which side caused it. This is the
    /// only place errors are mapped to status codes.
    pub fn classify(&self) -> (StatusCode, ErrorSource) {
        use ErrorSource::{Client, Internal, Upstream};
        match self {
            Self::NoRoute { .. } => (StatusCode::NOT_FOUND, Client),
            Self::NoEndpoints { .. } => (StatusCode::SERVICE_UNAVAILABLE, Upstream),
            Self::Connect { .. } | Self::UpstreamProtocol { .. } => {
                (StatusCode::BAD_GATEWAY, Upstream)
            }
            Self::ConnectTimeout { .. } | Self::UpstreamTimeout { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, Upstream)
            }
            Self::ClientBody { .. } | Self::InvalidRequest { .. } => {
                (StatusCode::BAD_REQUEST, Client)
            }
            Self::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Client),
            Self::ClientTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, Client),
            Self::HeaderTooBig { .. } => (StatusCode::BAD_GATEWAY, Upstream),
            Self::UnsupportedProtocol { .. } => (StatusCode::BAD_GATEWAY, Internal),
            Self::Router(_) | Self::InvalidTable { .. } | Self::Bind { .. } | Self::Tls { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, Internal)
            }
        }
    }

    /// The short text a client may see: no endpoint addresses or internal details.
    pub fn public_message(&self) -> String {
        match self {
            Self::NoRoute { .. } => "default backend".to_owned(),
            Self::NoEndpoints { upstream } => format!("no endpoints for {upstream}"),
            Self::UnsupportedProtocol { protocol, .. } => {
                format!("backend protocol {protocol} is not supported")
            }
            Self::Connect { .. } => "upstream connect failed".to_owned(),
            Self::ConnectTimeout { .. } => "upstream connect timed out".to_owned(),
            Self::UpstreamTimeout { .. } => "upstream timed out".to_owned(),
            Self::UpstreamProtocol { .. } => "upstream protocol error".to_owned(),
            Self::ClientBody { .. } => "request body failed".to_owned(),
            Self::BodyTooLarge { .. } => "request entity too large".to_owned(),
            Self::ClientTimeout { .. } => "request body timed out".to_owned(),
            Self::HeaderTooBig { .. } => "upstream sent too big header".to_owned(),
            Self::InvalidRequest { reason } => reason.clone(),
            Self::Router(_) | Self::InvalidTable { .. } | Self::Bind { .. } | Self::Tls { .. } => {
                "internal error".to_owned()
            }
        }
    }

    /// Whether another endpoint may be tried (ingress-nginx `proxy-next-upstream error timeout`):
    /// only failures before anything was sent.
    pub(crate) fn is_connect_failure(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::ConnectTimeout { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_errors_to_status_and_side() {
        let endpoint: SocketAddr = ([127, 0, 0, 1], 1).into();
        let cases = [
            (
                ProxyError::NoEndpoints {
                    upstream: "default-web-80".into(),
                },
                503,
                ErrorSource::Upstream,
            ),
            (
                ProxyError::ConnectTimeout {
                    endpoint,
                    after: Duration::from_secs(1),
                },
                504,
                ErrorSource::Upstream,
            ),
            (
                ProxyError::Connect {
                    endpoint,
                    source: "refused".into(),
                },
                502,
                ErrorSource::Upstream,
            ),
            (
                ProxyError::NoRoute {
                    host: "a".into(),
                    path: "/".into(),
                },
                404,
                ErrorSource::Client,
            ),
        ];
        for (error, status, side) in cases {
            assert_eq!(
                error.classify(),
                (StatusCode::from_u16(status).unwrap(), side)
            );
        }
    }

    #[test]
    fn public_messages_hide_addresses() {
        let error = ProxyError::Connect {
            endpoint: ([10, 1, 2, 3], 8080).into(),
            source: "refused".into(),
        };
        assert!(error.to_string().contains("10.1.2.3"));
        assert!(!error.public_message().contains("10.1.2.3"));
    }
}
