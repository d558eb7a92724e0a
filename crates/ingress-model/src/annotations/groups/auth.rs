//! §1.9 authentication: basic/digest, external (auth-url), global.

use super::{a, object_ref, token};
use crate::annotations::AnnotationSpec;
use crate::annotations::Group::Auth;
use crate::annotations::Scope::Location;
use crate::annotations::Status::{Exact, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::policy::RiskLevel::{High, Low, Medium};
use crate::policy::{BasicAuthKind, CacheRule, Satisfy};
use crate::template::Allow;
use crate::values::{
    boolean, duration_ms, header_names, path_template, safe_text, seconds_ms, uint32, url_template,
};

/// §1.9.
pub(super) const AUTH: &[AnnotationSpec] = &[
    a(
        "auth-type",
        Auth,
        T1,
        Low,
        Location,
        Partial(
            "digest: MD5 with qop=auth and stateless nonces valid 5 min; nonce counts are not tracked, so a captured response can be replayed for the same URI while its nonce is valid",
        ),
        |v, d| {
            // An invalid type does not reject the Ingress: its routes fail closed (503).
            d.auth_type = Some(match v.trim() {
                "basic" => Ok(BasicAuthKind::Basic),
                "digest" => Ok(BasicAuthKind::Digest),
                other => Err(format!(
                    "invalid auth-type {other:?} (expected basic or digest)"
                )),
            });
            Ok(())
        },
    )
    .exact_for(|v| v.trim() == "basic"),
    a("auth-secret", Auth, T1, Medium, Location, Exact, |v, d| {
        d.auth_secret = Some(object_ref(v)?);
        Ok(())
    }),
    a(
        "auth-secret-type",
        Auth,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.auth_secret_map = match v.trim() {
                "auth-file" => false,
                "auth-map" => true,
                _ => return Err("expected auth-file or auth-map".into()),
            };
            Ok(())
        },
    ),
    a("auth-realm", Auth, T1, Medium, Location, Exact, |v, d| {
        d.auth_realm = safe_text(v)?;
        Ok(())
    }),
    a("auth-url", Auth, T1, High, Location, Exact, |v, d| {
        d.external_url = Some(url_template(v, Allow::VARS)?);
        Ok(())
    }),
    a("auth-signin", Auth, T1, High, Location, Exact, |v, d| {
        d.external.signin = Some(url_template(v, Allow::VARS)?);
        Ok(())
    }),
    a(
        "auth-signin-redirect-param",
        Auth,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.external.signin_redirect_param = token(v)?;
            Ok(())
        },
    ),
    a(
        "auth-response-headers",
        Auth,
        T1,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.external.response_headers = header_names(v)?;
            Ok(())
        },
    ),
    a(
        "auth-request-redirect",
        Auth,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.external.request_redirect = Some(path_template(v, Allow::VARS)?);
            Ok(())
        },
    ),
    a("auth-method", Auth, T3, Low, Location, Exact, |v, d| {
        d.external.method = Some(method(v)?);
        Ok(())
    }),
    a(
        "auth-proxy-set-headers",
        Auth,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.auth_proxy_set_headers = Some(object_ref(v)?);
            Ok(())
        },
    ),
    a(
        "auth-cache-key",
        Auth,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.external.cache_key = Some(path_template(v, Allow::VARS)?);
            Ok(())
        },
    ),
    a(
        "auth-cache-duration",
        Auth,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.external.cache_duration = cache_durations(v)?;
            Ok(())
        },
    ),
    a(
        "auth-keepalive",
        Auth,
        T3,
        Low,
        Location,
        Partial(
            "one pooled client serves every auth service: up to 32 idle connections per host, 60 s idle timeout, whatever the value",
        ),
        |v, d| {
            d.external.keepalive.connections = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "auth-keepalive-share-vars",
        Auth,
        T3,
        Low,
        Location,
        Partial("the request id is always shared with the auth request"),
        |v, d| {
            d.external.keepalive.share_vars = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "auth-keepalive-requests",
        Auth,
        T3,
        Low,
        Location,
        Partial("connections to auth services are reused without a per-connection request cap"),
        |v, d| {
            d.external.keepalive.requests = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "auth-keepalive-timeout",
        Auth,
        T3,
        Low,
        Location,
        Partial("idle connections to auth services close after 60 s whatever the value"),
        |v, d| {
            d.external.keepalive.timeout_ms = seconds_ms(v)?;
            Ok(())
        },
    ),
    a(
        "auth-always-set-cookie",
        Auth,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.external.always_set_cookie = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "enable-global-auth",
        Auth,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.auth.global = boolean(v)?;
            Ok(())
        },
    ),
    a("satisfy", Auth, T3, Low, Location, Exact, |v, d| {
        d.policy.access.satisfy = match v.trim() {
            "all" => Satisfy::All,
            "any" => Satisfy::Any,
            _ => return Err("expected any or all".into()),
        };
        Ok(())
    }),
];

/// An HTTP method for the auth subrequest.
pub(crate) fn method(value: &str) -> Result<String, String> {
    let text = value.trim();
    const METHODS: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
    ];
    if METHODS.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(format!("expected one of {}", METHODS.join(", ")))
    }
}

/// `auth-cache-duration`: comma-separated `<code>... <duration>` entries (`any` for every code).
pub(crate) fn cache_durations(value: &str) -> Result<Vec<CacheRule>, String> {
    let mut rules = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let words: Vec<&str> = entry.split_whitespace().collect();
        let Some((duration, codes)) = words.split_last() else {
            continue;
        };
        let duration_ms = duration_ms(duration)?;
        let mut parsed = Vec::new();
        for code in codes {
            if *code == "any" {
                parsed.clear();
                break;
            }
            let n: u16 = code
                .parse()
                .ok()
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| format!("{code:?} is not a status code"))?;
            parsed.push(n);
        }
        rules.push(CacheRule {
            codes: parsed,
            duration_ms,
        });
    }
    if rules.is_empty() {
        return Err("expected entries such as \"200 202 10m, 401 5m\"".into());
    }
    Ok(rules)
}
