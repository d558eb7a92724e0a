//! Per-request state of the traffic features (limits, auth, affinity, mirroring), carried in
//! [`RequestContext`](crate::filter::RequestContext), and the built-in filter that adds the
//! external-auth cookies to the response. The client IP they all use is
//! [`RequestContext::client_ip`](crate::filter::RequestContext::client_ip), the address after
//! real-IP processing.

use http::HeaderValue;

use crate::filter::{Filter, RequestContext};
use crate::limits::ConnectionGuard;

/// What the traffic features remember about one request.
#[derive(Debug, Default)]
pub(crate) struct FeatureState {
    /// Concurrency slots (`limit-connections*`), released when the context is dropped, that is
    /// once the response is finished.
    pub limit_guard: Option<ConnectionGuard>,
    /// `Set-Cookie` values of an external-auth answer, for the client's response.
    pub auth_cookies: Vec<HeaderValue>,
    /// Whether they go on every status (`auth-always-set-cookie`).
    pub auth_cookies_always: bool,
}

/// Adds an external-auth answer's `Set-Cookie` values to the client's response (every status
/// with `auth-always-set-cookie`, else the successful and redirect ones).
#[derive(Clone, Copy, Debug, Default)]
pub struct FeatureHeaders;

impl Filter for FeatureHeaders {
    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let cookies = std::mem::take(&mut ctx.state.auth_cookies);
        if crate::auth::cookies_for(res.status, ctx.state.auth_cookies_always) {
            for cookie in cookies {
                res.headers.append(http::header::SET_COOKIE, cookie);
            }
        }
    }
}
