//! §1.5 canary, §1.6 rate limiting, §1.7 IP lists, §1.8 CORS.

use super::{a, check_regex, token};
use crate::annotations::AnnotationSpec;
use crate::annotations::Group::{Access, Canary, Cors, RateLimit};
use crate::annotations::Scope::{Ingress, Location};
use crate::annotations::Status::{Exact, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::policy::CorsOrigin;
use crate::policy::RiskLevel::{Low, Medium};
use crate::values::{boolean, cidrs, header_name, list, safe_text, uint, uint32};

/// §1.5.
pub(super) const CANARY: &[AnnotationSpec] = &[
    a("canary", Canary, T1, Low, Ingress, Exact, |v, d| {
        d.canary.enabled = boolean(v)?;
        Ok(())
    })
    .on_canary(),
    a(
        "canary-by-header",
        Canary,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.canary.header = Some(header_name(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a(
        "canary-by-header-value",
        Canary,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.canary.header_value = Some(safe_text(v)?).filter(|s| !s.is_empty());
            Ok(())
        },
    )
    .on_canary(),
    a(
        "canary-by-header-pattern",
        Canary,
        T2,
        Medium,
        Ingress,
        Partial("Rust regex syntax; a PCRE-only pattern is an invalid value"),
        |v, d| {
            let pattern = v.trim();
            check_regex(pattern)?;
            d.canary.header_pattern = Some(pattern.to_owned()).filter(|s| !s.is_empty());
            Ok(())
        },
    )
    .on_canary(),
    a(
        "canary-by-cookie",
        Canary,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.canary.cookie = Some(token(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a("canary-weight", Canary, T1, Low, Ingress, Exact, |v, d| {
        d.canary.weight = uint32(v)?;
        Ok(())
    })
    .on_canary(),
    a(
        "canary-weight-total",
        Canary,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.canary.weight_total = match uint32(v)? {
                0 => return Err("must be at least 1".into()),
                n => n,
            };
            Ok(())
        },
    )
    .on_canary(),
];

/// §1.6.
pub(super) const RATE_LIMIT: &[AnnotationSpec] = &[
    a("limit-rps", RateLimit, T1, Low, Location, Exact, |v, d| {
        d.policy.rate_limit.rps = uint32(v)?;
        Ok(())
    }),
    a(
        "limit-rpm",
        RateLimit,
        T2,
        Low,
        Location,
        Partial(
            "checked after limit-rps: a request limit-rpm rejects has still spent its limit-rps allowance (nginx checks both zones all-or-nothing)",
        ),
        |v, d| {
            d.policy.rate_limit.rpm = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "limit-connections",
        RateLimit,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.rate_limit.connections = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "limit-burst-multiplier",
        RateLimit,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.rate_limit.burst_multiplier = match uint32(v)? {
                0 => 1,
                n => n,
            };
            Ok(())
        },
    ),
    a(
        "limit-rate",
        RateLimit,
        T3,
        Low,
        Location,
        Partial(
            "the rate counts from the moment limit-rate-after bytes were sent (nginx counts from the start of the request with one second of credit)",
        ),
        |v, d| {
            d.policy.rate_limit.rate_bytes_per_sec = kilobytes(v)?;
            Ok(())
        },
    ),
    a(
        "limit-rate-after",
        RateLimit,
        T3,
        Low,
        Location,
        Partial(
            "the rate counts from the moment limit-rate-after bytes were sent (nginx counts from the start of the request with one second of credit)",
        ),
        |v, d| {
            d.policy.rate_limit.rate_after_bytes = kilobytes(v)?;
            Ok(())
        },
    ),
    LIMIT_ALLOWLIST,
    LIMIT_ALLOWLIST.alias("limit-whitelist", "limit-allowlist"),
];

const LIMIT_ALLOWLIST: AnnotationSpec = a(
    "limit-allowlist",
    RateLimit,
    T2,
    Low,
    Location,
    Exact,
    |v, d| {
        d.policy.rate_limit.allowlist = cidrs(v)?;
        Ok(())
    },
);

/// §1.7.
pub(super) const ACCESS: &[AnnotationSpec] = &[
    ALLOWLIST,
    ALLOWLIST.alias("whitelist-source-range", "allowlist-source-range"),
    a(
        "denylist-source-range",
        Access,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.access.deny = cidrs(v)?;
            Ok(())
        },
    ),
];

const ALLOWLIST: AnnotationSpec = a(
    "allowlist-source-range",
    Access,
    T1,
    Medium,
    Location,
    Exact,
    |v, d| {
        d.policy.access.allow = cidrs(v)?;
        Ok(())
    },
);

/// §1.8.
pub(super) const CORS: &[AnnotationSpec] = &[
    a("enable-cors", Cors, T1, Low, Ingress, Exact, |v, d| {
        d.cors_enabled = boolean(v)?;
        Ok(())
    }),
    a(
        "cors-allow-origin",
        Cors,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            let mut origins = Vec::new();
            for item in list(v) {
                if item == "*" {
                    origins = vec![CorsOrigin::Any];
                    break;
                }
                match cors_origin(&item) {
                    Some(origin) => origins.push(origin),
                    None => d
                        .warnings
                        .push(format!("origin {item:?} is invalid and skipped")),
                }
            }
            d.cors.allow_origin = origins;
            Ok(())
        },
    ),
    a(
        "cors-allow-methods",
        Cors,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.cors.allow_methods = word_list(v, false)?;
            Ok(())
        },
    ),
    a(
        "cors-allow-headers",
        Cors,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.cors.allow_headers = word_list(v, false)?;
            Ok(())
        },
    ),
    a(
        "cors-expose-headers",
        Cors,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.cors.expose_headers = word_list(v, true)?;
            Ok(())
        },
    ),
    a(
        "cors-allow-credentials",
        Cors,
        T1,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.cors.allow_credentials = boolean(v)?;
            Ok(())
        },
    ),
    a("cors-max-age", Cors, T2, Low, Ingress, Exact, |v, d| {
        d.cors.max_age = uint(v)?;
        Ok(())
    }),
];

/// KB (nginx `limit_rate <n>k`) → bytes.
fn kilobytes(value: &str) -> Result<u64, String> {
    uint(value)?
        .checked_mul(1024)
        .ok_or_else(|| "number is too large".into())
}

/// ingress-nginx's CORS list syntax: names of letters, digits, `-` and `_` (and `*` when
/// allowed), comma-separated; returned as written.
fn word_list(value: &str, star: bool) -> Result<String, String> {
    let text = value.trim();
    let ok = list(text).iter().all(|w| {
        (star && w == "*")
            || w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !ok {
        return Err("expected a comma-separated list of names".into());
    }
    Ok(text.to_owned())
}

/// `scheme://host[:port]` with an optional `*.` first label.
fn cors_origin(item: &str) -> Option<CorsOrigin> {
    let (scheme, rest) = item.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
        None => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    let valid = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    match host.strip_prefix("*.") {
        Some(suffix) if valid(suffix) => Some(CorsOrigin::Wildcard {
            scheme,
            suffix: suffix.to_owned(),
            port,
        }),
        None if valid(&host) => Some(CorsOrigin::Exact(match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        })),
        _ => None,
    }
}
