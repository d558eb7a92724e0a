//! sluice's own annotations, under [`crate::annotations::SLUICE_PREFIX`]: settings ingress-nginx
//! has no annotation for. They follow the same processing rules (an invalid value rejects the
//! Ingress; they are ignored on canary Ingresses).

use super::a;
use crate::annotations::AnnotationSpec;
use crate::annotations::Group::RateLimit;
use crate::annotations::Scope::Ingress;
use crate::annotations::Status::Exact;
use crate::annotations::Tier::T3;
use crate::policy::RiskLevel::Low;
use crate::values::uint32;

/// `sluice.dev/*`.
pub(crate) const SLUICE: &[AnnotationSpec] = &[
    a(
        "limit-rps-total",
        RateLimit,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.policy.rate_limit.rps_total = uint32(v)?;
            Ok(())
        },
    ),
    a(
        "limit-connections-total",
        RateLimit,
        T3,
        Low,
        Ingress,
        Exact,
        |v, d| {
            d.policy.rate_limit.connections_total = uint32(v)?;
            Ok(())
        },
    ),
];

/// What each of sluice's own annotations does, for `docs/compatibility.md`.
pub(crate) const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "limit-rps-total",
        "requests per second of all clients of the Ingress together, per replica (0 = off); burst = limit × `limit-burst-multiplier`, nodelay; excess gets `limit-req-status-code`; `limit-allowlist` clients are exempt",
    ),
    (
        "limit-connections-total",
        "concurrent requests of all clients of the Ingress together, per replica (0 = off); excess gets `limit-conn-status-code`; `limit-allowlist` clients are exempt",
    ),
];
