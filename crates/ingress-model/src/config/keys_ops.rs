//! ConfigMap keys of the operational sections: logging (§2.6), compression (§2.7), admission
//! (§2.8), stream proxy (§2.9), nginx-internal (§2.10) and snippets (§2.11).

use super::super::KeyGroup::{Admission, Compression, Internal, Logging, Snippet, Stream};
use super::super::KeySpec;
use super::{ann, g, ignored, paths};
use crate::annotations::Status::{self, Exact, NoEffect, Partial, Refused};
use crate::annotations::Tier::{Refuse, T1, T2, T3};
use crate::policy::{LogEscape, RiskLevel};
use crate::values::{boolean, list, ranged, uint32};

/// §2.6.
pub(super) const LOGGING: &[KeySpec] = &[
    g("log-format-upstream", Logging, T1, Exact, |v, c| {
        c.settings.access_log.format = v.to_owned();
        Ok(())
    }),
    g("log-format-escape-json", Logging, T2, Exact, |v, c| {
        if boolean(v)? {
            c.settings.access_log.escape = LogEscape::Json;
        }
        Ok(())
    }),
    g("log-format-escape-none", Logging, T2, Exact, |v, c| {
        if boolean(v)? && c.settings.access_log.escape != LogEscape::Json {
            c.settings.access_log.escape = LogEscape::None;
        }
        Ok(())
    }),
    ignored("log-format-stream", Logging, T3, NO_STREAM),
    g("disable-access-log", Logging, T2, Exact, |v, c| {
        c.settings.access_log.enabled &= !boolean(v)?;
        Ok(())
    }),
    g("disable-http-access-log", Logging, T3, Exact, |v, c| {
        c.settings.access_log.enabled &= !boolean(v)?;
        Ok(())
    }),
    ignored("disable-stream-access-log", Logging, T3, NO_STREAM),
    g("skip-access-log-urls", Logging, T2, Exact, |v, c| {
        c.settings.access_log.skip_urls = paths(v)?;
        Ok(())
    }),
    g(
        "enable-access-log-for-default-backend",
        Logging,
        T3,
        Exact,
        |v, c| {
            c.settings.access_log.default_backend = boolean(v)?;
            Ok(())
        },
    ),
    ignored("access-log-path", Logging, T3, TO_STDOUT),
    ignored("http-access-log-path", Logging, T3, TO_STDOUT),
    ignored("stream-access-log-path", Logging, T3, TO_STDOUT),
    ignored("access-log-params", Logging, T3, TO_STDOUT),
    ignored(
        "enable-auth-access-log",
        Logging,
        T3,
        NoEffect("auth subrequests are not logged separately"),
    ),
    ignored(
        "error-log-level",
        Logging,
        T3,
        NoEffect("the proxy's log level is set by its own flag"),
    ),
    ignored("error-log-path", Logging, T3, TO_STDOUT),
    ignored("enable-syslog", Logging, T3, NO_SYSLOG),
    ignored("syslog-host", Logging, T3, NO_SYSLOG),
    ignored("syslog-port", Logging, T3, NO_SYSLOG),
    ann("enable-opentelemetry", Logging, T3, "enable-opentelemetry").with(NO_OTEL),
    ann(
        "opentelemetry-trust-incoming-span",
        Logging,
        T3,
        "opentelemetry-trust-incoming-span",
    )
    .with(NO_OTEL),
    ann(
        "opentelemetry-operation-name",
        Logging,
        T3,
        "opentelemetry-operation-name",
    )
    .with(NO_OTEL),
    ignored("opentelemetry-config", Logging, T3, NO_OTEL),
    ignored("otlp-collector-host", Logging, T3, NO_OTEL),
    ignored("otlp-collector-port", Logging, T3, NO_OTEL),
    ignored("otel-service-name", Logging, T3, NO_OTEL),
    ignored("otel-sampler", Logging, T3, NO_OTEL),
    ignored("otel-sampler-ratio", Logging, T3, NO_OTEL),
    ignored("otel-sampler-parent-based", Logging, T3, NO_OTEL),
    ignored("otel-max-queuesize", Logging, T3, NO_OTEL),
    ignored("otel-schedule-delay-millis", Logging, T3, NO_OTEL),
    ignored("otel-max-export-batch-size", Logging, T3, NO_OTEL),
];

