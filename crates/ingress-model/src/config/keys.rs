//! The ConfigMap key registry (§2 of the inventory), one table per section: §2.1–2.5 here,
//! the operational sections (§2.6–2.11) in [`ops`].

#[path = "keys_ops.rs"]
mod ops;

use super::KeyGroup::{Access, Client, Forwarded, Snippet, Tls, Upstream};
use super::{ConfigDraft, KeyGroup, KeyParse, KeySpec, map_ciphers, map_curves, map_protocols};
use crate::annotations::Status::{self, Exact, NoEffect, Partial, Refused};
use crate::annotations::Tier::{self, Refuse, T1, T2, T3};
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
    ops::LOGGING,
    ops::COMPRESSION,
    ops::ADMISSION,
    ops::STREAM,
    ops::INTERNAL,
    ops::SNIPPETS,
];

pub(super) const fn g(
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

pub(super) const fn ann(
    name: &'static str,
    group: KeyGroup,
    tier: Tier,
    annotation: &'static str,
) -> KeySpec {
    KeySpec {
        name,
        group,
        tier,
        status: Exact,
        parse: KeyParse::Annotation(annotation),
    }
}

pub(super) const fn ignored(
    name: &'static str,
    group: KeyGroup,
    tier: Tier,
    status: Status,
) -> KeySpec {
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
    pub(super) const fn with(mut self, status: Status) -> Self {
        self.status = status;
        self
    }
}

/// §2.1.
const CLIENT: &[KeySpec] = &[
    g(
        "keep-alive",
        Client,
        T1,
        Partial(
            "idle HTTP/1.1 connections close after the shorter of keep-alive and client-header-timeout; 0 disables HTTP/1.1 keep-alive",
        ),
        |v, c| {
            c.settings.client.keepalive_timeout_ms = duration_ms(v)?;
            Ok(())
        },
    ),
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
    g(
        "large-client-header-buffers",
        Client,
        T2,
        Partial(
            "a header line longer than one buffer gets 431 (nginx: 400), a longer request line 414; a whole head over count x size gets 431",
        ),
        |v, c| {
            let words: Vec<&str> = v.split_whitespace().collect();
            let [count, each] = words.as_slice() else {
                return Err("expected \"<number> <size>\", e.g. \"4 8k\"".into());
            };
            c.settings.client.large_header_buffers = uint32(count)?;
            c.settings.client.large_header_buffer_bytes = size(each)?;
            Ok(())
        },
    ),
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
    g(
        "ignore-invalid-headers",
        Client,
        T3,
        Partial(
            "header names the HTTP parser finds invalid are refused with 400; only the underscore rule is configurable",
        ),
        |v, c| {
            c.settings.client.ignore_invalid_headers = boolean(v)?;
            Ok(())
        },
    ),
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
    g(
        "bind-address",
        Client,
        T3,
        NoEffect("the listen addresses come from the command line"),
        bind,
    ),
    g(
        "bind-address-ipv4",
        Client,
        T3,
        NoEffect("the listen addresses come from the command line"),
        bind,
    ),
    g(
        "bind-address-ipv6",
        Client,
        T3,
        NoEffect("the listen addresses come from the command line"),
        bind,
    ),
    g(
        "disable-ipv6",
        Client,
        T3,
        NoEffect("the listen addresses come from the command line"),
        |v, c| {
            c.settings.client.disable_ipv6 = boolean(v)?;
            Ok(())
        },
    ),
    g(
        "reuse-port",
        Client,
        T3,
        NoEffect("each listener is one socket; there are no worker processes to share it"),
        |v, c| {
            c.settings.client.reuse_port = boolean(v)?;
            Ok(())
        },
    ),
    g(
        "server-tokens",
        Client,
        T3,
        Partial(
            "false sends `Server: sluice` (ingress-nginx sends no Server header); true adds the version",
        ),
        |v, c| {
            c.settings.client.server_tokens = boolean(v)?;
            Ok(())
        },
    ),
    g(
        "default-type",
        Client,
        T3,
        NoEffect("responses the proxy generates carry their own Content-Type"),
        |v, c| {
            c.settings.client.default_type = safe_text(v)?;
            Ok(())
        },
    ),
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
        T1, Partial("idle connections are kept per endpoint, not per worker; 0 disables reuse and sends Connection: close upstream"),
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
    ).with(NoEffect("request bodies are buffered in memory up to proxy-body-size (8 MiB when unlimited), never written to disk")),
    ann(
        "proxy-request-buffering",
        Upstream,
        T2,
        "proxy-request-buffering",
    ).with(Partial("on buffers in memory; with proxy-body-size 0 at most 8 MiB is buffered and the rest streams; gRPC is always streamed, as nginx does")),
    ann("proxy-buffering", Upstream, T2, "proxy-buffering").with(Partial("responses are streamed to the client as the upstream sends them; on buffers nothing ahead")),
    ann("proxy-buffer-size", Upstream, T1, "proxy-buffer-size"),
    ann("proxy-buffers-number", Upstream, T3, "proxy-buffers-number").with(NoEffect("responses are streamed, not buffered")),
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
        NoEffect("with PROXY protocol the client address comes from the PROXY header only"),
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
    g(
        "add-headers",
        Forwarded,
        T2,
        Partial("values are sent as written; nginx variables in them are not expanded"),
        |v, c| {
            c.add_headers = Some(safe_text(v)?).filter(|s| !s.is_empty());
            Ok(())
        },
    ),
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
    g(
        "ssl-session-timeout",
        Tls,
        T3,
        NoEffect("rustls keeps its own session and ticket lifetimes"),
        |v, c| {
            c.settings.tls.session_timeout_ms = duration_ms(v)?;
            Ok(())
        },
    ),
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
    g(
        "ssl-early-data",
        Tls,
        T3,
        NoEffect("TLS 1.3 early data (0-RTT) is never accepted"),
        |v, c| {
            c.settings.tls.early_data = boolean(v)?;
            Ok(())
        },
    ),
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

pub(super) fn paths(value: &str) -> Result<Vec<String>, String> {
    list(value).iter().map(|p| url_path(p)).collect()
}

fn status(value: &str) -> Result<u16, String> {
    let n = ranged(value, 400, 599)?;
    u16::try_from(n).map_err(|_| "out of range".into())
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
