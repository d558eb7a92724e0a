//! §1.10 affinity, §1.11 headers, §1.12 mirroring, §1.13 logging and misc, §1.14 snippets, and
//! annotations removed from ingress-nginx.

use super::{a, object_ref, token};
use crate::annotations::Group::{Affinity, Headers, Mirror, Misc, Removed, Snippet};
use crate::annotations::Scope::{Ingress, Location};
use crate::annotations::Status::{Exact, NoEffect, Partial, Refused};
use crate::annotations::Tier::{Refuse, T1, T2, T3};
use crate::annotations::{AnnotationSpec, Group, Scope, Status, Tier};
use crate::policy::RiskLevel::{self, Critical, High, Low, Medium};
use crate::policy::{AffinityCanaryBehavior, AffinityMode, SameSite};
use crate::template::Allow;
use crate::values::{
    boolean, hostname, on_off, path_template, safe_text, uint, url_path, url_template,
};

/// §1.10 (plus `session-cookie-partitioned`, in ingress-nginx's code and risk table).
pub(super) const AFFINITY: &[AnnotationSpec] = &[
    a("affinity", Affinity, T1, Low, Ingress, Exact, |v, d| {
        d.affinity_cookie = match v.trim() {
            "cookie" => true,
            "" => false,
            _ => return Err("the only affinity type is cookie".into()),
        };
        d.mark_upstream("affinity");
        Ok(())
    })
    .on_canary(),
    a(
        "affinity-mode",
        Affinity,
        T2,
        Medium,
        Ingress,
        Partial("balanced: tokens hash onto sluice's ring, so a balanced cookie issued by ingress-nginx may move once; persistent cookies are ingress-nginx's (md5 of upstream name and address) and keep their endpoint"),
        |v, d| {
            d.affinity.mode = match v.trim() {
                "balanced" => AffinityMode::Balanced,
                "persistent" => AffinityMode::Persistent,
                _ => return Err("expected balanced or persistent".into()),
            };
            Ok(())
        },
    )
    .on_canary(),
    a(
        "affinity-canary-behavior",
        Affinity,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.canary_behavior = match v.trim() {
                "sticky" => AffinityCanaryBehavior::Sticky,
                "legacy" => AffinityCanaryBehavior::Legacy,
                _ => return Err("expected sticky or legacy".into()),
            };
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-name",
        Affinity,
        T1,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.name = token(v)?;
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-path",
        Affinity,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.path = Some(url_path(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-domain",
        Affinity,
        T3,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            let text = v.trim();
            let bare = text.strip_prefix('.').unwrap_or(text);
            hostname(bare)?;
            d.affinity.cookie.domain = Some(text.to_owned());
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-max-age",
        Affinity,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.max_age = Some(uint(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-expires",
        Affinity,
        T2,
        Medium,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.expires = Some(uint(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-samesite",
        Affinity,
        T2,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.samesite = Some(match v.trim().to_ascii_lowercase().as_str() {
                "none" => SameSite::None,
                "lax" => SameSite::Lax,
                "strict" => SameSite::Strict,
                _ => return Err("expected None, Lax or Strict".into()),
            });
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-conditional-samesite-none",
        Affinity,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.conditional_samesite_none = boolean(v)?;
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-secure",
        Affinity,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.secure = Some(boolean(v)?);
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-change-on-failure",
        Affinity,
        T3,
        Low,
        Ingress,
        Partial("when off, a retry after the pinned endpoint failed goes to another endpoint (nginx retries the pinned one) and the cookie is kept"),
        |v, d| {
            d.affinity.cookie.change_on_failure = boolean(v)?;
            Ok(())
        },
    )
    .on_canary(),
    a(
        "session-cookie-partitioned",
        Affinity,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.affinity.cookie.partitioned = boolean(v)?;
            Ok(())
        },
    )
    .on_canary(),
];

/// §1.11.
pub(super) const HEADERS: &[AnnotationSpec] = &[a(
    "custom-headers",
    Headers,
    T2,
    Medium,
    Location,
    Exact,
    |v, d| {
        d.custom_headers = Some(object_ref(v)?);
        Ok(())
    },
)];

/// §1.12.
pub(super) const MIRROR: &[AnnotationSpec] = &[
    a(
        "mirror-target",
        Mirror,
        T3,
        High,
        Ingress,
        Partial(
            "a copy never holds up the original (nginx waits for the mirror): at most 256 copies in flight per replica, more are dropped and counted",
        ),
        |v, d| {
            d.mirror_target = Some(url_template(v, Allow::VARS)?);
            Ok(())
        },
    ),
    a(
        "mirror-request-body",
        Mirror,
        T3,
        Low,
        Ingress,
        Partial(
            "the body is teed while it streams; a copy whose mirror falls more than 1 MiB behind is cut off",
        ),
        |v, d| {
            d.mirror_body = on_off(v)?;
            Ok(())
        },
    ),
    a("mirror-host", Mirror, T3, High, Ingress, Exact, |v, d| {
        d.mirror_host = Some(hostname(v)?);
        Ok(())
    }),
];

const NO_OTEL: Status = NoEffect("sluice does not export OpenTelemetry traces yet");
const OTEL_CONTEXT: Status = Partial(
    "a W3C traceparent is started (or kept) and passed upstream and to the access log; spans are not exported",
);
const NO_MODSEC: Status = NoEffect("ModSecurity is not available in sluice");

/// §1.13.
pub(super) const MISC: &[AnnotationSpec] = &[
    a(
        "enable-access-log",
        Misc,
        T2,
        Low,
        Location,
        Exact,
        |v, d| {
            d.policy.logging.access_log = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "enable-rewrite-log",
        Misc,
        T3,
        Low,
        Location,
        NoEffect("nginx rewrite debugging; sluice has no rewrite log"),
        |v, _| boolean(v).map(drop),
    ),
    a(
        "enable-opentelemetry",
        Misc,
        T3,
        Low,
        Location,
        OTEL_CONTEXT,
        |v, d| {
            d.policy.logging.opentelemetry = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "opentelemetry-trust-incoming-span",
        Misc,
        T3,
        Low,
        Location,
        OTEL_CONTEXT,
        |v, d| {
            d.policy.logging.trust_incoming_span = boolean(v)?;
            Ok(())
        },
    ),
    a(
        "opentelemetry-operation-name",
        Misc,
        T3,
        Medium,
        Location,
        NO_OTEL,
        |v, _| safe_text(v).map(drop),
    ),
    a(
        "enable-modsecurity",
        Misc,
        T3,
        Low,
        Ingress,
        NO_MODSEC,
        |v, _| boolean(v).map(drop),
    ),
    a(
        "enable-owasp-core-rules",
        Misc,
        T3,
        Low,
        Ingress,
        NO_MODSEC,
        |v, _| boolean(v).map(drop),
    ),
    a(
        "modsecurity-transaction-id",
        Misc,
        T3,
        High,
        Ingress,
        NO_MODSEC,
        |v, _| path_template(v, Allow::VARS).map(drop),
    ),
    a(
        "http2-push-preload",
        Misc,
        T3,
        Low,
        Location,
        NoEffect("HTTP/2 server push is obsolete (dropped by browsers and nginx)"),
        |v, _| boolean(v).map(drop),
    ),
];

const RAW: Status = Refused("raw nginx configuration is never applied");

/// §1.14.
pub(super) const SNIPPETS: &[AnnotationSpec] = &[
    unparsed(
        "configuration-snippet",
        Snippet,
        Refuse,
        Critical,
        Location,
        RAW,
    ),
    unparsed("server-snippet", Snippet, Refuse, Critical, Ingress, RAW),
    unparsed("auth-snippet", Snippet, Refuse, Critical, Location, RAW),
    unparsed("stream-snippet", Snippet, Refuse, Critical, Ingress, RAW),
    unparsed(
        "modsecurity-snippet",
        Snippet,
        Refuse,
        Critical,
        Ingress,
        RAW,
    ),
];

const GONE_RATE: Status =
    NoEffect("removed from ingress-nginx (PR #11851); use limit-rps or limit-rpm");
const GONE_TRACING: Status = NoEffect("OpenTracing was removed from ingress-nginx");

/// Removed from ingress-nginx, still seen in old manifests.
pub(super) const REMOVED: &[AnnotationSpec] = &[
    unparsed(
        "secure-backends",
        Removed,
        T3,
        Low,
        Location,
        NoEffect("removed from ingress-nginx; use backend-protocol: HTTPS"),
    ),
    unparsed(
        "enable-opentracing",
        Removed,
        T3,
        Low,
        Location,
        GONE_TRACING,
    ),
    unparsed(
        "opentracing-trust-incoming-span",
        Removed,
        T3,
        Low,
        Location,
        GONE_TRACING,
    ),
    unparsed("global-rate-limit", Removed, T3, Low, Location, GONE_RATE),
    unparsed(
        "global-rate-limit-window",
        Removed,
        T3,
        Low,
        Location,
        GONE_RATE,
    ),
    unparsed(
        "global-rate-limit-key",
        Removed,
        T3,
        Low,
        Location,
        GONE_RATE,
    ),
    unparsed(
        "global-rate-limit-ignored-cidrs",
        Removed,
        T3,
        Low,
        Location,
        GONE_RATE,
    ),
];

/// An entry whose value is never read.
const fn unparsed(
    name: &'static str,
    group: Group,
    tier: Tier,
    risk: RiskLevel,
    scope: Scope,
    status: Status,
) -> AnnotationSpec {
    AnnotationSpec {
        name,
        group,
        tier,
        risk,
        scope,
        status,
        alias_of: None,
        canary: false,
        parse: None,
        exact_for: None,
    }
}
