//! The per-request choice between a route's main upstream and its canary, in ingress-nginx's
//! order (`balancer.lua` `route_to_alternative_balancer`):
//! 0. affinity (unless the canary's `affinity-canary-behavior` is `legacy`): a client whose
//!    affinity cookie pins it to the main upstream stays there, one pinned to the canary goes
//!    there;
//! 1. `canary-by-header`: with `-value`, an equal value → canary; with `-pattern`, a match
//!    anywhere → canary; otherwise `always` → canary and `never` → main; any other value, or
//!    no header, falls through;
//! 2. `canary-by-cookie`: `always` → canary, `never` → main, else fall through;
//! 3. `canary-weight`: a uniform draw in `1..=canary-weight-total` at most the weight → canary.
//!
//! A canary without endpoints never serves (ingress-nginx has no balancer for it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use sluice_ingress_model::policy::{Affinity, AffinityCanaryBehavior};
use sluice_ingress_model::{Canary, CanaryHeaderRule, UpstreamId};

use super::affinity::{Pinned, backend_key};
use crate::variables::cookie;

/// Compiled `canary-by-header-pattern`s kept at most (the cache is cleared when full).
const REGEX_CACHE: usize = 256;

/// Which upstream serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The route's own backends.
    Main,
    /// The canary.
    Canary,
}

/// The affinity settings of both sides, for step 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sides<'a> {
    /// The main upstream and its affinity.
    pub main: Option<(&'a UpstreamId, &'a Affinity)>,
    /// The canary upstream and its affinity.
    pub canary: Option<(&'a UpstreamId, &'a Affinity)>,
}

/// Decides for one request; `draw(n)` returns a uniform number in `1..=n`.
pub fn decide(
    canary: &Canary,
    headers: &http::HeaderMap,
    sides: Sides<'_>,
    draw: impl FnOnce(u32) -> u32,
) -> Decision {
    let legacy = sides
        .canary
        .is_some_and(|(_, a)| a.canary_behavior == AffinityCanaryBehavior::Legacy);
    if !legacy {
        if sides.main.is_some_and(|side| pinned_to(headers, side)) {
            return Decision::Main;
        }
        if sides.canary.is_some_and(|side| pinned_to(headers, side)) {
            return Decision::Canary;
        }
    }
    if let Some(rule) = &canary.header
        && let Some(value) = headers
            .get(rule.name.as_str())
            .and_then(|v| v.to_str().ok())
    {
        match &rule.rule {
            CanaryHeaderRule::Value(wanted) => {
                if value == wanted {
                    return Decision::Canary;
                }
            }
            CanaryHeaderRule::Pattern(pattern) => {
                if pattern_matches(pattern, value) {
                    return Decision::Canary;
                }
            }
            CanaryHeaderRule::AlwaysNever => match value {
                "always" => return Decision::Canary,
                "never" => return Decision::Main,
                _ => {}
            },
        }
    }
    if let Some(name) = &canary.cookie {
        match cookie(headers, name) {
            Some("always") => return Decision::Canary,
            Some("never") => return Decision::Main,
            _ => {}
        }
    }
    let total = canary.weight_total.max(1);
    if canary.weight > 0 && draw(total) <= canary.weight {
        Decision::Canary
    } else {
        Decision::Main
    }
}

/// Whether the request's affinity cookie for this upstream names it (ingress-nginx
/// `is_affinitized`).
fn pinned_to(headers: &http::HeaderMap, (id, affinity): (&UpstreamId, &Affinity)) -> bool {
    cookie(headers, &affinity.cookie.name)
        .and_then(Pinned::parse)
        .and_then(|p| p.backend_key)
        .is_some_and(|key| key == backend_key(&id.to_string()))
}

