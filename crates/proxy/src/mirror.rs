//! Request mirroring (`mirror-target`, `mirror-host`, `mirror-request-body`): a fire-and-forget
//! copy of each request of the route goes to the target (template expanded per request), its
//! response is read and discarded.
//!
//! Unlike nginx, whose `mirror` holds the original request until the copy is done, a copy here
//! can never slow down or fail the original:
//! - at most [`MAX_IN_FLIGHT`] copies are in flight per proxy; beyond that a copy is dropped
//!   (counted in [`MirrorStats::dropped`]);
//! - the request body is teed while it streams to the upstream, through a queue of at most
//!   [`MAX_QUEUED_BYTES`]; when the mirror reads slower than that, its copy is cut off (its
//!   request fails and counts as failed) while the original body keeps flowing;
//! - a copy gets the route's connect timeout and read timeout as its whole budget.
//!
//! Targets are `http://` or `https://` URLs ([`crate::outbound`]); other schemes count as
//! failed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderValue, Request, Uri};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use sluice_ingress_model::Action;
use tokio::sync::mpsc;

use crate::body::Body;
use crate::connector::Connector;
use crate::error::BoxError;
use crate::filter::RequestContext;
use crate::handle::Handle;
use crate::variables::Vars;

/// Mirror copies in flight at most, per proxy.
pub const MAX_IN_FLIGHT: usize = 256;
/// Request-body bytes queued for one copy at most.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// Body chunks queued for one copy at most.
const QUEUE_CHUNKS: usize = 64;

/// Counters of the mirrored copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorStats {
    /// Copies sent.
    pub started: u64,
    /// Copies answered by the mirror (any status).
    pub completed: u64,
    /// Copies that failed (refused, timed out, body cut off, unsupported target).
    pub failed: u64,
    /// Copies not sent because too many were in flight.
    pub dropped: u64,
}

/// The mirroring of one proxy: client, in-flight cap and counters.
pub(crate) struct Mirrors {
    client: Client<Connector, Body>,
    in_flight: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Default for Mirrors {
    fn default() -> Self {
        Self {
            client: crate::outbound::client(32),
            in_flight: Arc::default(),
            counters: Arc::default(),
        }
    }
}

impl Mirrors {
    /// Starts a copy of the request when its route mirrors, and returns the body to forward
    /// (teed when the copy carries the body).
    pub fn tap(&self, ctx: &RequestContext, parts: &http::request::Parts, body: Body) -> Body {
        let Some(route) = &ctx.route else {
            return body;
        };
        let Some(mirror) = &route.policy.mirror else {
            return body;
        };
        if !matches!(route.action, Action::Forward(_)) {
            return body;
        }
        let target = Vars::new(ctx, parts).expand(&mirror.target);
        let uri = match target.parse::<Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.authority().is_some() =>
            {
                uri
            }
            _ => {
                tracing::debug!(%target, "mirror target is not an http:// or https:// URL");
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                return body;
            }
        };
        let admitted = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IN_FLIGHT).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return body;
        }
        let mut head = Request::builder()
            .method(parts.method.clone())
            .uri(uri.clone())
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| parts.clone());
        head.headers = parts.headers.clone();
        crate::forward::strip_hop_by_hop(&mut head.headers, false);
        let host = mirror
            .host
            .clone()
            .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
            .and_then(|h| HeaderValue::from_str(&h).ok());
        if let Some(host) = host {
            head.headers.insert(HOST, host);
        }
        let with_body = mirror.request_body && !http_body::Body::is_end_stream(&body);
        let (forwarded, copy_body) = if with_body {
            let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
            let queued = Arc::new(AtomicUsize::new(0));
            let tee = Tee {
                inner: body,
                tx: Some(tx),
                queued: Arc::clone(&queued),
            };
            (Body::wrap(tee), Body::wrap(Copy { rx, queued }))
        } else {
            head.headers.remove(CONTENT_LENGTH);
            head.headers.remove(TRANSFER_ENCODING);
            (body, Body::empty())
        };
        let budget = Duration::from_millis(
            route
                .policy
                .timeouts
                .connect_ms
                .saturating_add(route.policy.timeouts.read_ms),
        );
        let request = Request::from_parts(head, copy_body);
        let client = self.client.clone();
        let counters = Arc::clone(&self.counters);
        let slot = Slot(Arc::clone(&self.in_flight));
        counters.started.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _slot = slot;
            let exchange = async {
                let response = client.request(request).await?;
                response.into_body().collect().await?;
                Ok::<(), BoxError>(())
            };
            match tokio::time::timeout(budget, exchange).await {
                Ok(Ok(())) => counters.completed.fetch_add(1, Ordering::Relaxed),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "mirror request failed");
                    counters.failed.fetch_add(1, Ordering::Relaxed)
                }
                Err(_) => {
                    tracing::debug!(?budget, "mirror request timed out");
                    counters.failed.fetch_add(1, Ordering::Relaxed)
                }
            };
        });
        forwarded
    }

    fn stats(&self) -> MirrorStats {
        MirrorStats {
            started: self.counters.started.load(Ordering::Relaxed),
            completed: self.counters.completed.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Handle {
    /// Counters of mirrored request copies.
    pub fn mirror_stats(&self) -> MirrorStats {
        self.shared().mirror.stats()
    }
}

/// An in-flight slot, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The original body, copying each data chunk to the mirror's queue without ever waiting.
struct Tee {
    inner: Body,
    tx: Option<mpsc::Sender<Result<Bytes, ()>>>,
    queued: Arc<AtomicUsize>,
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(tx)) = (frame.data_ref(), &this.tx) {
                    let queued = this.queued.load(Ordering::Acquire);
                    let fits = queued + data.len() <= MAX_QUEUED_BYTES;
                    if fits && tx.try_send(Ok(data.clone())).is_ok() {
                        this.queued.fetch_add(data.len(), Ordering::AcqRel);
                    } else {
                        // The mirror is too slow (or gone): cut its copy off.
                        let _ = tx.try_send(Err(()));
                        this.tx = None;
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(tx) = this.tx.take() {
                    let _ = tx.try_send(Err(()));
                }
            }
            // The end: dropping the sender ends the copy's body.
            Poll::Ready(None) => this.tx = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The mirror's copy of the body, fed by a [`Tee`].
struct Copy {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    queued: Arc<AtomicUsize>,
}

impl http_body::Body for Copy {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(data))) => {
                self.queued.fetch_sub(data.len(), Ordering::AcqRel);
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(()))) => Poll::Ready(Some(Err(
                "mirror copy of the request body was cut off".into(),
            ))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
