//! One request's tries under ingress-nginx's upstream settings: the retry plan
//! (`proxy-next-upstream`, `-tries`, `-timeout`, `retry-non-idempotent`: what may go to the next
//! endpoint, and only when it is safe), one attempt with the route's connect, send and read
//! timeouts and the upstream keep-alive limits, and the `proxy-buffer-size` check of the
//! response head.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use sluice_ingress_model::{Policy, Timeouts};
use tokio::time::{Instant, Sleep};

use crate::body::{Body, Progress};
use crate::client::{KeepAlive, Transport, UpstreamClients};
use crate::error::ProxyError;
use crate::h1_pool::{Checkin, H1Conn, H1Pool};
use crate::request_body::Prepared;

/// The route's timeouts as durations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `proxy-connect-timeout`.
    pub connect: Duration,
    /// `proxy-read-timeout`.
    pub read: Duration,
    /// `proxy-send-timeout`.
    pub send: Duration,
}

impl From<&Timeouts> for Limits {
    fn from(t: &Timeouts) -> Self {
        Self {
            connect: Duration::from_millis(t.connect_ms),
            read: Duration::from_millis(t.read_ms),
            send: Duration::from_millis(t.send_ms),
        }
    }
}

/// `proxy-next-upstream`, `-tries`, `-timeout` and `retry-non-idempotent` for one request.
pub(crate) struct Attempts<'a> {
    policy: &'a Policy,
    /// Attempts allowed, the first included.
    pub tries: u32,
    /// `proxy-next-upstream-timeout`: no new attempt after this long.
    pub budget: Option<Duration>,
    /// The buffered body, sent again on each attempt.
    pub replay: Option<Bytes>,
    /// Whether the request may be sent again after reaching an upstream.
    resendable: bool,
}

impl<'a> Attempts<'a> {
    pub fn new(policy: &'a Policy, method: &Method, endpoints: usize, body: &Prepared) -> Self {
        let retry = &policy.retry;
        let on = &retry.on;
        let any = on.error || on.timeout || on.invalid_header || !on.statuses.is_empty();
        let tries = match retry.tries {
            _ if !any => 1,
            0 => u32::try_from(endpoints).unwrap_or(u32::MAX).max(1),
            n => n,
        };
        let idempotent = !matches!(method.as_str(), "POST" | "PATCH" | "LOCK");
        let replay = match body {
            Prepared::Replayable(bytes) => Some(bytes.clone()),
            Prepared::Streaming(_) => None,
        };
        Self {
            policy,
            tries,
            budget: (retry.timeout_ms > 0).then(|| Duration::from_millis(retry.timeout_ms)),
            resendable: replay.is_some() && (idempotent || on.non_idempotent),
            replay,
        }
    }

    pub fn retry_on_status(&self, status: u16) -> bool {
        self.resendable && self.policy.retry.on.statuses.contains(&status)
    }

    /// A connection that could not be opened: nothing was sent, any request may go elsewhere.
    pub fn retry_on_connect(&self, error: &ProxyError) -> bool {
        let on = &self.policy.retry.on;
        match error {
            ProxyError::Connect { .. } => on.error,
            ProxyError::ConnectTimeout { .. } => on.timeout,
            _ => false,
        }
    }

    pub fn retry_on_error(&self, error: &ProxyError) -> bool {
        let on = &self.policy.retry.on;
        match error {
            // Nothing reached the upstream: any request may go elsewhere.
            ProxyError::Connect { .. } => on.error && (self.replay.is_some()),
            ProxyError::ConnectTimeout { .. } => on.timeout && (self.replay.is_some()),
            ProxyError::UpstreamProtocol { .. } => on.error && self.resendable,
            ProxyError::UpstreamTimeout { .. } => on.timeout && self.resendable,
            ProxyError::HeaderTooBig { .. } => on.invalid_header && self.resendable,
            _ => false,
        }
    }
}