const NO_STREAM: Status = NoEffect("sluice has no TCP/UDP stream proxy yet");
const TO_STDOUT: Status = NoEffect("logs go to standard output");
const NO_SYSLOG: Status = NoEffect("sluice has no syslog output");
const NO_OTEL: Status = NoEffect("sluice does not export OpenTelemetry traces yet");

/// §2.7.
pub(super) const COMPRESSION: &[KeySpec] = &[
    g("use-gzip", Compression, T2, Exact, |v, c| {
        c.settings.compression.gzip = boolean(v)?;
        Ok(())
    }),
    g("gzip-level", Compression, T3, Exact, |v, c| {
        c.settings.compression.gzip_level = small(v, 1, 9)?;
        Ok(())
    }),
    g("gzip-min-length", Compression, T3, Exact, |v, c| {
        c.settings.compression.gzip_min_length = crate::values::uint(v)?;
        Ok(())
    }),
    g("gzip-types", Compression, T3, Exact, |v, c| {
        c.settings.compression.gzip_types = mime_types(v)?;
        Ok(())
    }),
    g(
        "gzip-disable",
        Compression,
        T3,
        Partial("user-agent regexes use Rust regex syntax"),
        |v, c| {
            c.settings.compression.gzip_disable = v.split_whitespace().map(str::to_owned).collect();
            Ok(())
        },
    ),
    g("enable-brotli", Compression, T3, Exact, |v, c| {
        c.settings.compression.brotli = boolean(v)?;
        Ok(())
    }),
    g("brotli-level", Compression, T3, Exact, |v, c| {
        c.settings.compression.brotli_level = small(v, 0, 11)?;
        Ok(())
    }),
    g("brotli-min-length", Compression, T3, Exact, |v, c| {
        c.settings.compression.brotli_min_length = crate::values::uint(v)?;
        Ok(())
    }),
    g("brotli-types", Compression, T3, Exact, |v, c| {
        c.settings.compression.brotli_types = mime_types(v)?;
        Ok(())
    }),
];

/// §2.8.
pub(super) const ADMISSION: &[KeySpec] = &[
    g(
        "allow-snippet-annotations",
        Admission,
        T1,
        Partial(
            "snippets are never applied; the snippet policy flag decides whether their Ingress is rejected or served without them",
        ),
        |v, c| {
            c.settings.admission.allow_snippet_annotations = boolean(v)?;
            Ok(())
        },
    ),
    g("annotations-risk-level", Admission, T2, Exact, |v, c| {
        c.settings.admission.risk_level = match v.trim() {
            "Low" => RiskLevel::Low,
            "Medium" => RiskLevel::Medium,
            "High" => RiskLevel::High,
            "Critical" => RiskLevel::Critical,
            _ => return Err("expected Low, Medium, High or Critical".into()),
        };
        Ok(())
    }),
    g(
        "annotation-value-word-blocklist",
        Admission,
        T3,
        Exact,
        |v, c| {
            c.settings.admission.word_blocklist = list(v);
            Ok(())
        },
    ),
    g(
        "allow-cross-namespace-resources",
        Admission,
        T2,
        Exact,
        |v, c| {
            c.settings.admission.allow_cross_namespace = boolean(v)?;
            Ok(())
        },
    ),
    g("strict-validate-path-type", Admission, T1, Exact, |v, c| {
        c.settings.admission.strict_path_type = boolean(v)?;
        Ok(())
    }),
];

