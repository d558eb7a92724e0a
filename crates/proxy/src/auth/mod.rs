//! The authentication part of nginx's access phase: basic/digest auth and external auth,
//! combined with the IP lists by `satisfy`. It runs after the request filters (so after the
//! rate limits and the access-list filter, as in nginx) and is asynchronous, which is why it is
//! a pipeline step rather than a [`Filter`](crate::Filter). A denied location (`Policy.deny`)
//! never gets here: the `DeniedLocation` filter answers it.
//!
//! Order and combination:
//! 1. with neither basic nor external auth ([`required`]: route `auth-url`, or ConfigMap
//!    `global-auth-url` unless `enable-global-auth: false` or the path is under
//!    `no-auth-locations`), nothing to do here: the IP lists are the access-list filter's;
//! 2. `satisfy: all` (default): the access-list filter already refused a listed-out client;
//!    basic auth (401 challenge), then external auth must pass;
//! 3. `satisfy: any`: the access-list filter leaves its verdict in
//!    [`RequestContext::source_allowed`]; the first passing check admits the request; when all
//!    fail the answer is a 401 if any check answered 401, else 403 (nginx's `access_code`).

mod basic;
mod external;
mod hashes;
mod verdict;

pub(crate) use verdict::cookies_for;

use http::{Response, StatusCode};
use sluice_ingress_model::policy::{ExternalAuth, Satisfy};

use crate::body::Body;
use crate::filter::{Mark, RequestContext};
use crate::filters::redirect::page;
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
        Self {
            external: External::default(),
            digest_secret: crate::random::os_bytes(),
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
            Decision::Refuse(response) => {
                ctx.mark(Mark::AuthRejected);
                Some(response)
            }
        }
    }

    /// The decision, reading the request only.
    async fn decide(&self, ctx: &RequestContext, parts: &http::request::Parts) -> Decision {
        let Some(route) = &ctx.route else {
            return Decision::Pass;
        };
        let policy = &route.policy;
        let external = external_auth(ctx);
        let basic = policy.auth.basic.as_ref();
        let any = policy.access.satisfy == Satisfy::Any;
        let mut failures: Vec<(Response<Body>, bool)> = Vec::new();
        // `satisfy any`: the access-list filter's verdict on the client address.
        match ctx.source_allowed() {
            Some(true) => return Decision::Pass,
            Some(false) => failures.push((page(StatusCode::FORBIDDEN), false)),
            None => {}
        }
        if basic.is_none() && external.is_none() {
            return match failures.pop() {
                Some((response, _)) => Decision::Refuse(response),
                None => Decision::Pass,
            };
        }
        if let Some(auth) = basic {
            match basic::check(auth, parts, ctx.request_uri(), &self.digest_secret).await {
                Basic::Valid if any => return Decision::Pass,
                Basic::Valid => {}
                Basic::Challenge(challenge) => {
                    let mut response = page(StatusCode::UNAUTHORIZED);
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

/// Whether the request's route asks for authentication: basic/digest, its own external auth,
/// or the ConfigMap's global auth where that applies.
pub(crate) fn required(ctx: &RequestContext) -> bool {
    ctx.route
        .as_ref()
        .is_some_and(|route| route.policy.auth.basic.is_some())
        || external_auth(ctx).is_some()
}

/// The external auth of the request's route: its own `auth-url`, else the ConfigMap's global
/// auth when it applies.
fn external_auth(ctx: &RequestContext) -> Option<&ExternalAuth> {
    let auth = &ctx.route.as_ref()?.policy.auth;
    match &auth.external {
        Some(external) => Some(external),
        None if auth.global => global_auth(ctx),
        None => None,
    }
}

/// The ConfigMap's global external auth, unless the path is under `no-auth-locations`.
fn global_auth(ctx: &RequestContext) -> Option<&ExternalAuth> {
    let global = ctx.settings().global_auth.as_ref()?;
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
}