/// An upstream's response head, and for HTTP/1.1 what returns its connection to the pool.
pub(crate) struct Sent {
    /// The response.
    pub response: Response<Incoming>,
    /// Puts the connection back once the body has been read (none: it closes).
    pub checkin: Option<Checkin>,
}

/// One attempt on one endpoint.
pub(crate) struct Attempt<'a> {
    /// How the request travels.
    pub transport: &'a Transport,
    /// The clients (for the HTTP/2 pool).
    pub pool: &'a UpstreamClients,
    /// The endpoint.
    pub endpoint: SocketAddr,
    /// The route's timeouts.
    pub limits: Limits,
    /// How far the request body has come.
    pub progress: &'a Progress,
    /// Upstream keep-alive limits.
    pub keepalive: KeepAlive,
}

impl Attempt<'_> {
    /// Sends the request: the route's connect timeout until a connection is ready, then the
    /// send (while the body is still going out) or read timeout, measured from the last
    /// progress, until the response head arrives. An HTTP/1.1 response comes with what puts
    /// its connection back into the pool once the body has been read.
    pub async fn send(
        &self,
        request: Request<Body>,
        h2_sender: Option<SendRequest<Body>>,
    ) -> Result<Sent, ProxyError> {
        match self.transport {
            Transport::Http1(pool) => self.send_http1(pool, request).await,
            Transport::H2 { connector, key } => {
                let mut sender = match h2_sender {
                    Some(sender) => sender,
                    None => self.h2_sender(connector, *key).await?,
                };
                self.progress.connected();
                let response = sender.send_request(request);
                let response = self.wait(response).await?;
                Ok(Sent {
                    response: response.map_err(|e| self.hyper_error(e))?,
                    checkin: None,
                })
            }
        }
    }

    /// Sends on a pooled or new HTTP/1.1 connection. A request that a reused connection
    /// could not take (it closed just then; nothing was sent) goes on another connection.
    async fn send_http1(
        &self,
        pool: &H1Pool,
        mut request: Request<Body>,
    ) -> Result<Sent, ProxyError> {
        let connect_deadline = Instant::now() + self.limits.connect;
        loop {
            let mut conn = self.h1_connection(pool, connect_deadline).await?;
            self.progress.connected();
            let sent = conn.sender.try_send_request(request);
            match self.wait_on(sent, conn.timer.as_mut()).await? {
                Ok(response) => {
                    let checkin = pool.checkin(conn, self.keepalive);
                    return Ok(Sent { response, checkin });
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if conn.reused => {
                        tracing::trace!(endpoint = %self.endpoint, "pooled connection closed, sending on another");
                        request = unsent;
                    }
                    _ => return Err(self.hyper_error(error.into_error())),
                },
            }
        }
    }

    /// A pooled or new HTTP/1.1 connection to the endpoint by `deadline`.
    async fn h1_connection(&self, pool: &H1Pool, deadline: Instant) -> Result<H1Conn, ProxyError> {
        let endpoint = self.endpoint;
        match tokio::time::timeout_at(deadline, pool.connection(endpoint)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(ProxyError::Connect { endpoint, source }),
            Err(_) => Err(ProxyError::ConnectTimeout {
                endpoint,
                after: self.limits.connect,
            }),
        }
    }

    /// A ready HTTP/2 sender to the endpoint, within the connect timeout.
    pub async fn h2_sender(
        &self,
        connector: &crate::connector::Connector,
        key: usize,
    ) -> Result<SendRequest<Body>, ProxyError> {
        let endpoint = self.endpoint;
        let deadline = Instant::now() + self.limits.connect;
        tokio::time::timeout_at(deadline, self.pool.h2().sender(endpoint, key, connector))
            .await
            .map_err(|_| ProxyError::ConnectTimeout {
                endpoint,
                after: self.limits.connect,
            })?
            .map_err(|source| ProxyError::Connect { endpoint, source })
    }

    /// Waits for the response head (the output of `response`) with the send and read
    /// timeouts.
    async fn wait<F: std::future::Future>(&self, response: F) -> Result<F::Output, ProxyError> {
        let deadline = Instant::from_std(self.progress.last_activity()) + self.current_limit();
        let timer = tokio::time::sleep_until(deadline);
        tokio::pin!(timer);
        self.wait_on(response, timer).await
    }

    /// [`Attempt::wait`] on the given timer, which it resets.
    async fn wait_on<F: std::future::Future>(
        &self,
        response: F,
        mut timer: Pin<&mut Sleep>,
    ) -> Result<F::Output, ProxyError> {
        tokio::pin!(response);
        loop {
            let limit = self.current_limit();
            let deadline = Instant::from_std(self.progress.last_activity()) + limit;
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                biased;
                result = &mut response => return Ok(result),
                () = timer.as_mut() => {
                    let limit = self.current_limit();
                    if Instant::from_std(self.progress.last_activity()) + limit <= Instant::now() {
                        if let Some(failure) = self.progress.client_failure() {
                            return Err(failure.to_error());
                        }
                        return Err(ProxyError::UpstreamTimeout { endpoint: self.endpoint, after: limit });
                    }
                }
            }
        }
    }

    fn current_limit(&self) -> Duration {
        if self.progress.request_done() {
            self.limits.read
        } else {
            self.limits.send
        }
    }

    fn hyper_error<E: Into<crate::error::BoxError>>(&self, error: E) -> ProxyError {
        if let Some(failure) = self.progress.client_failure() {
            return failure.to_error();
        }
        ProxyError::UpstreamProtocol {
            endpoint: self.endpoint,
            source: error.into(),
        }
    }
}

