//! The ConfigMap key registry (§2 of the inventory), one table per section.

use super::KeyGroup::{
    Access, Admission, Client, Compression, Forwarded, Internal, Logging, Snippet, Stream, Tls,
    Upstream,
};
use super::{ConfigDraft, KeyGroup, KeyParse, KeySpec, map_ciphers, map_curves, map_protocols};
use crate::annotations::Status::{self, Exact, NoEffect, Partial, Refused};
use crate::annotations::Tier::{self, Refuse, T1, T2, T3};
use crate::policy::{LogEscape, RiskLevel};
use crate::template::Allow;
use crate::values::{
    boolean, cidrs, duration_ms, header_name, header_names, list, path_template, ranged, safe_text,
    size, uint32, url_path, url_template,
};

/// Every section, in documentation order.
pub(super) const ALL: &[&[KeySpec]] = &[
    CLIENT,
    UPSTREAM,
    FORWARDED,
    TLS,
    ACCESS,
    LOGGING,
    COMPRESSION,
    ADMISSION,
    STREAM,
    INTERNAL,
    SNIPPETS,
];

const fn g(
    name: &'static str,
    group: KeyGroup,
    tier: Tier,
    status: Status,
    parse: fn(&str, &mut ConfigDraft) -> Result<(), String>,
) -> KeySpec {
    KeySpec {
        name,
        group,
        tier,
        status,
        parse: KeyParse::Global(parse),
    }
}

const fn ann(name: &'static str, group: KeyGroup, tier: Tier, annotation: &'static str) -> KeySpec {
    KeySpec {
        name,
        group,
        tier,
        status: Exact,
        parse: KeyParse::Annotation(annotation),
    }
}

const fn ignored(name: &'static str, group: KeyGroup, tier: Tier, status: Status) -> KeySpec {
    KeySpec {
        name,
        group,
        tier,
        status,
        parse: KeyParse::Ignored,
    }
}

impl KeySpec {
    /// Overrides the status (for keys sharing an annotation parser).
    const fn with(mut self, status: Status) -> Self {
        self.status = status;
        self
    }
}

