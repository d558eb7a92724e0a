//! Choosing where a request goes: the canary decision between a route's upstreams
//! ([`canary`]), then the endpoint of the chosen upstream by its policy — cookie affinity
//! ([`affinity`]) first, else round robin, peak EWMA with two random choices ([`ewma`]) or a
//! consistent-hash ring ([`hash`]).
//!
//! Balancer state (EWMA statistics, ring points) lives in the endpoint objects and the
//! upstream objects, which survive endpoint-only updates and rebuilds that keep the upstream's
//! policy; rings are rebuilt from cached points when an endpoint list changes.

pub(crate) mod affinity;
pub(crate) mod canary;
pub(crate) mod ewma;
pub(crate) mod hash;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::HeaderValue;
use http::header::USER_AGENT;
use sluice_ingress_model::policy::{Affinity, Balance};
use sluice_ingress_model::{Forward, UpstreamId, UpstreamPolicy};

use crate::generation::Generation;
#[cfg(test)]
pub(crate) use crate::random::SplitMix;
pub(crate) use crate::random::random_below;
use crate::upstream::{Endpoint, Upstream};
use crate::variables::Vars;
use affinity::{CookieContext, Pinned};

/// How many random tokens a balanced-affinity pick tries before giving up on avoiding tried
/// endpoints (ingress-nginx's `MAX_UPSTREAM_CHECKS_COUNT`).
const STICKY_TRIES: usize = 20;

/// Balancer state kept per endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointState {
    /// Latency statistics (`ewma`).
    pub ewma: ewma::Ewma,
    points: OnceLock<Box<[u32]>>,
    sticky_key: OnceLock<String>,
}

impl EndpointState {
    /// This endpoint's ketama points, computed once.
    pub fn ring_points(&self, addr: SocketAddr) -> &[u32] {
        self.points
            .get_or_init(|| hash::points_of(&addr.to_string()))
    }

    /// This endpoint's persistent-affinity key in `upstream`, computed once (an endpoint
    /// object belongs to one upstream).
    pub fn sticky_key(&self, upstream: &str, addr: SocketAddr) -> &str {
        self.sticky_key
            .get_or_init(|| affinity::endpoint_key(upstream, addr))
    }
}

/// The balancing of one upstream, built from its policy.
#[derive(Debug)]
pub(crate) struct Balancer {
    kind: Kind,
    /// The affinity ring for balanced mode (tokens hash onto it).
    sticky_ring: hash::HashRing,
    /// `md5(md5(name) + name)`.
    backend_key: String,
    name: String,
}

#[derive(Debug)]
enum Kind {
    RoundRobin,
    Ewma,
    Hash {
        key: sluice_ingress_model::Template,
        ring: hash::HashRing,
    },
}

impl Balancer {
    /// The balancer for an upstream policy.
    pub fn new(id: &UpstreamId, policy: &UpstreamPolicy) -> Self {
        let kind = match &policy.balance {
            Balance::Ewma => Kind::Ewma,
            Balance::ConsistentHash { key, subset } => Kind::Hash {
                key: key.clone(),
                ring: hash::HashRing::new(*subset),
            },
            _ => Kind::RoundRobin,
        };
        let name = id.to_string();
        Self {
            kind,
            sticky_ring: hash::HashRing::new(None),
            backend_key: affinity::backend_key(&name),
            name,
        }
    }
}

/// Picks the upstream of a forward route: its canary when [`canary::decide`] says so and the
/// canary has endpoints, else one of its backends by weight.
pub(crate) fn choose_upstream<'a>(
    generation: &'a Generation,
    route: &'a Forward,
    headers: &http::HeaderMap,
    cursor: &AtomicUsize,
) -> Option<&'a UpstreamId> {
    let main = crate::forward::choose_backend(route, cursor)?;
    let Some(canary) = &route.canary else {
        return Some(main);
    };
    let live = |id: &UpstreamId| generation.upstreams.get(id);
    let Some(canary_upstream) = live(&canary.upstream).filter(|u| !u.endpoints().is_empty()) else {
        return Some(main);
    };
    let affinity_of = |u: &'a Upstream| u.policy.affinity.as_ref().map(|a| (&u.id, a));
    let sides = canary::Sides {
        main: live(main).and_then(|u| affinity_of(u)),
        canary: affinity_of(canary_upstream),
    };
    match canary::decide(canary, headers, sides, |total| {
        // Uniform in 1..=total.
        u32::try_from(random_below(u64::from(total))).unwrap_or(0) + 1
    }) {
        canary::Decision::Canary => Some(&canary.upstream),
        canary::Decision::Main => Some(main),
    }
}