/// §2.9.
pub(super) const STREAM: &[KeySpec] = &[
    ignored("proxy-stream-timeout", Stream, T3, NO_STREAM),
    ignored("proxy-stream-next-upstream", Stream, T3, NO_STREAM),
    ignored("proxy-stream-next-upstream-timeout", Stream, T3, NO_STREAM),
    ignored("proxy-stream-next-upstream-tries", Stream, T3, NO_STREAM),
    ignored("proxy-stream-responses", Stream, T3, NO_STREAM),
];

const NGINX: Status = NoEffect("nginx-internal tuning");
const NO_GEOIP: Status = NoEffect("GeoIP is not available in sluice");
const GONE: Status = NoEffect("removed from ingress-nginx");

/// §2.10.
pub(super) const INTERNAL: &[KeySpec] = &[
    g("worker-processes", Internal, T3, Exact, |v, c| {
        c.settings.worker_processes = match v.trim() {
            "auto" | "" => None,
            text => match crate::values::uint(text) {
                Ok(n) if n > 0 => Some(usize::try_from(n).map_err(|_| "too large")?),
                _ => return Err("expected \"auto\" or a positive integer".into()),
            },
        };
        Ok(())
    }),
    g(
        "max-worker-connections",
        Internal,
        T3,
        NoEffect("client connections are not capped yet"),
        |v, c| {
            c.settings.max_connections = Some(uint32(v)?).filter(|n| *n != 0);
            Ok(())
        },
    ),
    ignored("worker-cpu-affinity", Internal, T3, NGINX),
    ignored("max-worker-open-files", Internal, T3, NGINX),
    ignored("enable-multi-accept", Internal, T3, NGINX),
    ignored("enable-aio-write", Internal, T3, NGINX),
    ignored(
        "enable-serial-reloads",
        Internal,
        T3,
        NoEffect("sluice never reloads"),
    ),
    ignored("map-hash-bucket-size", Internal, T3, NGINX),
    ignored("server-name-hash-max-size", Internal, T3, NGINX),
    ignored("server-name-hash-bucket-size", Internal, T3, NGINX),
    ignored("proxy-headers-hash-max-size", Internal, T3, NGINX),
    ignored("proxy-headers-hash-bucket-size", Internal, T3, NGINX),
    ignored("variables-hash-bucket-size", Internal, T3, NGINX),
    ignored("variables-hash-max-size", Internal, T3, NGINX),
    ignored("lua-shared-dicts", Internal, T3, NGINX),
    ignored(
        "plugins",
        Internal,
        T3,
        NoEffect("Lua plugins do not exist in sluice"),
    ),
    ignored("nginx-status-ipv4-whitelist", Internal, T3, NGINX),
    ignored("nginx-status-ipv6-whitelist", Internal, T3, NGINX),
    ignored("debug-connections", Internal, T3, NGINX),
    ignored("disable-ipv6-dns", Internal, T3, NGINX),
    ignored("use-geoip", Internal, T3, NO_GEOIP),
    ignored("use-geoip2", Internal, T3, NO_GEOIP),
    ignored("geoip2-autoreload-in-minutes", Internal, T3, NO_GEOIP),
    ignored(
        "http2-max-field-size",
        Internal,
        T3,
        NoEffect("deprecated in nginx; see large-client-header-buffers"),
    ),
    ignored(
        "http2-max-header-size",
        Internal,
        T3,
        NoEffect("deprecated in nginx; see large-client-header-buffers"),
    ),
    ignored(
        "http2-max-requests",
        Internal,
        T3,
        NoEffect("deprecated in nginx; see keep-alive-requests"),
    ),
    ignored(
        "enable-modsecurity",
        Internal,
        T3,
        NoEffect("ModSecurity is not available in sluice"),
    ),
    ignored(
        "enable-owasp-modsecurity-crs",
        Internal,
        T3,
        NoEffect("ModSecurity is not available in sluice"),
    ),
    ignored("enable-opentracing", Internal, T3, GONE),
    ignored("jaeger-collector-host", Internal, T3, GONE),
    ignored("jaeger-collector-port", Internal, T3, GONE),
    ignored("jaeger-endpoint", Internal, T3, GONE),
    ignored("jaeger-service-name", Internal, T3, GONE),
    ignored("jaeger-propagation-format", Internal, T3, GONE),
    ignored("jaeger-sampler-type", Internal, T3, GONE),
    ignored("jaeger-sampler-param", Internal, T3, GONE),
    ignored("jaeger-sampler-host", Internal, T3, GONE),
    ignored("jaeger-sampler-port", Internal, T3, GONE),
    ignored("jaeger-trace-context-header-name", Internal, T3, GONE),
    ignored("jaeger-debug-header", Internal, T3, GONE),
    ignored("jaeger-baggage-header", Internal, T3, GONE),
    ignored("jaeger-tracer-baggage-header-prefix", Internal, T3, GONE),
    ignored("opentracing-operation-name", Internal, T3, GONE),
    ignored("opentracing-location-operation-name", Internal, T3, GONE),
    ignored("opentracing-trust-incoming-span", Internal, T3, GONE),
    ignored("zipkin-collector-host", Internal, T3, GONE),
    ignored("zipkin-collector-port", Internal, T3, GONE),
    ignored("zipkin-service-name", Internal, T3, GONE),
    ignored("zipkin-sample-rate", Internal, T3, GONE),
    ignored("datadog-collector-host", Internal, T3, GONE),
    ignored("datadog-collector-port", Internal, T3, GONE),
    ignored("datadog-service-name", Internal, T3, GONE),
    ignored("datadog-environment", Internal, T3, GONE),
    ignored("datadog-operation-name-override", Internal, T3, GONE),
    ignored("datadog-priority-sampling", Internal, T3, GONE),
    ignored("datadog-sample-rate", Internal, T3, GONE),
    ignored("enable-vts-status", Internal, T3, GONE),
    ignored("vts-status-zone-size", Internal, T3, GONE),
    ignored("vts-default-filter-key", Internal, T3, GONE),
    ignored("vts-sum-key", Internal, T3, GONE),
    ignored("enable-dynamic-certificates", Internal, T3, GONE),
    ignored("upstream-max-fails", Internal, T3, GONE),
    ignored("upstream-fail-timeout", Internal, T3, GONE),
    ignored("global-rate-limit-memcached-host", Internal, T3, GONE),
    ignored("global-rate-limit-memcached-port", Internal, T3, GONE),
    ignored(
        "global-rate-limit-memcached-connect-timeout",
        Internal,
        T3,
        GONE,
    ),
    ignored(
        "global-rate-limit-memcached-max-idle-timeout",
        Internal,
        T3,
        GONE,
    ),
    ignored("global-rate-limit-memcached-pool-size", Internal, T3, GONE),
    ignored("global-rate-limit-status-code", Internal, T3, GONE),
];

const RAW: Status = Refused("raw nginx configuration is never applied");

/// §2.11.
pub(super) const SNIPPETS: &[KeySpec] = &[
    ignored("main-snippet", Snippet, Refuse, RAW),
    ignored("http-snippet", Snippet, Refuse, RAW),
    ignored("server-snippet", Snippet, Refuse, RAW),
    ignored("location-snippet", Snippet, Refuse, RAW),
    ignored("stream-snippet", Snippet, Refuse, RAW),
    ignored("modsecurity-snippet", Snippet, Refuse, RAW),
];

fn small(value: &str, min: u64, max: u64) -> Result<u32, String> {
    let n = ranged(value, min, max)?;
    u32::try_from(n).map_err(|_| "out of range".into())
}

fn mime_types(value: &str) -> Result<Vec<String>, String> {
    value
        .split_whitespace()
        .map(|t| {
            if t == "*" || (t.contains('/') && !t.contains([';', '"', '{', '}'])) {
                Ok(t.to_owned())
            } else {
                Err(format!("{t:?} is not a MIME type"))
            }
        })
        .collect()
}
