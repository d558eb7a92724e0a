//! §1.3 backend protocol, upstream TLS and balancing; §1.4 timeouts, retries, buffering and
//! body size.

use super::{a, object_ref};
use crate::annotations::Group::{Backend, Proxy};
use crate::annotations::Scope::{Ingress, Location};
use crate::annotations::Status::{Exact, NoEffect, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::annotations::{AnnotationSpec, Draft};
use crate::policy::RiskLevel::{High, Low, Medium};
use crate::policy::{BackendProtocol, Balance, HttpVersion, NextUpstream, ProxyRedirect};
use crate::template::{Allow, Part, Template};
use crate::values::{
    boolean, hostname, on_off, path_template, safe_text, seconds_ms, size, uint32,
};

/// §1.3.
pub(super) const BACKEND: &[AnnotationSpec] = &[
    a(
        "backend-protocol",
        Backend,
        T1,
        Low,
        Location,
        Partial("FCGI is not served: routes of such an Ingress answer 503 (fail closed)"),
        |v, d| {
            d.upstream.protocol = match v.trim().to_ascii_uppercase().as_str() {
                "HTTP" => BackendProtocol::Http,
                "HTTPS" => BackendProtocol::Https,
                "AUTO_HTTP" => BackendProtocol::AutoHttp,
                "GRPC" => BackendProtocol::Grpc,
                "GRPCS" => BackendProtocol::Grpcs,
                "FCGI" => {
                    d.fastcgi = true;
                    BackendProtocol::Http
                }
                _ => return Err("expected HTTP, HTTPS, AUTO_HTTP, GRPC, GRPCS or FCGI".into()),
            };
            d.mark_upstream("backend-protocol");
            Ok(())
        },
    ),
    a("proxy-http-version", Backend, T3, Low, Location, Exact, |v, d| {
        d.policy.upstream_request.http_version = match v.trim() {
            "1.0" => HttpVersion::Http10,
            "1.1" => HttpVersion::Http11,
            _ => return Err("expected 1.0 or 1.1".into()),
        };
        Ok(())
    }),
    a("upstream-vhost", Backend, T2, Low, Location, Exact, |v, d| {
        let template = path_template(v, Allow::LOCATION)?;
        let host_chars = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        };
        if !template.parts.iter().all(|p| match p {
            Part::Literal(s) => host_chars(s),
            _ => true,
        }) {
            return Err("expected a host name, optionally with a port or variables".into());
        }
        d.policy.upstream_request.host = Some(template);
        Ok(())
    }),
    a("service-upstream", Backend, T2, Low, Ingress, Exact, |v, d| {
        d.upstream.service_upstream = boolean(v)?;
        d.mark_upstream("service-upstream");
        Ok(())
    }),
    a("connection-proxy-header", Backend, T3, Low, Location, Exact, |v, d| {
        let text = v.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("expected a Connection value such as close or keep-alive".into());
        }
        d.policy.upstream_request.connection = Some(text.to_owned());
        Ok(())
    }),
    a(
        "load-balance",
        Backend,
        T3,
        Low,
        Location,
        Partial("round_robin and ewma; chash, chashsubset and sticky_* select hashing or affinity only together with upstream-hash-by or affinity, as in ingress-nginx"),
        |v, d| {
            d.upstream.balance = load_balance(v, d)?;
            d.mark_upstream("load-balance");
            Ok(())
        },
    )
    .on_canary(),
    a(
        "upstream-hash-by",
        Backend,
        T2,
        High,
        Location,
        Partial("whitelisted variables only; the hash ring is sluice's, so keys map to other endpoints than under nginx"),
        |v, d| {
            let key = path_template(v, Allow::VARS)?;
            d.hash_by = Some(key);
            d.mark_upstream("upstream-hash-by");
            Ok(())
        },
    )
    .on_canary(),
    a("upstream-hash-by-subset", Backend, T3, Low, Location, Exact, |v, d| {
        d.hash_subset = boolean(v)?;
        Ok(())
    })
    .on_canary(),
    a("upstream-hash-by-subset-size", Backend, T3, Low, Location, Exact, |v, d| {
        d.hash_subset_size = positive(v)?;
        Ok(())
    })
    .on_canary(),
    a("proxy-ssl-secret", Backend, T2, Medium, Ingress, Exact, |v, d| {
        d.proxy_ssl_secret = Some(object_ref(v)?);
        d.proxy_ssl_set = true;
        Ok(())
    }),
    a("proxy-ssl-verify", Backend, T2, Low, Ingress, Exact, |v, d| {
        d.proxy_ssl.verify = on_off(v)?;
        d.proxy_ssl_set = true;
        Ok(())
    }),
    a("proxy-ssl-verify-depth", Backend, T3, Low, Ingress, Exact, |v, d| {
        d.proxy_ssl.verify_depth = uint32(v)?;
        d.proxy_ssl_set = true;
        Ok(())
    }),
    a("proxy-ssl-name", Backend, T2, High, Ingress, Exact, |v, d| {
        d.proxy_ssl.name = Some(hostname(v)?);
        d.proxy_ssl_set = true;
        Ok(())
    }),
    a("proxy-ssl-server-name", Backend, T2, Low, Ingress, Exact, |v, d| {
        d.proxy_ssl.server_name = on_off(v)?;
        d.proxy_ssl_set = true;
        Ok(())
    }),
    a(
        "proxy-ssl-ciphers",
        Backend,
        T3,
        Medium,
        Ingress,
        Partial("OpenSSL names are mapped to rustls suites; unavailable ones are dropped with a warning"),
        |v, d| {
            let (suites, dropped) = crate::config::map_ciphers(v)?;
            if !dropped.is_empty() {
                d.warnings
                    .push(format!("cipher(s) not available in rustls: {}", dropped.join(", ")));
            }
            d.proxy_ssl.ciphers = Some(suites);
            d.proxy_ssl_set = true;
            Ok(())
        },
    ),
    a(
        "proxy-ssl-protocols",
        Backend,
        T3,
        Low,
        Ingress,
        Partial("only TLSv1.2 and TLSv1.3 exist in rustls; older versions are dropped with a warning"),
        |v, d| {
            let (versions, dropped) = crate::config::map_protocols(v)?;
            if !dropped.is_empty() {
                d.warnings.push(format!("not supported: {}", dropped.join(", ")));
            }
            d.proxy_ssl.protocols = versions;
            d.proxy_ssl_set = true;
            Ok(())
        },
    ),
    a(
        "fastcgi-index",
        Backend,
        T3,
        Medium,
        Location,
        NoEffect("FastCGI backends are not supported"),
        |v, _| safe_text(v).map(drop),
    ),
    a(
        "fastcgi-params-configmap",
        Backend,
        T3,
        Medium,
        Location,
        NoEffect("FastCGI backends are not supported"),
        |v, _| object_ref(v).map(drop),
    ),
];

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
        Exact,
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
        Partial("responses are buffered in memory only, never spilled to disk"),
        |v, d| {
            d.policy.response_buffering.enabled = on_off(v)?;
            Ok(())
        },
    ),
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
        Exact,
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
        Partial(
            "the memory buffer size; larger bodies are streamed instead of written to a temporary file",
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

/// `proxy-body-size`: a size, 0 = unlimited.
fn body_size(value: &str) -> Result<Option<u64>, String> {
    Ok(Some(size(value)?).filter(|n| *n != 0))
}

/// A positive integer.
fn positive(value: &str) -> Result<u32, String> {
    match uint32(value)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// `proxy-next-upstream`: space-separated nginx conditions.
fn next_upstream(value: &str) -> Result<NextUpstream, String> {
    let mut on = NextUpstream::off();
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() {
        return Err("expected conditions such as \"error timeout\"".into());
    }
    for word in words {
        match word {
            "error" => on.error = true,
            "timeout" => on.timeout = true,
            "invalid_header" => on.invalid_header = true,
            "non_idempotent" => on.non_idempotent = true,
            "off" => return Ok(NextUpstream::off()),
            "http_500" | "http_502" | "http_503" | "http_504" | "http_403" | "http_404"
            | "http_429" => {
                let code = word[5..]
                    .parse()
                    .map_err(|_| format!("bad condition {word}"))?;
                on.statuses.insert(code);
            }
            _ => return Err(format!("unknown condition {word:?}")),
        }
    }
    Ok(on)
}

/// `off` or `<from> <to>`.
fn from_to(value: &str) -> Result<Option<(String, String)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["off"] => Ok(None),
        [from, to] => Ok(Some((safe_text(from)?, safe_text(to)?))),
        _ => Err("expected \"off\" or \"<from> <to>\"".into()),
    }
}