/// §2.1.
const CLIENT: &[KeySpec] = &[
    g("keep-alive", Client, T1, Exact, |v, c| {
        c.settings.client.keepalive_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
    g("keep-alive-requests", Client, T2, Exact, |v, c| {
        c.settings.client.keepalive_requests = uint32(v)?;
        Ok(())
    }),
    g("use-http2", Client, T1, Exact, |v, c| {
        c.settings.client.http2 = boolean(v)?;
        Ok(())
    }),
    g("http2-max-concurrent-streams", Client, T3, Exact, |v, c| {
        c.settings.client.http2_max_concurrent_streams = uint32(v)?;
        Ok(())
    }),
    g("client-header-timeout", Client, T2, Exact, |v, c| {
        c.settings.client.header_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
    g("client-body-timeout", Client, T2, Exact, |v, c| {
        c.settings.client.body_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
    g(
        "client-header-buffer-size",
        Client,
        T3,
        Partial("a read-buffer hint; the limits are large-client-header-buffers"),
        |v, c| {
            c.settings.client.header_buffer_bytes = size(v)?;
            Ok(())
        },
    ),
    g("large-client-header-buffers", Client, T2, Exact, |v, c| {
        let words: Vec<&str> = v.split_whitespace().collect();
        let [count, each] = words.as_slice() else {
            return Err("expected \"<number> <size>\", e.g. \"4 8k\"".into());
        };
        c.settings.client.large_header_buffers = uint32(count)?;
        c.settings.client.large_header_buffer_bytes = size(each)?;
        Ok(())
    }),
    g(
        "enable-underscores-in-headers",
        Client,
        T2,
        Exact,
        |v, c| {
            c.settings.client.underscores_in_headers = boolean(v)?;
            Ok(())
        },
    ),
    g("ignore-invalid-headers", Client, T3, Exact, |v, c| {
        c.settings.client.ignore_invalid_headers = boolean(v)?;
        Ok(())
    }),
    g("use-proxy-protocol", Client, T1, Exact, |v, c| {
        c.settings.client.proxy_protocol = boolean(v)?;
        Ok(())
    }),
    g(
        "proxy-protocol-header-timeout",
        Client,
        T3,
        Exact,
        |v, c| {
            c.settings.client.proxy_protocol_timeout_ms = duration_ms(v)?;
            Ok(())
        },
    ),
    g("bind-address", Client, T3, Exact, bind),
    g("bind-address-ipv4", Client, T3, Exact, bind),
    g("bind-address-ipv6", Client, T3, Exact, bind),
    g("disable-ipv6", Client, T3, Exact, |v, c| {
        c.settings.client.disable_ipv6 = boolean(v)?;
        Ok(())
    }),
    g("reuse-port", Client, T3, Exact, |v, c| {
        c.settings.client.reuse_port = boolean(v)?;
        Ok(())
    }),
    g("server-tokens", Client, T3, Exact, |v, c| {
        c.settings.client.server_tokens = boolean(v)?;
        Ok(())
    }),
    g("default-type", Client, T3, Exact, |v, c| {
        c.settings.client.default_type = safe_text(v)?;
        Ok(())
    }),
];

/// §2.2.
const UPSTREAM: &[KeySpec] = &[
    ann(
        "proxy-connect-timeout",
        Upstream,
        T1,
        "proxy-connect-timeout",
    ),
    ann("proxy-read-timeout", Upstream, T1, "proxy-read-timeout"),
    ann("proxy-send-timeout", Upstream, T1, "proxy-send-timeout"),
    ann("proxy-next-upstream", Upstream, T2, "proxy-next-upstream"),
    ann(
        "proxy-next-upstream-timeout",
        Upstream,
        T2,
        "proxy-next-upstream-timeout",
    ),
    ann(
        "proxy-next-upstream-tries",
        Upstream,
        T2,
        "proxy-next-upstream-tries",
    ),
    g("retry-non-idempotent", Upstream, T3, Exact, |v, c| {
        c.base.policy.retry.on.non_idempotent = boolean(v)?;
        Ok(())
    }),
    g(
        "upstream-keepalive-connections",
        Upstream,
        T1,
        Exact,
        |v, c| {
            c.settings.upstream.keepalive_connections = uint32(v)?;
            Ok(())
        },
    ),
    g("upstream-keepalive-timeout", Upstream, T2, Exact, |v, c| {
        c.settings.upstream.keepalive_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
    g(
        "upstream-keepalive-requests",
        Upstream,
        T2,
        Exact,
        |v, c| {
            c.settings.upstream.keepalive_requests = uint32(v)?;
            Ok(())
        },
    ),
    g("upstream-keepalive-time", Upstream, T3, Exact, |v, c| {
        c.settings.upstream.keepalive_time_ms = duration_ms(v)?;
        Ok(())
    }),
    ann("proxy-body-size", Upstream, T1, "proxy-body-size"),
    ann(
        "client-body-buffer-size",
        Upstream,
        T2,
        "client-body-buffer-size",
    )
    .with(Partial(
        "the memory buffer size; larger bodies are streamed instead of written to a temporary file",
    )),
    ann(
        "proxy-request-buffering",
        Upstream,
        T2,
        "proxy-request-buffering",
    ),
    ann("proxy-buffering", Upstream, T2, "proxy-buffering").with(Partial(
        "responses are buffered in memory only, never spilled to disk",
    )),
    ann("proxy-buffer-size", Upstream, T1, "proxy-buffer-size"),
    ann("proxy-buffers-number", Upstream, T3, "proxy-buffers-number"),
    ann(
        "proxy-busy-buffers-size",
        Upstream,
        T3,
        "proxy-busy-buffers-size",
    )
    .with(NoEffect("nginx buffer bookkeeping")),
    ann(
        "proxy-max-temp-file-size",
        Upstream,
        T3,
        "proxy-max-temp-file-size",
    )
    .with(NoEffect("sluice never spills responses to disk")),
    ann("proxy-http-version", Upstream, T3, "proxy-http-version"),
    ann("proxy-cookie-domain", Upstream, T3, "proxy-cookie-domain"),
    ann("proxy-cookie-path", Upstream, T3, "proxy-cookie-path"),
    ann("proxy-redirect-from", Upstream, T3, "proxy-redirect-from"),
    ann("proxy-redirect-to", Upstream, T3, "proxy-redirect-to"),
    g(
        "grpc-buffer-size-kb",
        Upstream,
        T3,
        NoEffect("gRPC responses are streamed; there is no separate gRPC buffer"),
        |v, _| uint32(v).map(drop),
    ),
    ann("load-balance", Upstream, T2, "load-balance").with(Partial(
        "round_robin and ewma; other values fall back to round_robin",
    )),
    ann("upstream-hash-by", Upstream, T3, "upstream-hash-by").with(Partial(
        "whitelisted variables only; the hash ring is sluice's",
    )),
    ann("service-upstream", Upstream, T2, "service-upstream"),
    g("proxy-ssl-location-only", Upstream, T3, Exact, |v, c| {
        c.settings.upstream.proxy_ssl_location_only = boolean(v)?;
        Ok(())
    }),
    g("worker-shutdown-timeout", Upstream, T2, Exact, |v, c| {
        c.settings.shutdown_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
];

/// §2.3.
const FORWARDED: &[KeySpec] = &[
    g("use-forwarded-headers", Forwarded, T1, Exact, |v, c| {
        c.settings.forwarded.use_forwarded_headers = boolean(v)?;
        Ok(())
    }),
    g("enable-real-ip", Forwarded, T2, Exact, |v, c| {
        c.settings.forwarded.real_ip = boolean(v)?;
        Ok(())
    }),
    g("forwarded-for-header", Forwarded, T2, Exact, |v, c| {
        c.settings.forwarded.for_header = header_name(v)?;
        Ok(())
    }),
    g(
        "compute-full-forwarded-for",
        Forwarded,
        T1,
        Exact,
        |v, c| {
            c.settings.forwarded.compute_full_forwarded_for = boolean(v)?;
            Ok(())
        },
    ),
    g("proxy-real-ip-cidr", Forwarded, T1, Exact, |v, c| {
        c.settings.forwarded.trusted = cidrs(v)?;
        Ok(())
    }),
    g(
        "forwarded-for-proxy-protocol-header",
        Forwarded,
        T3,
        Exact,
        |v, c| {
            c.settings.forwarded.proxy_protocol_header = header_name(v)?;
            Ok(())
        },
    ),
    g(
        "proxy-add-original-uri-header",
        Forwarded,
        T3,
        Exact,
        |v, c| {
            c.settings.forwarded.original_uri_header = boolean(v)?;
            Ok(())
        },
    ),
    g("generate-request-id", Forwarded, T1, Exact, |v, c| {
        c.settings.forwarded.generate_request_id = boolean(v)?;
        Ok(())
    }),
    g("proxy-set-headers", Forwarded, T2, Exact, |v, c| {
        c.proxy_set_headers = Some(safe_text(v)?).filter(|s| !s.is_empty());
        Ok(())
    }),
    g("add-headers", Forwarded, T2, Exact, |v, c| {
        c.add_headers = Some(safe_text(v)?).filter(|s| !s.is_empty());
        Ok(())
    }),
    g("hide-headers", Forwarded, T3, Exact, |v, c| {
        c.settings.forwarded.hide_headers = header_names(v)?;
        Ok(())
    }),
    g(
        "allow-backend-server-header",
        Forwarded,
        T3,
        Exact,
        |v, c| {
            c.settings.forwarded.allow_backend_server_header = boolean(v)?;
            Ok(())
        },
    ),
    g(
        "global-allowed-response-headers",
        Forwarded,
        T2,
        Exact,
        |v, c| {
            c.settings.forwarded.allowed_response_headers = header_names(v)?;
            Ok(())
        },
    ),
];

/// §2.4.
const TLS: &[KeySpec] = &[
    g(
        "ssl-protocols",
        Tls,
        T1,
        Partial("TLSv1.2 and TLSv1.3 only; older versions are dropped with a warning"),
        |v, c| {
            let (versions, dropped) = map_protocols(v)?;
            if !dropped.is_empty() {
                c.warnings
                    .push(format!("not supported: {}", dropped.join(", ")));
            }
            c.settings.tls.protocols = versions;
            Ok(())
        },
    ),
    g(
        "ssl-ciphers",
        Tls,
        T2,
        Partial(
            "OpenSSL names are mapped to the rustls TLS 1.2 suites; names rustls lacks are dropped with a warning",
        ),
        |v, c| {
            let (suites, dropped) = map_ciphers(v)?;
            if !dropped.is_empty() {
                c.warnings.push(format!(
                    "cipher(s) not available in rustls: {}",
                    dropped.join(", ")
                ));
            }
            c.settings.tls.ciphers = suites;
            Ok(())
        },
    ),
    g("ssl-prefer-server-ciphers", Tls, T3, Exact, |v, c| {
        c.settings.tls.prefer_server_ciphers = boolean(v)?;
        Ok(())
    }),
    g(
        "ssl-ecdh-curve",
        Tls,
        T3,
        Partial("mapped to the rustls groups X25519, secp256r1 and secp384r1"),
        |v, c| {
            let (groups, dropped) = map_curves(v)?;
            if !dropped.is_empty() {
                c.warnings
                    .push(format!("not supported: {}", dropped.join(", ")));
            }
            c.settings.tls.ecdh_curves = groups;
            Ok(())
        },
    ),
    g("ssl-session-cache", Tls, T3, Exact, |v, c| {
        c.settings.tls.session_cache = boolean(v)?;
        Ok(())
    }),
    g(
        "ssl-session-cache-size",
        Tls,
        T3,
        NoEffect("the rustls session cache is sized in entries by the proxy"),
        |v, _| size(v).map(drop),
    ),
    g("ssl-session-timeout", Tls, T3, Exact, |v, c| {
        c.settings.tls.session_timeout_ms = duration_ms(v)?;
        Ok(())
    }),
    g("ssl-session-tickets", Tls, T3, Exact, |v, c| {
        c.settings.tls.session_tickets = boolean(v)?;
        Ok(())
    }),
    ignored(
        "ssl-session-ticket-key",
        Tls,
        T3,
        NoEffect("ticket keys are generated and rotated by the proxy"),
    ),
    g(
        "ssl-buffer-size",
        Tls,
        T3,
        NoEffect("rustls sizes TLS records itself"),
        |v, _| size(v).map(drop),
    ),
    ignored(
        "ssl-dh-param",
        Tls,
        T3,
        NoEffect("rustls has no finite-field DHE"),
    ),
    g(
        "enable-ocsp",
        Tls,
        T3,
        NoEffect("OCSP stapling is not implemented"),
        |v, _| boolean(v).map(drop),
    ),
    g("ssl-reject-handshake", Tls, T2, Exact, |v, c| {
        c.settings.tls.reject_unknown_sni = boolean(v)?;
        Ok(())
    }),
    g("ssl-early-data", Tls, T3, Exact, |v, c| {
        c.settings.tls.early_data = boolean(v)?;
        Ok(())
    }),
    ann("ssl-redirect", Tls, T1, "ssl-redirect"),
    ann("force-ssl-redirect", Tls, T1, "force-ssl-redirect"),
    ann(
        "preserve-trailing-slash",
        Tls,
        T3,
        "preserve-trailing-slash",
    ),
    g("http-redirect-code", Tls, T2, Exact, |v, c| {
        let code = ranged(v, 0, 999)?;
        c.base.policy.redirects.code = match code {
            301 => 301,
            302 => 302,
            307 => 307,
            308 => 308,
            _ => return Err("expected 301, 302, 307 or 308".into()),
        };
        Ok(())
    }),
    g("no-tls-redirect-locations", Tls, T1, Exact, |v, c| {
        c.base.policy.redirects.no_tls_redirect_locations = paths(v)?;
        Ok(())
    }),
    g("hsts", Tls, T1, Exact, |v, c| {
        c.settings.tls.hsts.enabled = boolean(v)?;
        Ok(())
    }),
    g("hsts-max-age", Tls, T2, Exact, |v, c| {
        c.settings.tls.hsts.max_age = crate::values::uint(v)?;
        Ok(())
    }),
    g("hsts-include-subdomains", Tls, T2, Exact, |v, c| {
        c.settings.tls.hsts.include_subdomains = boolean(v)?;
        Ok(())
    }),
    g("hsts-preload", Tls, T3, Exact, |v, c| {
        c.settings.tls.hsts.preload = boolean(v)?;
        Ok(())
    }),
    ann("relative-redirects", Tls, T3, "relative-redirects"),
    ann("use-port-in-redirects", Tls, T3, "use-port-in-redirects"),
];

/// §2.5.
const ACCESS: &[KeySpec] = &[
    ann("custom-http-errors", Access, T2, "custom-http-errors"),
    ann(
        "disable-proxy-intercept-errors",
        Access,
        T3,
        "disable-proxy-intercept-errors",
    ),
    ann(
        "whitelist-source-range",
        Access,
        T2,
        "allowlist-source-range",
    ),
    ann("denylist-source-range", Access, T2, "denylist-source-range"),
    g("block-cidrs", Access, T3, Exact, |v, c| {
        c.settings.blocking.cidrs = cidrs(v)?;
        Ok(())
    }),
    g(
        "block-user-agents",
        Access,
        T3,
        Partial("regexes (~ and ~* prefixes) use Rust regex syntax"),
        |v, c| {
            c.settings.blocking.user_agents = match_list(v)?;
            Ok(())
        },
    ),
    g(
        "block-referers",
        Access,
        T3,
        Partial("regexes (~ and ~* prefixes) use Rust regex syntax"),
        |v, c| {
            c.settings.blocking.referers = match_list(v)?;
            Ok(())
        },
    ),
    g("limit-req-status-code", Access, T1, Exact, |v, c| {
        c.settings.limit_req_status = status(v)?;
        Ok(())
    }),
    g("limit-conn-status-code", Access, T2, Exact, |v, c| {
        c.settings.limit_conn_status = status(v)?;
        Ok(())
    }),
    ignored(
        "limit-conn-zone-variable",
        Access,
        T3,
        NoEffect("limits are always keyed by the client address"),
    ),
    ann("limit-rate", Access, T3, "limit-rate"),
    ann("limit-rate-after", Access, T3, "limit-rate-after"),
    g("global-auth-url", Access, T2, Exact, |v, c| {
        c.global_auth_url = if v.trim().is_empty() {
            None
        } else {
            Some(url_template(v, Allow::VARS)?)
        };
        Ok(())
    }),
    g("global-auth-method", Access, T3, Exact, |v, c| {
        c.global_auth.method = Some(crate::annotations::auth_method(v)?);
        Ok(())
    }),
    g("global-auth-signin", Access, T2, Exact, |v, c| {
        c.global_auth.signin = Some(url_template(v, Allow::VARS)?);
        Ok(())
    }),
    g(
        "global-auth-signin-redirect-param",
        Access,
        T3,
        Exact,
        |v, c| {
            c.global_auth.signin_redirect_param = safe_text(v)?;
            Ok(())
        },
    ),
    g("global-auth-response-headers", Access, T2, Exact, |v, c| {
        c.global_auth.response_headers = header_names(v)?;
        Ok(())
    }),
    g("global-auth-request-redirect", Access, T3, Exact, |v, c| {
        c.global_auth.request_redirect = Some(path_template(v, Allow::VARS)?);
        Ok(())
    }),
    g("global-auth-cache-key", Access, T3, Exact, |v, c| {
        c.global_auth.cache_key = Some(path_template(v, Allow::VARS)?);
        Ok(())
    }),
    g("global-auth-cache-duration", Access, T3, Exact, |v, c| {
        c.global_auth.cache_duration = crate::annotations::auth_cache_durations(v)?;
        Ok(())
    }),
    g(
        "global-auth-always-set-cookie",
        Access,
        T3,
        Exact,
        |v, c| {
            c.global_auth.always_set_cookie = boolean(v)?;
            Ok(())
        },
    ),
    ignored(
        "global-auth-snippet",
        Snippet,
        Refuse,
        Refused("raw nginx configuration is never applied"),
    ),
    g("no-auth-locations", Access, T2, Exact, |v, c| {
        c.no_auth_locations = paths(v)?;
        Ok(())
    }),
];

/// §2.6.
const LOGGING: &[KeySpec] = &[
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
const COMPRESSION: &[KeySpec] = &[
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
const ADMISSION: &[KeySpec] = &[
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
const STREAM: &[KeySpec] = &[
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
const INTERNAL: &[KeySpec] = &[
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
        Partial(
            "a cap on concurrent client connections of the whole proxy, not per worker; 0 = unlimited",
        ),
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
const SNIPPETS: &[KeySpec] = &[
    ignored("main-snippet", Snippet, Refuse, RAW),
    ignored("http-snippet", Snippet, Refuse, RAW),
    ignored("server-snippet", Snippet, Refuse, RAW),
    ignored("location-snippet", Snippet, Refuse, RAW),
    ignored("stream-snippet", Snippet, Refuse, RAW),
    ignored("modsecurity-snippet", Snippet, Refuse, RAW),
];

fn bind(value: &str, c: &mut ConfigDraft) -> Result<(), String> {
    for item in list(value) {
        let ip = item
            .parse()
            .map_err(|_| format!("{item:?} is not an IP address"))?;
        if !c.settings.client.bind_addresses.contains(&ip) {
            c.settings.client.bind_addresses.push(ip);
        }
    }
    Ok(())
}

fn paths(value: &str) -> Result<Vec<String>, String> {
    list(value).iter().map(|p| url_path(p)).collect()
}

fn status(value: &str) -> Result<u16, String> {
    let n = ranged(value, 400, 599)?;
    u16::try_from(n).map_err(|_| "out of range".into())
}

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

/// Comma-separated exact strings or `~regex` / `~*regex` entries, regexes checked.
fn match_list(value: &str) -> Result<Vec<String>, String> {
    let items = list(value);
    for item in &items {
        if let Some(pattern) = item.strip_prefix("~*").or_else(|| item.strip_prefix('~')) {
            regex::Regex::new(pattern).map_err(|e| format!("invalid regex {pattern:?}: {e}"))?;
        }
    }
    Ok(items)
}
