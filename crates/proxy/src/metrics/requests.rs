//! The request metrics of ingress-nginx (`nginx_ingress_controller_requests`, the duration and
//! size histograms, the deprecated `ingress_upstream_latency_seconds`): recording on the
//! request path and encoding at scrape time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;

use super::histogram::{
    AtomicHistogram, BYTE, Histogram, LENGTH_BUCKETS, NANOSECOND, SIZE_BUCKETS, TIME_BUCKETS,
    TimeHistogram,
};
use super::labels::{LatencyLabels, RequestLabelSet, RouteLabels};

/// A length histogram over ingress-nginx's `--length-buckets`.
type LengthHistogram = AtomicHistogram<{ LENGTH_BUCKETS.len() }>;

/// The series of one full label set: one block of memory, counts included.
#[derive(Debug)]
pub struct RequestSeries {
    requests: AtomicU64,
    request_duration: TimeHistogram,
    response_duration: TimeHistogram,
    header_duration: TimeHistogram,
    connect_duration: TimeHistogram,
    request_size: LengthHistogram,
    response_size: LengthHistogram,
    bytes_sent: AtomicHistogram<{ SIZE_BUCKETS.len() }>,
}

/// What one finished request contributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observation {
    /// `$request_time`: seconds from the request head to the end of the response.
    pub request_time: f64,
    /// Upstream phases, when an upstream was contacted.
    pub upstream: Option<UpstreamTimes>,
    /// `$request_length`: request line, headers and body.
    pub request_bytes: u64,
    /// `$bytes_sent`: status line, headers and body.
    pub response_bytes: u64,
}

/// Upstream phase durations in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpstreamTimes {
    /// `$upstream_connect_time`.
    pub connect: f64,
    /// `$upstream_header_time`.
    pub header: Option<f64>,
    /// `$upstream_response_time`.
    pub response: f64,
}

/// The request metric families, in exposition order: name, help, type.
const FAMILIES: &[(&str, &str, MetricType)] = &[
    (
        "requests",
        "The total number of client requests",
        MetricType::Unknown,
    ),
    (
        "request_duration_seconds",
        "The request processing time in seconds",
        MetricType::Histogram,
    ),
    (
        "response_duration_seconds",
        "The time spent on receiving the response from the upstream server",
        MetricType::Histogram,
    ),
    (
        "header_duration_seconds",
        "The time spent on receiving first header from the upstream server",
        MetricType::Histogram,
    ),
    (
        "connect_duration_seconds",
        "The time spent on establishing a connection with the upstream server",
        MetricType::Histogram,
    ),
    (
        "request_size",
        "The request length (including request line, header, and request body)",
        MetricType::Histogram,
    ),
    (
        "response_size",
        "The response length (including request line, header, and request body)",
        MetricType::Histogram,
    ),
    (
        "bytes_sent",
        "DEPRECATED The number of bytes sent to a client",
        MetricType::Histogram,
    ),
];

impl RequestSeries {
    /// Empty series with ingress-nginx's default buckets.
    pub fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            request_duration: AtomicHistogram::new(TIME_BUCKETS, NANOSECOND),
            response_duration: AtomicHistogram::new(TIME_BUCKETS, NANOSECOND),
            header_duration: AtomicHistogram::new(TIME_BUCKETS, NANOSECOND),
            connect_duration: AtomicHistogram::new(TIME_BUCKETS, NANOSECOND),
            request_size: AtomicHistogram::new(LENGTH_BUCKETS, BYTE),
            response_size: AtomicHistogram::new(LENGTH_BUCKETS, BYTE),
            bytes_sent: AtomicHistogram::new(SIZE_BUCKETS, BYTE),
        }
    }

    /// Records one request.
    pub fn record(&self, o: &Observation) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.request_duration.observe(o.request_time);
        self.request_size.observe(o.request_bytes as f64);
        self.response_size.observe(o.response_bytes as f64);
        self.bytes_sent.observe(o.response_bytes as f64);
        if let Some(upstream) = &o.upstream {
            self.connect_duration.observe(upstream.connect);
            if let Some(header) = upstream.header {
                self.header_duration.observe(header);
            }
            self.response_duration.observe(upstream.response);
        }
    }

    /// How many requests were recorded.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn histogram(&self, family: usize) -> Option<&dyn Histogram> {
        match family {
            1 => Some(&self.request_duration),
            2 => Some(&self.response_duration),
            3 => Some(&self.header_duration),
            4 => Some(&self.connect_duration),
            5 => Some(&self.request_size),
            6 => Some(&self.response_size),
            7 => Some(&self.bytes_sent),
            _ => None,
        }
    }
}

impl Default for RequestSeries {
    fn default() -> Self {
        Self::new()
    }
}

/// How request label sets are written.
#[derive(Clone, Copy, Debug)]
pub struct LabelOptions {
    /// `--metrics-per-host`.
    pub per_host: bool,
    /// `--report-status-classes`.
    pub status_classes: bool,
}

/// Encodes every request family over `sets`. Series whose histogram never saw a value (the
/// upstream ones of requests answered without an upstream) are left out.
pub fn encode(
    encoder: &mut DescriptorEncoder,
    sets: &[Arc<RouteLabels>],
    latency: &[Arc<LatencyLabels>],
    options: LabelOptions,
) -> Result<(), std::fmt::Error> {
    let snapshots: Vec<_> = sets.iter().map(|s| (s, s.snapshot())).collect();
    for (family, (name, help, kind)) in FAMILIES.iter().enumerate() {
        let mut metric = encoder.encode_descriptor(name, help, None, *kind)?;
        for (labels, series) in &snapshots {
            for ((status, method), series) in series {
                let set = RequestLabelSet {
                    route: &labels.values,
                    status: *status,
                    method,
                    per_host: options.per_host,
                    status_classes: options.status_classes,
                };
                match series.histogram(family) {
                    None => metric
                        .encode_family(&set)?
                        .encode_gauge(&series.requests())?,
                    Some(histogram) if histogram.count() > 0 => {
                        histogram.encode(metric.encode_family(&set)?)?;
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut metric = encoder.encode_descriptor(
        "ingress_upstream_latency_seconds",
        "DEPRECATED Upstream service latency per Ingress (the upstream connect time)",
        None,
        MetricType::Histogram,
    )?;
    for labels in latency {
        if labels.histogram.count() > 0 {
            labels
                .histogram
                .encode(metric.encode_family(labels.as_ref())?)?;
        }
    }
    Ok(())
}
