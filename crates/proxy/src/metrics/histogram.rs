//! A lock-free histogram for the request path: one atomic per bucket and an atomic `f64` sum,
//! encoded through prometheus-client at scrape time. prometheus-client's own `Histogram` takes a
//! mutex per observation; request metrics are updated on every request from every worker.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Prometheus' default buckets (`DefBuckets`), ingress-nginx's `--time-buckets` default.
pub const TIME_BUCKETS: &[f64; 11] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// ingress-nginx's `--length-buckets` default: `LinearBuckets(10, 10, 10)`.
pub const LENGTH_BUCKETS: &[f64; 10] =
    &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];

/// ingress-nginx's `--size-buckets` default: `ExponentialBuckets(10, 10, 7)`.
pub const SIZE_BUCKETS: &[f64; 7] = &[10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];

/// Buckets of the table build and swap histograms (seconds, 100 µs to 10 s).
pub const APPLY_BUCKETS: &[f64; 16] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A histogram over `N` fixed upper bounds and the implicit `+Inf` one. The counts live inside
/// the value (no allocation of their own), so the series of one label set are one block of
/// memory. The sum is kept as an integer count of `unit`s (nanoseconds for durations, bytes for
/// sizes), so an observation is two atomic adds and no compare-and-swap loop.
#[derive(Debug)]
pub struct AtomicHistogram<const N: usize> {
    bounds: &'static [f64; N],
    /// Per-bucket (not cumulative) counts of the bounded buckets.
    counts: [AtomicU64; N],
    /// The count of the `+Inf` bucket.
    above: AtomicU64,
    sum_units: AtomicU64,
    unit: f64,
}

/// A histogram of any bucket count, as the exposition reads it.
pub trait Histogram: EncodeMetric {
    /// How many values were recorded.
    fn count(&self) -> u64;
}

/// A duration histogram over ingress-nginx's `--time-buckets`.
pub type TimeHistogram = AtomicHistogram<{ TIME_BUCKETS.len() }>;

/// The sum unit of duration histograms: one nanosecond.
pub const NANOSECOND: f64 = 1e-9;

/// The sum unit of size histograms: one byte.
pub const BYTE: f64 = 1.0;

impl<const N: usize> AtomicHistogram<N> {
    /// An empty histogram over `bounds` (ascending) whose sum counts `unit`s.
    pub fn new(bounds: &'static [f64; N], unit: f64) -> Self {
        Self {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            above: AtomicU64::new(0),
            sum_units: AtomicU64::new(0),
            unit,
        }
    }

    /// Records one value (negative values count as zero).
    pub fn observe(&self, value: f64) {
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.counts
            .get(index)
            .unwrap_or(&self.above)
            .fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int cast; sub-unit remainders are rounded.
        let units = (value.max(0.0) / self.unit).round() as u64;
        self.sum_units.fetch_add(units, Ordering::Relaxed);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .chain(std::iter::once(&self.above))
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The sum of the recorded values.
    pub fn sum(&self) -> f64 {
        self.sum_units.load(Ordering::Relaxed) as f64 * self.unit
    }

    fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(
                self.counts
                    .iter()
                    .chain(std::iter::once(&self.above))
                    .map(|c| c.load(Ordering::Relaxed)),
            )
            .collect()
    }
}

impl<const N: usize> Histogram for AtomicHistogram<N> {
    fn count(&self) -> u64 {
        AtomicHistogram::count(self)
    }
}

impl<const N: usize> EncodeMetric for AtomicHistogram<N> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = self.buckets();
        let count = buckets.iter().map(|(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum(), count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_at_or_above_them() {
        let h = AtomicHistogram::new(&[1.0, 2.0], NANOSECOND);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.observe(v);
        }
        let counts: Vec<u64> = h.buckets().iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, [2, 2, 1]);
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 8.0).abs() < 1e-9);
        let bytes = AtomicHistogram::new(SIZE_BUCKETS, BYTE);
        bytes.observe(1500.0);
        bytes.observe(25.0);
        assert_eq!(bytes.sum(), 1525.0);
    }
}