/// Whether `pattern` matches `value` anywhere; an invalid pattern never matches.
fn pattern_matches(pattern: &str, value: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<regex::Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let compiled = {
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= REGEX_CACHE && !map.contains_key(pattern) {
            map.clear();
        }
        map.entry(pattern.to_owned())
            .or_insert_with(|| {
                regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    };
    compiled.is_some_and(|re| re.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::policy::{AffinityMode, SessionCookie};
    use sluice_ingress_model::{CanaryHeader, ObjectKey, PortRef};

    fn canary(header: Option<CanaryHeaderRule>, cookie: Option<&str>, weight: u32) -> Canary {
        Canary {
            upstream: UpstreamId::new("ns", "canary", PortRef::Number(80)),
            header: header.map(|rule| CanaryHeader {
                name: "x-canary".into(),
                rule,
            }),
            cookie: cookie.map(Into::into),
            weight,
            weight_total: 100,
            origin: ObjectKey::new("ns", "canary"),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    use Decision::{Canary as C, Main as M};

    #[test]
    #[allow(clippy::type_complexity)]
    fn precedence_table() {
        use CanaryHeaderRule::{AlwaysNever, Pattern, Value};
        // (rule, cookie, weight, request headers, expected). The weight draw is always 50.
        let cases: &[(
            Option<CanaryHeaderRule>,
            Option<&str>,
            u32,
            &[(&str, &str)],
            Decision,
        )] = &[
            (Some(AlwaysNever), None, 0, &[("x-canary", "always")], C),
            (Some(AlwaysNever), None, 100, &[("x-canary", "never")], M),
            // Anything else falls through: to the cookie, then to the weight.
            (
                Some(AlwaysNever),
                Some("c"),
                0,
                &[("x-canary", "maybe"), ("cookie", "c=always")],
                C,
            ),
            (
                Some(AlwaysNever),
                Some("c"),
                100,
                &[("x-canary", "other"), ("cookie", "c=never")],
                M,
            ),
            (Some(AlwaysNever), None, 100, &[("x-canary", "other")], C),
            (Some(AlwaysNever), None, 0, &[], M),
            // The header beats the cookie.
            (
                Some(AlwaysNever),
                Some("c"),
                0,
                &[("x-canary", "never"), ("cookie", "c=always")],
                M,
            ),
            (
                Some(AlwaysNever),
                Some("c"),
                0,
                &[("x-canary", "always"), ("cookie", "c=never")],
                C,
            ),
            // -value: equal → canary; anything else (even "always") falls through.
            (Some(Value("v1".into())), None, 0, &[("x-canary", "v1")], C),
            (
                Some(Value("v1".into())),
                None,
                0,
                &[("x-canary", "always")],
                M,
            ),
            (
                Some(Value("v1".into())),
                Some("c"),
                0,
                &[("x-canary", "v2"), ("cookie", "c=always")],
                C,
            ),
            (
                Some(Value("v1".into())),
                None,
                100,
                &[("x-canary", "never")],
                C,
            ),
            // -pattern: a match anywhere → canary; no match falls through.
            (
                Some(Pattern("^beta-[0-9]+$".into())),
                None,
                0,
                &[("x-canary", "beta-42")],
                C,
            ),
            (
                Some(Pattern("beta".into())),
                None,
                0,
                &[("x-canary", "is-beta-user")],
                C,
            ),
            (
                Some(Pattern("^beta$".into())),
                None,
                0,
                &[("x-canary", "alpha")],
                M,
            ),
            (Some(Pattern("(".into())), None, 0, &[("x-canary", "(")], M),
            // Cookie alone.
            (None, Some("c"), 0, &[("cookie", "a=1; c=always")], C),
            (None, Some("c"), 100, &[("cookie", "c=never")], M),
            (None, Some("c"), 0, &[("cookie", "c=yes")], M),
            // Weight: the draw (50) against the weight.
            (None, None, 50, &[], C),
            (None, None, 49, &[], M),
        ];
        for (i, (rule, cookie_name, weight, request, expected)) in cases.iter().enumerate() {
            let c = canary(rule.clone(), *cookie_name, *weight);
            let got = decide(&c, &headers(request), Sides::default(), |total| {
                assert_eq!(total, 100);
                50
            });
            assert_eq!(
                got, *expected,
                "case {i}: {rule:?} {cookie_name:?} {weight} {request:?}"
            );
        }
    }

    #[test]
    fn affinity_pins_before_any_rule_unless_legacy() {
        let main_id = UpstreamId::new("ns", "main", PortRef::Number(80));
        let canary_id = UpstreamId::new("ns", "canary", PortRef::Number(80));
        let sticky = Affinity {
            cookie: SessionCookie::default(),
            mode: AffinityMode::Balanced,
            canary_behavior: AffinityCanaryBehavior::Sticky,
        };
        let mut legacy = sticky.clone();
        legacy.canary_behavior = AffinityCanaryBehavior::Legacy;
        let c = canary(Some(CanaryHeaderRule::AlwaysNever), None, 0);
        let on_canary = format!("INGRESSCOOKIE=tok|{}", backend_key(&canary_id.to_string()));
        let on_main = format!("INGRESSCOOKIE=tok|{}", backend_key(&main_id.to_string()));
        let draw = |_| 100;
        let run = |cookie: &str, header: Option<&str>, main: &Affinity, canary_side: &Affinity| {
            let mut pairs = vec![("cookie", cookie)];
            if let Some(h) = header {
                pairs.push(("x-canary", h));
            }
            let sides = Sides {
                main: Some((&main_id, main)),
                canary: Some((&canary_id, canary_side)),
            };
            decide(&c, &headers(&pairs), sides, draw)
        };
        assert_eq!(run(&on_canary, None, &sticky, &sticky), C);
        assert_eq!(run(&on_main, Some("always"), &sticky, &sticky), M);
        // legacy: affinity is ignored for the choice.
        assert_eq!(run(&on_main, Some("always"), &sticky, &legacy), C);
        assert_eq!(run(&on_canary, None, &sticky, &legacy), M);
        // A cookie of another name does not pin.
        let mut renamed = sticky.clone();
        renamed.cookie.name = "other".into();
        assert_eq!(run(&on_canary, None, &renamed, &renamed), M);
    }

    #[test]
    fn weights_follow_the_draw_range() {
        // With a seeded generator the share is exact for a given seed; the bound here is the
        // binomial spread (5 sigma) so any correct draw passes.
        let mut c = canary(None, None, 20);
        c.weight_total = 1000;
        let mut rng = super::super::SplitMix(42);
        let n = 20_000u32;
        let hits = (0..n)
            .filter(|_| {
                decide(&c, &http::HeaderMap::new(), Sides::default(), |t| {
                    rng.draw(t)
                }) == C
            })
            .count() as f64;
        let p = 0.02;
        let sigma = (f64::from(n) * p * (1.0 - p)).sqrt();
        assert!((hits - f64::from(n) * p).abs() <= 5.0 * sigma, "{hits}");
        c.weight = 1000;
        assert_eq!(
            decide(&c, &http::HeaderMap::new(), Sides::default(), |t| t),
            C
        );
        c.weight = 0;
        assert_eq!(
            decide(&c, &http::HeaderMap::new(), Sides::default(), |_| 1),
            M
        );
    }
}
