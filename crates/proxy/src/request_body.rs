//! The client's request body before it goes upstream: `proxy-request-buffering: on` reads it
//! whole (up to `proxy-body-size`, else 413) before an upstream is contacted, which also makes
//! it replayable for retries; `off` (and gRPC, which nginx always streams) passes it through
//! as it arrives, still failing with 413 once it grows past the limit. `client-body-timeout`
//! bounds the wait between two reads either way (408).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use sluice_ingress_model::policy::RequestBody;

use crate::body::{Body, ClientFailure, Progress, Traffic, UpstreamRequestBody};
use crate::error::ProxyError;

/// The most a buffered body holds in memory when `proxy-body-size` is unlimited; the rest is
/// streamed (nginx would spill it to a temporary file).
pub(crate) const UNLIMITED_BUFFER: u64 = 8 << 20;

/// A request body ready to be sent.
pub(crate) enum Prepared {
    /// Read whole: can be sent again on a retry.
    Replayable(Bytes),
    /// Streams from the client: sent once.
    Streaming(Body),
}

/// Prepares `body` according to the route's body policy.
pub(crate) async fn prepare(
    body: Body,
    policy: &RequestBody,
    buffer: bool,
    idle: Duration,
    progress: &Arc<Progress>,
    traffic: &Arc<Traffic>,
) -> Result<Prepared, ProxyError> {
    if http_body::Body::is_end_stream(&body) {
        progress.finish_request();
        return Ok(Prepared::Replayable(Bytes::new()));
    }
    if !buffer {
        let streaming = UpstreamRequestBody::new(
            body,
            idle,
            progress.clone(),
            traffic.clone(),
            policy.max_bytes,
            0,
        );
        return Ok(Prepared::Streaming(Body::wrap(streaming)));
    }
    let cap = policy.max_bytes.unwrap_or(UNLIMITED_BUFFER);
    let mut collected = BytesMut::new();
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(ClientFailure::Timeout(idle).to_error()),
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(ProxyError::ClientBody {
                    reason: error.to_string(),
                });
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        traffic
            .received
            .fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        collected.extend_from_slice(&data);
        let seen = collected.len() as u64;
        if seen > cap {
            if let Some(limit) = policy.max_bytes {
                return Err(ProxyError::BodyTooLarge { limit });
            }
            // Unlimited: hand over what was read and stream the rest.
            let prefix = collected.freeze();
            let rest =
                UpstreamRequestBody::new(body, idle, progress.clone(), traffic.clone(), None, seen);
            let chained = http_body_util::StreamBody::new(futures_prefix(prefix, rest));
            return Ok(Prepared::Streaming(Body::wrap(chained)));
        }
    }
    progress.finish_request();
    Ok(Prepared::Replayable(collected.freeze()))
}

/// A stream of the prefix frame followed by the frames of `rest`.
fn futures_prefix(
    prefix: Bytes,
    rest: UpstreamRequestBody<Body>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, crate::error::BoxError>> + Send {
    use futures::StreamExt;
    let first = futures::stream::once(async move { Ok(Frame::data(prefix)) });
    first.chain(http_body_util::BodyStream::new(rest))
}
