//! §1.3 backend protocol, upstream TLS and balancing, and the value parsers §1.4 shares.

use super::{a, object_ref};
use crate::annotations::Group::Backend;
use crate::annotations::Scope::{Ingress, Location};
use crate::annotations::Status::{Exact, NoEffect, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::annotations::{AnnotationSpec, Draft};
use crate::policy::RiskLevel::{High, Low, Medium};
use crate::policy::{BackendProtocol, Balance, HttpVersion, NextUpstream, ProxyRedirect};
use crate::template::{Allow, Part, Template};
use crate::values::{boolean, hostname, on_off, path_template, safe_text, size, uint32};

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
            d.policy.upstream_request.protocol = match v.trim().to_ascii_uppercase().as_str() {
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
            Ok(())
        },
    )
    .exact_for(|v| !v.trim().eq_ignore_ascii_case("FCGI")),
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
    a(
        "proxy-ssl-verify-depth",
        Backend,
        T3,
        Low,
        Ingress,
        Partial("the upstream chain is verified by WebPKI without a depth limit"),
        |v, d| {
            d.proxy_ssl.verify_depth = uint32(v)?;
            d.proxy_ssl_set = true;
            Ok(())
        },
    ),
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

/// `proxy-body-size`: a size, 0 = unlimited.
pub(super) fn body_size(value: &str) -> Result<Option<u64>, String> {
    Ok(Some(size(value)?).filter(|n| *n != 0))
}

/// A positive integer.
pub(super) fn positive(value: &str) -> Result<u32, String> {
    match uint32(value)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// `proxy-next-upstream`: space-separated nginx conditions.
pub(super) fn next_upstream(value: &str) -> Result<NextUpstream, String> {
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
pub(super) fn from_to(value: &str) -> Result<Option<(String, String)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["off"] => Ok(None),
        [from, to] => Ok(Some((safe_text(from)?, safe_text(to)?))),
        _ => Err("expected \"off\" or \"<from> <to>\"".into()),
    }
}

pub(super) fn redirect_arg(value: &str) -> Result<String, String> {
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