fn redirect_arg(value: &str) -> Result<String, String> {
    let text = safe_text(value)?;
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err("expected one word: off, default or a URL prefix".into());
    }
    Ok(text)
}

/// Combines `proxy-redirect-from`/`-to` (ConfigMap defaults `off`).
pub(crate) fn proxy_redirect(from: Option<&str>, to: Option<&str>) -> ProxyRedirect {
    match (from, to) {
        (Some("default"), _) => ProxyRedirect::Default,
        (Some("off") | None, _) => ProxyRedirect::Off,
        (Some(from), Some(to)) if to != "off" => ProxyRedirect::Replace {
            from: from.to_owned(),
            to: to.to_owned(),
        },
        _ => ProxyRedirect::Off,
    }
}

/// `load-balance` values.
pub(crate) fn load_balance(value: &str, draft: &mut Draft) -> Result<Balance, String> {
    match value.trim() {
        "round_robin" => Ok(Balance::RoundRobin),
        "ewma" => Ok(Balance::Ewma),
        other @ ("chash" | "chashsubset" | "sticky_balanced" | "sticky_persistent") => {
            draft.warnings.push(format!(
                "{other} takes effect only with upstream-hash-by or affinity; round_robin otherwise"
            ));
            Ok(Balance::RoundRobin)
        }
        _ => Err("expected round_robin or ewma".into()),
    }
}

/// Builds the hashing balance from the draft's `upstream-hash-by*` values.
pub(crate) fn hash_balance(draft: &Draft) -> Option<Balance> {
    let key: &Template = draft.hash_by.as_ref()?;
    Some(Balance::ConsistentHash {
        key: key.clone(),
        subset: draft.hash_subset.then_some(draft.hash_subset_size),
    })
}