/// The endpoint choice of one request for one upstream, across its attempts.
pub(crate) struct Selection<'a> {
    upstream: &'a Upstream,
    hash_key: Option<String>,
    sticky: Option<Sticky<'a>>,
}

/// Affinity state of one request.
struct Sticky<'a> {
    affinity: &'a Affinity,
    pinned: Option<Pinned>,
    /// The key to put in a new cookie, once an endpoint was picked without one.
    issue: Option<String>,
    cookie: CookieContext,
}

impl<'a> Selection<'a> {
    /// Prepares the choice: expands the hash key and reads the affinity cookie.
    pub fn new(upstream: &'a Upstream, vars: Vars<'_>) -> Self {
        let hash_key = match &upstream.balancer.kind {
            Kind::Hash { key, .. } => Some(vars.expand(key)),
            _ => None,
        };
        let sticky = upstream
            .policy
            .affinity
            .as_ref()
            .filter(|_| !upstream.policy.service_upstream)
            .map(|affinity| Sticky {
                affinity,
                pinned: vars.cookie(&affinity.cookie.name).and_then(Pinned::parse),
                issue: None,
                cookie: CookieContext {
                    scheme: vars.ctx.connection.scheme,
                    location_path: vars
                        .ctx
                        .origin()
                        .map_or_else(|| "/".to_owned(), |o| o.path.clone()),
                    user_agent: vars
                        .head
                        .headers
                        .get(USER_AGENT)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                },
            });
        Self {
            upstream,
            hash_key,
            sticky,
        }
    }

    /// The endpoint for the next attempt, skipping `tried` ones.
    pub fn next(
        &mut self,
        list: &Arc<Vec<Arc<Endpoint>>>,
        tried: &[SocketAddr],
    ) -> Option<Arc<Endpoint>> {
        let usable = |e: &Endpoint| !tried.contains(&e.addr);
        if let Some(sticky) = &mut self.sticky {
            let balancer = &self.upstream.balancer;
            let persistent = affinity::persistent(sticky.affinity);
            // The pinned endpoint, if the cookie names one that has not failed.
            if let Some(pinned) = &sticky.pinned {
                let found = if persistent {
                    list.iter()
                        .find(|e| e.state.sticky_key(&balancer.name, e.addr) == pinned.upstream_key)
                        .cloned()
                } else {
                    balancer
                        .sticky_ring
                        .pick(list, &pinned.upstream_key, |_| true, |_| 0)
                };
                match found {
                    Some(endpoint) if usable(&endpoint) => return Some(endpoint),
                    // Pinned to an endpoint that just failed: without change-on-failure the
                    // retry goes elsewhere and the cookie stays.
                    Some(_) if !sticky.affinity.cookie.change_on_failure => {
                        return self.upstream.pick(list, tried);
                    }
                    _ => {}
                }
            }
            let (endpoint, key) = if persistent {
                let candidates: Vec<&Arc<Endpoint>> = list.iter().filter(|e| usable(e)).collect();
                let endpoint = pick_random(&candidates)?;
                let key = endpoint
                    .state
                    .sticky_key(&balancer.name, endpoint.addr)
                    .to_owned();
                (endpoint, key)
            } else {
                (0..STICKY_TRIES)
                    .find_map(|_| {
                        let token = affinity::token();
                        let endpoint = balancer.sticky_ring.pick(list, &token, |_| true, |_| 0)?;
                        usable(&endpoint).then_some((endpoint, token))
                    })
                    .or_else(|| {
                        let endpoint = self.upstream.pick(list, tried)?;
                        Some((endpoint, affinity::token()))
                    })?
            };
            sticky.issue = Some(key);
            return Some(endpoint);
        }
        match &self.upstream.balancer.kind {
            Kind::RoundRobin => self.upstream.pick(list, tried),
            Kind::Ewma => pick_ewma(list, tried, Instant::now()),
            Kind::Hash { ring, .. } => {
                let key = self.hash_key.as_deref().unwrap_or_default();
                ring.pick(list, key, usable, |n| {
                    usize::try_from(random_below(n as u64)).unwrap_or(0)
                })
            }
        }
    }

