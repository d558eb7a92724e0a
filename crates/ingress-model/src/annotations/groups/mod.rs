//! The registry entries, one file per group of the inventory.

mod auth;
mod backend;
mod misc;
mod proxy;
mod routing;
mod sluice;
mod traffic;

pub(crate) use auth::{cache_durations, method};
pub(crate) use backend::{hash_balance, proxy_redirect};
pub(crate) use sluice::DESCRIPTIONS as SLUICE_DESCRIPTIONS;
pub(crate) use sluice::SLUICE;

use super::{AnnotationSpec, Draft, Group, Scope, Status, Tier};
use crate::key::ObjectKey;
use crate::policy::RiskLevel;

/// Every group's entries, in documentation order.
pub(super) const ALL: &[&[AnnotationSpec]] = &[
    routing::ROUTING,
    routing::TLS,
    backend::BACKEND,
    proxy::PROXY,
    traffic::CANARY,
    traffic::RATE_LIMIT,
    traffic::ACCESS,
    traffic::CORS,
    auth::AUTH,
    misc::AFFINITY,
    misc::HEADERS,
    misc::MIRROR,
    misc::MISC,
    misc::SNIPPETS,
    misc::REMOVED,
];

/// An entry with a parser.
const fn a(
    name: &'static str,
    group: Group,
    tier: Tier,
    risk: RiskLevel,
    scope: Scope,
    status: Status,
    parse: fn(&str, &mut Draft) -> Result<(), String>,
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
        parse: Some(parse),
        exact_for: None,
    }
}

impl AnnotationSpec {
    /// Marks the values a partial entry serves exactly.
    const fn exact_for(mut self, values: fn(&str) -> bool) -> Self {
        self.exact_for = Some(values);
        self
    }

    /// Marks an entry as honoured on canary Ingresses.
    const fn on_canary(mut self) -> Self {
        self.canary = true;
        self
    }

    /// Turns an entry into an alias of `canonical` (same parser and status).
    const fn alias(mut self, name: &'static str, canonical: &'static str) -> Self {
        self.name = name;
        self.alias_of = Some(canonical);
        self
    }
}

/// Checks a `[namespace/]name` object reference.
fn object_ref(value: &str) -> Result<String, String> {
    let text = value.trim();
    ObjectKey::parse(text, "default")
        .filter(|k| [&k.namespace, &k.name].iter().all(|s| dns_name(s)))
        .map(|_| text.to_owned())
        .ok_or_else(|| format!("{text:?} is not a [namespace/]name reference"))
}

/// A DNS-1123 subdomain (object names).
fn dns_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !text.starts_with(['-', '.'])
        && !text.ends_with(['-', '.'])
}

/// A cookie or query-parameter name.
fn token(value: &str) -> Result<String, String> {
    let text = value.trim();
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(format!("{text:?} is not a valid name"));
    }
    Ok(text.to_owned())
}

/// Compiles a regex the way sluice will use it (Rust syntax, size-limited).
fn check_regex(pattern: &str) -> Result<(), String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| format!("invalid regular expression: {e}"))
}