/// `proxy-buffer-size`: the upstream's response head (status line and header lines, as nginx
/// reads them) must fit; otherwise "upstream sent too big header" (502).
pub(crate) fn check_head(
    response: &Response<Incoming>,
    endpoint: SocketAddr,
    limit: u64,
    transport: &Transport,
) -> Result<(), ProxyError> {
    if matches!(transport, Transport::H2 { .. }) || limit == 0 {
        return Ok(());
    }
    let reason = response.status().canonical_reason().unwrap_or("");
    let mut size = (b"HTTP/1.1 200 ".len() + reason.len() + 2) as u64;
    for (name, value) in response.headers() {
        size += (name.as_str().len() + 2 + value.len() + 2) as u64;
    }
    size += 2;
    if size > limit {
        return Err(ProxyError::HeaderTooBig {
            endpoint,
            size,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_method_body_and_conditions() {
        let mut policy = Policy::default();
        policy.retry.on.statuses.insert(502);
        let get = Attempts::new(
            &policy,
            &Method::GET,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert_eq!(get.tries, 3);
        assert!(get.retry_on_status(502));
        assert!(!get.retry_on_status(500));
        let post = Attempts::new(
            &policy,
            &Method::POST,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert!(!post.retry_on_status(502));
        let refused = ProxyError::Connect {
            endpoint: ([127, 0, 0, 1], 1).into(),
            source: "refused".into(),
        };
        assert!(post.retry_on_error(&refused));
        let broken = ProxyError::UpstreamProtocol {
            endpoint: ([127, 0, 0, 1], 1).into(),
            source: "reset".into(),
        };
        assert!(!post.retry_on_error(&broken));
        assert!(get.retry_on_error(&broken));
        policy.retry.on.non_idempotent = true;
        let post = Attempts::new(
            &policy,
            &Method::POST,
            2,
            &Prepared::Replayable(Bytes::new()),
        );
        assert!(post.retry_on_status(502));
        policy.retry.on = sluice_ingress_model::policy::NextUpstream::off();
        assert_eq!(
            Attempts::new(
                &policy,
                &Method::GET,
                2,
                &Prepared::Replayable(Bytes::new())
            )
            .tries,
            1
        );
    }
}
