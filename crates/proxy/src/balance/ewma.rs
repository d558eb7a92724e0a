//! Peak EWMA of upstream latency per endpoint (ingress-nginx `load-balance: ewma`, after
//! Finagle's `PeakEwma`): a slower sample replaces the average at once, faster ones are mixed
//! in with weight `exp(-Δt/τ)`, and the average decays toward zero while an endpoint is idle
//! so it gets probed again. The score multiplies it by the requests in flight plus one, and
//! the balancer picks the better of two random endpoints (power of two choices).
//!
//! The state lives in the endpoint object, which survives endpoint updates and rebuilds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// ingress-nginx's `DECAY_TIME`.
pub const DECAY: Duration = Duration::from_secs(10);

/// Latency statistics of one endpoint.
#[derive(Debug, Default)]
pub struct Ewma {
    average: Mutex<Option<(f64, Instant)>>,
    in_flight: AtomicU32,
}

/// A request in flight to an endpoint; dropping it ends it.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Ewma {
    /// Marks a request as started.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Records a latency sample taken at `now`.
    pub fn observe(&self, sample: Duration, now: Instant) {
        let sample = sample.as_secs_f64() * 1000.0;
        let mut average = self.average.lock().unwrap_or_else(|p| p.into_inner());
        let next = match *average {
            Some((current, at)) if sample < current => {
                let weight = decay_weight(now.saturating_duration_since(at));
                current * weight + sample * (1.0 - weight)
            }
            // Peak: a slower sample (or the first) takes over at once.
            _ => sample,
        };
        *average = Some((next, now));
    }

    /// The decayed average latency in milliseconds at `now`, `None` before any sample.
    pub fn sampled_ms(&self, now: Instant) -> Option<f64> {
        let average = self.average.lock().unwrap_or_else(|p| p.into_inner());
        average.map(|(value, at)| value * decay_weight(now.saturating_duration_since(at)))
    }

    /// The decayed average latency in milliseconds at `now` (0 before any sample).
    #[cfg(test)]
    pub fn average_ms(&self, now: Instant) -> f64 {
        self.sampled_ms(now).unwrap_or(0.0)
    }

    /// The score the balancer minimises: decayed average × (requests in flight + 1). An
    /// endpoint without samples is scored with `unmeasured` (ingress-nginx starts new endpoints
    /// at the average of the others), so it is tried without being flooded.
    pub fn score(&self, now: Instant, unmeasured: f64) -> f64 {
        let pending = f64::from(self.in_flight.load(Ordering::Relaxed));
        let average = self.sampled_ms(now).unwrap_or(unmeasured);
        average.max(f64::EPSILON) * (pending + 1.0)
    }
}

fn decay_weight(elapsed: Duration) -> f64 {
    (-elapsed.as_secs_f64() / DECAY.as_secs_f64()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_take_over_and_fast_samples_mix_in() {
        let t0 = Instant::now();
        let e = Ewma::default();
        assert_eq!(e.average_ms(t0), 0.0);
        e.observe(Duration::from_millis(10), t0);
        assert!((e.average_ms(t0) - 10.0).abs() < 1e-9);
        e.observe(Duration::from_millis(100), t0);
        assert!((e.average_ms(t0) - 100.0).abs() < 1e-9, "peak");
        // A fast sample one decay time later: weight e^-1.
        let later = t0 + DECAY;
        e.observe(Duration::from_millis(0), later);
        let expected = 100.0 * (-1f64).exp();
        assert!((e.average_ms(later) - expected).abs() < 1e-6);
        // Idle: decays toward zero.
        assert!(e.average_ms(later + DECAY * 10) < 0.01);
    }

    #[test]
    fn in_flight_requests_raise_the_score() {
        let now = Instant::now();
        let e = Ewma::default();
        e.observe(Duration::from_millis(10), now);
        let idle = e.score(now, 0.0);
        let guard = e.start();
        assert!((e.score(now, 0.0) - 2.0 * idle).abs() < 1e-9);
        drop(guard);
        assert!((e.score(now, 0.0) - idle).abs() < 1e-9);
        let fresh = Ewma::default();
        assert!((fresh.score(now, 7.0) - 7.0).abs() < 1e-9);
    }
}
