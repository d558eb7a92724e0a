//! §1.4 timeouts, retries, buffering and body size.

use super::a;
use super::backend::{body_size, from_to, next_upstream, positive, redirect_arg};
use crate::annotations::AnnotationSpec;
use crate::annotations::Group::Proxy;
use crate::annotations::Scope::Location;
use crate::annotations::Status::{Exact, NoEffect, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::policy::RiskLevel::{Low, Medium};
use crate::values::{on_off, seconds_ms, size, uint32};

/// §1.4.
pub(super) const PROXY: &[AnnotationSpec] = &[
    a(
        "proxy-connect-timeout",
        Proxy,
        T1,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.timeouts.connect_ms = seconds_ms(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-send-timeout",
        Proxy,
        T1,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.timeouts.send_ms = seconds_ms(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-read-timeout",
        Proxy,
        T1,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.timeouts.read_ms = seconds_ms(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-next-upstream",
        Proxy,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            let keep_non_idempotent = d.policy.retry.on.non_idempotent;
            d.policy.retry.on = next_upstream(v)?;
            d.policy.retry.on.non_idempotent |= keep_non_idempotent;
            Ok(())
        },
    ),
    a(
        "proxy-next-upstream-timeout",
        Proxy,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.retry.timeout_ms = seconds_ms(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-next-upstream-tries",
        Proxy,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.retry.tries = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-request-buffering",
        Proxy,
        T2,
        Low,
        Location,
        Partial(
            "on buffers in memory; with proxy-body-size 0 at most 8 MiB is buffered and the rest streams; gRPC is always streamed, as nginx does",
        ),
        |v, d| {
            d.policy.request_body.buffering = on_off(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-buffering",
        Proxy,
        T2,
        Low,
        Location,
        Partial(
            "responses are streamed to the client as the upstream sends them; on buffers nothing ahead",
        ),
        |v, d| {
            d.policy.response_buffering.enabled = on_off(v)?;
            Ok(())
        },
    )
    .exact_for(|v| matches!(on_off(v), Ok(false))),
    a(
        "proxy-buffer-size",
        Proxy,
        T1,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.response_buffering.header_bytes = size(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-buffers-number",
        Proxy,
        T2,
        Low,
        Location,
        NoEffect("responses are streamed, not buffered"),
        |v, d| {
            d.policy.response_buffering.buffers = positive(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-busy-buffers-size",
        Proxy,
        T3,
        Low,
        Location,
        NoEffect("nginx buffer bookkeeping; sluice streams buffered responses as they are read"),
        |v, d| {
            d.policy.response_buffering.busy_bytes = Some(size(v)?);
            Ok(())
        },
    ),
    a(
        "proxy-max-temp-file-size",
        Proxy,
        T3,
        Low,
        Location,
        NoEffect("sluice never spills responses to disk"),
        |v, d| {
            d.policy.response_buffering.max_temp_file_bytes = size(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-body-size",
        Proxy,
        T1,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.request_body.max_bytes = body_size(v)?;
            Ok(())
        },
    ),
    a(
        "client-body-buffer-size",
        Proxy,
        T2,
        Low,
        Location,
        NoEffect(
            "request bodies are buffered in memory up to proxy-body-size (8 MiB when unlimited), never written to disk",
        ),
        |v, d| {
            d.policy.request_body.buffer_bytes = size(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-cookie-domain",
        Proxy,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.response_rewrite.cookie_domain = from_to(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-cookie-path",
        Proxy,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.response_rewrite.cookie_path = from_to(v)?;
            Ok(())
        },
    ),
    a(
        "proxy-redirect-from",
        Proxy,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.proxy_redirect_from = Some(redirect_arg(v)?);
            Ok(())
        },
    ),
    a(
        "proxy-redirect-to",
        Proxy,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.proxy_redirect_to = Some(redirect_arg(v)?);
            Ok(())
        },
    ),
];