    /// Adds the `Set-Cookie` pinning the client when this request picked a new endpoint.
    pub fn pin<B>(&self, response: &mut http::Response<B>) {
        if let Some(cookie) = self.cookie() {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, cookie);
        }
    }

    /// The `Set-Cookie` pinning the client, when this request picked a new endpoint.
    pub fn cookie(&self) -> Option<HeaderValue> {
        let sticky = self.sticky.as_ref()?;
        let key = sticky.issue.as_deref()?;
        affinity::set_cookie(
            sticky.affinity,
            key,
            &self.upstream.balancer.backend_key,
            &sticky.cookie,
        )
    }
}

/// Runs one attempt against `endpoint`: counted in flight while it runs, its time to the
/// response head fed to the endpoint's EWMA when it succeeds. (A combinator rather than an
/// `async fn`, so the attempt's state is stored once, not as an argument and again as the
/// awaited future.)
pub(crate) fn measured<'a, T, E>(
    endpoint: &'a Endpoint,
    attempt: impl std::future::Future<Output = Result<T, E>> + 'a,
) -> impl std::future::Future<Output = Result<T, E>> + 'a {
    use futures::FutureExt;
    let in_flight = endpoint.state.ewma.start();
    let started = Instant::now();
    attempt.map(move |result| {
        drop(in_flight);
        if result.is_ok() {
            let now = Instant::now();
            endpoint
                .state
                .ewma
                .observe(now.saturating_duration_since(started), now);
        }
        result
    })
}

/// Power of two choices on the peak-EWMA score.
fn pick_ewma(list: &[Arc<Endpoint>], tried: &[SocketAddr], now: Instant) -> Option<Arc<Endpoint>> {
    let candidates: Vec<&Arc<Endpoint>> =
        list.iter().filter(|e| !tried.contains(&e.addr)).collect();
    match candidates.len() {
        0 => None,
        1 => candidates.first().map(|e| Arc::clone(e)),
        n => {
            let n = n as u64;
            let a = random_below(n);
            let b = (a + 1 + random_below(n - 1)) % n;
            let first = candidates.get(usize::try_from(a).ok()?)?;
            let second = candidates.get(usize::try_from(b).ok()?)?;
            let (a, b) = (&first.state.ewma, &second.state.ewma);
            // Unmeasured endpoints count as the other candidate's average.
            let (sa, sb) = (a.sampled_ms(now), b.sampled_ms(now));
            let (a_score, b_score) = (
                a.score(now, sb.unwrap_or(0.0)),
                b.score(now, sa.unwrap_or(0.0)),
            );
            let better = if b_score < a_score { second } else { first };
            Some(Arc::clone(better))
        }
    }
}

fn pick_random(candidates: &[&Arc<Endpoint>]) -> Option<Arc<Endpoint>> {
    let i = usize::try_from(random_below(candidates.len() as u64)).ok()?;
    candidates.get(i).map(|e| Arc::clone(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_prefers_the_faster_of_two() {
        let fast = Arc::new(Endpoint::new(([127, 0, 0, 1], 1).into()));
        let slow = Arc::new(Endpoint::new(([127, 0, 0, 1], 2).into()));
        let now = Instant::now();
        fast.state
            .ewma
            .observe(std::time::Duration::from_millis(1), now);
        slow.state
            .ewma
            .observe(std::time::Duration::from_millis(50), now);
        let list = vec![Arc::clone(&slow), Arc::clone(&fast)];
        for _ in 0..50 {
            assert_eq!(pick_ewma(&list, &[], now).unwrap().addr, fast.addr);
        }
        assert_eq!(pick_ewma(&list, &[fast.addr], now).unwrap().addr, slow.addr);
        assert!(pick_ewma(&list, &[fast.addr, slow.addr], now).is_none());
    }
}
