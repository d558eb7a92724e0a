//! §1.1 rewrite, redirect and routing; §1.2 frontend TLS and mTLS.

use super::{a, check_regex, dns_name, object_ref};
use crate::annotations::Group::{Routing, Tls};
use crate::annotations::Scope::{Ingress, Location};
use crate::annotations::Status::{Exact, NoEffect, Partial};
use crate::annotations::Tier::{T1, T2, T3};
use crate::annotations::{AnnotationSpec, Draft};
use crate::policy::RiskLevel::{High, Low, Medium};
use crate::policy::VerifyClient;
use crate::template::Allow;
use crate::values::{
    boolean, hostname, list, path_template, ranged, status_codes, uint32, url_path, url_template,
};

/// §1.1.
pub(super) const ROUTING: &[AnnotationSpec] = &[
    a(
        "rewrite-target",
        Routing,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.rewrite_target = if v.trim().is_empty() {
                None
            } else {
                Some(path_template(v, Allow::CAPTURES)?)
            };
            Ok(())
        },
    ),
    a("use-regex", Routing, T1, Low, Location, Exact, |v, d| {
        d.use_regex = boolean(v)?;
        Ok(())
    }),
    a("app-root", Routing, T2, Medium, Location, Exact, |v, d| {
        d.policy.redirects.app_root = Some(url_path(v)?);
        Ok(())
    }),
    a(
        "permanent-redirect",
        Routing,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.permanent_redirect = Some(url_template(v, Allow::VARS)?);
            Ok(())
        },
    ),
    a(
        "permanent-redirect-code",
        Routing,
        T3,
        Low,
        Location,
        Exact,
        |v, d| {
            d.permanent_code = redirect_code(v, 308, 301, d)?;
            Ok(())
        },
    ),
    a(
        "temporal-redirect",
        Routing,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.temporal_redirect = Some(url_template(v, Allow::VARS)?);
            Ok(())
        },
    ),
    a(
        "temporal-redirect-code",
        Routing,
        T3,
        Low,
        Location,
        Exact,
        |v, d| {
            d.temporal_code = redirect_code(v, 307, 302, d)?;
            Ok(())
        },
    ),
    a(
        "from-to-www-redirect",
        Routing,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.from_to_www = boolean(v)?;
            Ok(())
        },
    ),
    a("server-alias", Routing, T2, High, Ingress, Exact, |v, d| {
        d.server_aliases = list(v)
            .iter()
            .map(|h| hostname(h))
            .collect::<Result<_, _>>()?;
        Ok(())
    }),
    a(
        "x-forwarded-prefix",
        Routing,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.forwarded_prefix = Some(url_path(v)?);
            Ok(())
        },
    ),
    a(
        "preserve-trailing-slash",
        Routing,
        T3,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.redirects.preserve_trailing_slash = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "relative-redirects",
        Routing,
        T3,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.redirects.relative = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "use-port-in-redirects",
        Routing,
        T3,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.redirects.port_in_redirects = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "default-backend",
        Routing,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            let name = v.trim();
            if !dns_name(name) || name.contains('.') {
                return Err(format!("{name:?} is not a Service name"));
            }
            d.default_backend = Some(name.to_owned());
            Ok(())
        },
    ),
    a(
        "custom-http-errors",
        Routing,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.errors.codes = status_codes(v)?.into_iter().collect();
            Ok(())
        },
    ),
    a(
        "disable-proxy-intercept-errors",
        Routing,
        T3,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.errors.intercept = !boolean(v)?;
            Ok(())
        },
    ),
];

/// §1.2.
pub(super) const TLS: &[AnnotationSpec] = &[
    a("ssl-redirect", Tls, T1, Low, Location, Exact, |v, d| {
        d.policy.redirects.ssl_redirect = boolean(v)?;
        Ok(())
    }),
    a(
        "force-ssl-redirect",
        Tls,
        T1,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.policy.redirects.force_ssl_redirect = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "ssl-passthrough",
        Tls,
        T2,
        Low,
        Ingress,
        NoEffect("TLS passthrough is not implemented yet: the proxy terminates TLS for the host"),
        |v, d| {
            d.ssl_passthrough = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "ssl-ciphers",
        Tls,
        T3,
        Low,
        Ingress,
        Partial(
            "OpenSSL names are mapped to the rustls TLS 1.2 suites; names rustls lacks (DHE, CBC, RSA key exchange) are dropped with a warning",
        ),
        |v, d| {
            let (suites, dropped) = crate::config::map_ciphers(v)?;
            if !dropped.is_empty() {
                d.warnings.push(format!(
                    "cipher(s) not available in rustls: {}",
                    dropped.join(", ")
                ));
            }
            d.ssl_ciphers = Some(suites);
            Ok(())
        },
    ),
    a(
        "ssl-prefer-server-ciphers",
        Tls,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.prefer_server_ciphers = Some(boolean(v)?);
            Ok(())
        },
    ),
    a(
        "auth-tls-secret",
        Tls,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.client_tls.secret = Some(object_ref(v)?);
            Ok(())
        },
    ),
    a(
        "auth-tls-verify-client",
        Tls,
        T2,
        Medium,
        Location,
        Exact,
        |v, d| {
            d.client_tls.verify = match v.trim() {
                "on" => VerifyClient::On,
                "off" => VerifyClient::Off,
                "optional" => VerifyClient::Optional,
                "optional_no_ca" => VerifyClient::OptionalNoCa,
                _ => return Err("expected on, off, optional or optional_no_ca".into()),
            };
            Ok(())
        },
    ),
    a(
        "auth-tls-verify-depth",
        Tls,
        T3,
        Low,
        Location,
        Partial(
            "counts the intermediate certificates the client sends (CA certificates excluded) rather than the built chain",
        ),
        |v, d| {
            d.client_tls.depth = Some(uint32(v)?);
            Ok(())
        },
    ),
    a(
        "auth-tls-error-page",
        Tls,
        T3,
        High,
        Location,
        Exact,
        |v, d| {
            d.client_tls.error_page = Some(url_template(v, Allow::VARS)?.text);
            Ok(())
        },
    ),
    a(
        "auth-tls-pass-certificate-to-upstream",
        Tls,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.client_tls.pass_certificate = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "auth-tls-match-cn",
        Tls,
        T3,
        High,
        Location,
        Partial("the CN pattern uses Rust regex syntax; PCRE-only constructs are invalid"),
        |v, d| {
            let pattern = v.trim().strip_prefix("CN=").ok_or("expected CN=<regex>")?;
            check_regex(pattern)?;
            d.client_tls.match_cn = Some(pattern.to_owned());
            Ok(())
        },
    ),
];

/// A redirect code: an integer; outside `300..=max` ingress-nginx silently uses `default`.
fn redirect_code(value: &str, max: u16, default: u16, draft: &mut Draft) -> Result<u16, String> {
    let n = ranged(value, 0, 999)?;
    match u16::try_from(n) {
        Ok(code) if (300..=max).contains(&code) => Ok(code),
        _ => {
            draft
                .warnings
                .push(format!("code {n} is outside 300-{max}; {default} is used"));
            Ok(default)
        }
    }
}
