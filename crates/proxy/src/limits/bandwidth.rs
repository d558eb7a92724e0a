//! `limit-rate` / `limit-rate-after` (nginx `limit_rate`, `limit_rate_after`): the response
//! body of one request goes out at full speed for its first `after` bytes, then at most `rate`
//! bytes per second on average. The body is delayed, never dropped, and nothing is buffered:
//! the wrapper only waits before handing on the next chunk.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::Body;
use crate::error::BoxError;

/// A response body sent at a limited rate.
pub struct Throttled {
    inner: Body,
    rate: u64,
    after: u64,
    sent: u64,
    started: Option<Instant>,
    wait: Option<Pin<Box<Sleep>>>,
}

impl Throttled {
    /// Wraps `inner`: `rate` bytes per second (0 = unlimited) after the first `after` bytes.
    pub fn wrap(inner: Body, rate: u64, after: u64) -> Body {
        if rate == 0 {
            return inner;
        }
        Body::wrap(Self {
            inner,
            rate,
            after,
            sent: 0,
            started: None,
            wait: None,
        })
    }

    /// How long to wait before the next chunk so that the bytes sent past `after` stay within
    /// `rate` per second since the limit started.
    fn delay(&self, now: Instant) -> Option<Duration> {
        let started = self.started?;
        let limited = self.sent.saturating_sub(self.after);
        let due = Duration::from_secs_f64(limited as f64 / self.rate as f64);
        let elapsed = now.saturating_duration_since(started);
        (due > elapsed).then(|| due - elapsed)
    }
}

impl http_body::Body for Throttled {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(wait) = &mut this.wait {
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.wait = None;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.sent += data.len() as u64;
            let now = Instant::now();
            if this.started.is_none() && this.sent > this.after {
                this.started = Some(now);
            }
            if let Some(delay) = this.delay(now).filter(|_| !this.inner.is_end_stream()) {
                this.wait = Some(Box::pin(tokio::time::sleep(delay)));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.wait.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// `n` data frames of `size` bytes each.
    struct Chunks {
        left: usize,
        size: usize,
    }

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            self.left -= 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
        }

        fn is_end_stream(&self) -> bool {
            self.left == 0
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_past_the_free_allowance_go_out_at_the_rate() {
        // 10 chunks of 1000 bytes, the first 2000 free, then 1000 bytes/s: the limit starts
        // with the third chunk, and the last one leaves once 7000 limited bytes are due, 7 s
        // later on the paused (virtual) clock; the end of the body is not delayed.
        let start = Instant::now();
        let body = Throttled::wrap(
            Body::wrap(Chunks {
                left: 10,
                size: 1000,
            }),
            1000,
            2000,
        );
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected.len(), 10_000);
        let elapsed = start.elapsed().as_secs_f64();
        assert!((elapsed - 7.0).abs() < 0.01, "{elapsed}");
        let unlimited = Throttled::wrap(Body::wrap(Chunks { left: 3, size: 10 }), 0, 0);
        assert_eq!(unlimited.collect().await.unwrap().to_bytes().len(), 30);
    }
}
