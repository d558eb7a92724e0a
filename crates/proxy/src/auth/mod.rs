//! The access step of the pipeline (nginx's access phase): fail-closed denial, the IP lists,
//! basic/digest auth and external auth, combined by `satisfy`. It runs after the request
//! filters (so after rate limits, as in nginx) and is asynchronous, which is why it is a
//! pipeline step rather than a [`Filter`](crate::Filter).
//!
//! Order and combination:
//! 1. `Policy.deny` (auth or TLS misconfiguration): answer its status (503), nothing else runs;
//! 2. with neither basic nor external auth (route `auth-url`, or ConfigMap `global-auth-url`
//!    unless `enable-global-auth: false` or the path is under `no-auth-locations`), nothing to
//!    do here: the IP lists are the access-list filter's;
//! 3. `satisfy: all` (default): the IP lists, then basic auth (401 challenge), then external
//!    auth must all pass;
//! 4. `satisfy: any`: the first passing check admits the request; when all fail the answer is
//!    a 401 if any check answered 401, else 403 (nginx's `access_code`).
//!
//! Hook for the access-list filter: on routes where `access.satisfy` is `any` and basic or
//! external auth applies, that filter must not answer 403 itself; this step evaluates the
//! lists ([`ip_allowed`]) together with authentication.

mod basic;
mod external;
mod hashes;
mod verdict;

pub(crate) use verdict::cookies_for;

use std::net::IpAddr;

use http::{Response, StatusCode};
use sluice_ingress_model::Policy;
use sluice_ingress_model::policy::{AccessControl, ExternalAuth, Satisfy};

use crate::body::Body;
use crate::filter::RequestContext;
use basic::Basic;
use external::External;
use verdict::{Grant, Verdict};

/// Runs the access step; owns the external-auth client and cache.
#[derive(Debug)]
pub(crate) struct Authenticator {
    external: External,
    digest_secret: [u8; 16],
}

impl Authenticator {
    /// A new authenticator with a random digest-nonce secret.
    pub fn new() -> Self {
        let mut digest_secret = [0u8; 16];
        if getrandom::fill(&mut digest_secret).is_err() {
            // Near impossible; a time-derived secret still makes nonces unguessable enough
            // for their five-minute life.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            digest_secret = nanos.to_le_bytes();
        }
        Self {
            external: External::default(),
            digest_secret,
        }
    }

    /// Checks a request; `Some(response)` ends it with that response.
    pub async fn check(
        &self,
        ctx: &mut RequestContext,
        parts: &mut http::request::Parts,
    ) -> Option<Response<Body>> {
        match self.decide(ctx, parts).await {
            Decision::Pass => None,
            Decision::Grant(grant) => {
                admit(ctx, parts, &grant);
                None
            }
            Decision::Refuse(response) => Some(response),
        }
    }

