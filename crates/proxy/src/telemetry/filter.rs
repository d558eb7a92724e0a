//! The telemetry filter: captures the request head, keeps or starts the trace context, and
//! records metrics and the access-log line when the response is done.

use std::time::{Instant, SystemTime};

use http::header::{AUTHORIZATION, REFERER, USER_AGENT};
use http::{HeaderMap, HeaderValue};

use super::Telemetry;
use super::trace::{TRACEPARENT, TraceContext};
use crate::access_log::Entry;
use crate::filter::{Filter, Flow, Mark, RequestContext};
use crate::metrics::labels::method_label;
use crate::metrics::{Metrics, Observation, RequestRecord, UpstreamTimes};

const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

/// Installed first by [`ProxyBuilder::telemetry`](crate::ProxyBuilder::telemetry).
pub(crate) struct TelemetryFilter {
    pub telemetry: Telemetry,
}

impl Filter for TelemetryFilter {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let inner = &self.telemetry.inner;
        let (tracing, trust_incoming) = ctx.route.as_ref().map_or((false, true), |r| {
            let logging = &r.policy.logging;
            (logging.opentelemetry, logging.trust_incoming_span)
        });
        let observed = &mut ctx.observed;
        if let Some(connections) = inner.connections.get() {
            observed.in_flight = Some(connections.request());
        }
        observed.head_bytes = request_head_bytes(req);
        let headers = &req.headers;
        // What only the access log reads; without a log output (`--access-log=false`, fixed for
        // the process) nothing would.
        if inner.access_log.is_active() {
            observed.referer = headers.get(REFERER).cloned();
            observed.user_agent = headers.get(USER_AGENT).cloned();
            observed.authorization = headers
                .get(AUTHORIZATION)
                .filter(|v| {
                    v.as_bytes()
                        .get(..6)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"basic "))
                })
                .cloned();
            let log = inner.access_log.config();
            let captured = log.captured_headers();
            if !captured.is_empty() {
                observed.headers = captured.iter().map(|n| headers.get(n).cloned()).collect();
            }
            observed.log = Some(log);
        }
        let incoming = headers.get(TRACEPARENT).and_then(TraceContext::parse);
        observed.trace = match incoming {
            Some(trace) if trust_incoming || !tracing => Some(trace),
            _ if tracing => {
                let trace = TraceContext::start();
                req.headers.insert(TRACEPARENT, trace.header_value());
                req.headers.remove(TRACESTATE);
                Some(trace)
            }
            _ => None,
        };
        Flow::Continue
    }

    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let reason = res.status.canonical_reason().map_or(0, str::len);
        // "HTTP/1.1 200 " + reason + CRLF, the headers, the final CRLF.
        ctx.observed.response_head_bytes = (13 + reason + 2) as u64 + headers_bytes(&res.headers);
    }

    fn logging(&self, ctx: &RequestContext) {
        let end = Instant::now();
        let inner = &self.telemetry.inner;
        let observed = &ctx.observed;
        let logging = inner.access_log.is_active();
        let entry = Entry {
            ctx,
            end,
            stamp: logging.then(|| inner.access_log.clock().stamp(SystemTime::now())),
            request_bytes: observed.head_bytes + ctx.bytes_received(),
            bytes_sent: observed.response_head_bytes + ctx.bytes_sent(),
        };
        let timing = &ctx.upstream_timing;
        let upstream = match (timing.start, timing.connected) {
            (Some(start), Some(connected)) if ctx.attempts > 0 => Some(UpstreamTimes {
                connect: connected.saturating_duration_since(start).as_secs_f64(),
                header: entry.upstream_header_time(),
                response: end.saturating_duration_since(start).as_secs_f64(),
            }),
            _ => None,
        };
        let metrics = &inner.metrics;
        if metrics.records_requests() {
            record_metrics(metrics, ctx, &entry, upstream);
        }
        if logging {
            let config = match &observed.log {
                Some(config) => config.clone(),
                None => inner.access_log.config(),
            };
            inner.access_log.log(&entry, &config);
        }
    }
}

/// The request's series: the request itself, its refusals and its retries.
fn record_metrics(
    metrics: &Metrics,
    ctx: &RequestContext,
    entry: &Entry<'_>,
    upstream: Option<UpstreamTimes>,
) {
    metrics.record(&RequestRecord {
        host: &ctx.host,
        route: ctx.route.as_deref(),
        upstream: ctx.upstream.as_ref(),
        status: ctx.status.map_or(0, |s| s.as_u16()),
        method: method_label(&ctx.method),
        observation: Observation {
            request_time: entry.request_time(),
            upstream,
            request_bytes: entry.request_bytes,
            response_bytes: entry.bytes_sent,
        },
    });
    for mark in Mark::ALL {
        if ctx.is_marked(mark) {
            metrics.rejected(ctx.origin(), mark.reason());
        }
    }
    if ctx.attempts > 1
        && let Some(upstream) = &ctx.upstream
    {
        metrics.retried(upstream, ctx.attempts - 1);
    }
}

/// Request line, headers and the blank line, as HTTP/1.1 would send them.
fn request_head_bytes(req: &http::request::Parts) -> u64 {
    let target = req.uri.path_and_query().map_or(1, |pq| pq.as_str().len());
    // "METHOD target HTTP/1.1\r\n"
    (req.method.as_str().len() + 1 + target + 1 + 8 + 2) as u64 + headers_bytes(&req.headers)
}

/// `name: value\r\n` for every header, plus the final `\r\n`.
fn headers_bytes(headers: &HeaderMap<HeaderValue>) -> u64 {
    let lines: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    (lines + 2) as u64
}