    /// The decision, reading the request only.
    async fn decide(&self, ctx: &RequestContext, parts: &http::request::Parts) -> Decision {
        let Some(route) = &ctx.route else {
            return Decision::Pass;
        };
        let policy = &route.policy;
        if let Some(deny) = &policy.deny {
            tracing::debug!(reason = %deny.reason, "location denied");
            let status =
                StatusCode::from_u16(deny.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Decision::Refuse(verdict::plain(status));
        }
        let external = policy
            .auth
            .external
            .as_ref()
            .or_else(|| global_auth(policy, ctx.settings(), ctx));
        let basic = policy.auth.basic.as_ref();
        if basic.is_none() && external.is_none() {
            return Decision::Pass;
        }
        let client = ctx.client_ip();
        let lists = &policy.access;
        let lists_configured = !lists.allow.is_empty() || !lists.deny.is_empty();
        let any = lists.satisfy == Satisfy::Any;
        let mut failures: Vec<(Response<Body>, bool)> = Vec::new();

        if lists_configured {
            if ip_allowed(lists, client) {
                if any {
                    return Decision::Pass;
                }
            } else if any {
                failures.push((verdict::plain(StatusCode::FORBIDDEN), false));
            } else {
                return Decision::Refuse(verdict::plain(StatusCode::FORBIDDEN));
            }
        }
        if let Some(auth) = basic {
            match basic::check(auth, parts, ctx.request_uri(), &self.digest_secret).await {
                Basic::Valid if any => return Decision::Pass,
                Basic::Valid => {}
                Basic::Challenge(challenge) => {
                    let mut response = verdict::plain(StatusCode::UNAUTHORIZED);
                    response
                        .headers_mut()
                        .insert(http::header::WWW_AUTHENTICATE, challenge);
                    if !any {
                        return Decision::Refuse(response);
                    }
                    failures.push((response, true));
                }
            }
        }
        if let Some(auth) = external {
            match self.external.check(auth, policy, ctx, parts).await {
                Verdict::Allow(grant) => return Decision::Grant(grant),
                Verdict::Deny {
                    response,
                    unauthorized,
                } => {
                    if !any {
                        return Decision::Refuse(response);
                    }
                    failures.push((response, unauthorized));
                }
            }
        }
        if failures.is_empty() {
            return Decision::Pass;
        }
        // satisfy any, all failed: a 401 wins over a 403.
        let index = failures
            .iter()
            .position(|(_, unauthorized)| *unauthorized)
            .unwrap_or(0);
        Decision::Refuse(failures.swap_remove(index).0)
    }
}

/// What the access step decided.
enum Decision {
    /// Go on.
    Pass,
    /// Go on with what external auth granted.
    Grant(Grant),
    /// Answer with this.
    Refuse(Response<Body>),
}

/// Applies an external-auth grant: headers into the request, cookies onto the response.
fn admit(ctx: &mut RequestContext, parts: &mut http::request::Parts, grant: &Grant) {
    grant.apply(&mut parts.headers);
    ctx.state.auth_cookies = grant.set_cookies.clone();
    ctx.state.auth_cookies_always = grant.always_set_cookie;
}

/// The ConfigMap's global external auth, when it applies to this route.
fn global_auth<'a>(
    policy: &Policy,
    settings: &'a sluice_ingress_model::Settings,
    ctx: &RequestContext,
) -> Option<&'a ExternalAuth> {
    if !policy.auth.global {
        return None;
    }
    let global = settings.global_auth.as_ref()?;
    let origin = ctx.origin()?;
    let exempt = global
        .no_auth_locations
        .iter()
        .any(|location| under(&ctx.path, location) || under(&origin.path, location));
    (!exempt).then_some(&global.auth)
}

/// Whether `path` is `prefix` or below it, element-wise.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The IP lists: a denied address fails; with an allow list, only listed addresses pass.
pub(crate) fn ip_allowed(lists: &AccessControl, client: IpAddr) -> bool {
    if lists.deny.iter().any(|net| net.contains(&client)) {
        return false;
    }
    lists.allow.is_empty() || lists.allow.iter().any(|net| net.contains(&client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_auth_locations_match_element_wise() {
        assert!(under(
            "/.well-known/acme-challenge/tok",
            "/.well-known/acme-challenge"
        ));
        assert!(under(
            "/.well-known/acme-challenge",
            "/.well-known/acme-challenge/"
        ));
        assert!(!under(
            "/.well-known/acme-challengex",
            "/.well-known/acme-challenge"
        ));
        assert!(under("/anything", "/"));
    }

    #[test]
    fn ip_lists() {
        let lists = AccessControl {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec!["10.9.0.0/16".parse().unwrap()],
            satisfy: Satisfy::All,
        };
        assert!(ip_allowed(&lists, [10, 1, 2, 3].into()));
        assert!(!ip_allowed(&lists, [10, 9, 2, 3].into()));
        assert!(!ip_allowed(&lists, [192, 168, 0, 1].into()));
        assert!(ip_allowed(&AccessControl::default(), [1, 2, 3, 4].into()));
    }
}
