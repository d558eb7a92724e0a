//! The built-in filters. [`builtin`] lists them in the order the proxy installs them, ahead of
//! any filter an embedder adds; the order is nginx's phase order for an ingress-nginx location.

pub(crate) mod access;
mod body_size;
mod cors;
mod forwarded;
pub(crate) mod mtls;
mod ratelimit;
pub(crate) mod redirect;
mod request_id;
mod response_headers;
mod response_rewrite;
mod rewrite;
mod server;

use std::sync::Arc;

pub use crate::state::FeatureHeaders;
pub use access::{AccessLists, ServerRules};
pub use body_size::BodySize;
pub use cors::CorsHeaders;
pub use forwarded::ForwardedHeaders;
pub use mtls::ClientCertificates;
pub use ratelimit::RateLimits;
pub use redirect::{DeniedLocation, HttpsRedirect, RouteRedirect};
pub use request_id::RequestId;
pub use response_headers::ResponseHeaders;
pub use response_rewrite::ResponseRewrites;
pub use rewrite::RewriteTarget;
pub use server::ServerHeader;

use crate::filter::Filter;

/// The filters every proxy runs first, in nginx's order:
/// 1. request id; client-certificate checks (nginx answers those before any phase);
/// 2. the server block: `block-user-agents`/`block-referers`, `auth-tls-match-cn`, `app-root`;
/// 3. `proxy-body-size` against `Content-Length` (location selection);
/// 4. the location's rewrite phase: a denied location (503), the CORS preflight, the route's
///    own redirect, then HTTPS redirects;
/// 5. the preaccess phase: rate and connection limits (`limit-*`, `sluice.dev/limit-*-total`);
/// 6. the access phase: IP lists and `block-cidrs` (authentication follows as the pipeline's
///    asynchronous access step, after every request filter);
/// 7. `rewrite-target`;
/// 8. upstream request headers; response headers (`Server`, HSTS, added and hidden headers,
///    `proxy-cookie-*` and `proxy-redirect-*` rewrites, external-auth cookies).
pub fn builtin() -> Vec<Arc<dyn Filter>> {
    vec![
        Arc::new(RequestId),
        Arc::new(ClientCertificates),
        Arc::new(ServerRules),
        Arc::new(BodySize),
        Arc::new(DeniedLocation),
        Arc::new(CorsHeaders),
        Arc::new(RouteRedirect),
        Arc::new(HttpsRedirect),
        Arc::new(RateLimits::default()),
        Arc::new(AccessLists),
        Arc::new(RewriteTarget),
        Arc::new(ForwardedHeaders),
        Arc::new(ServerHeader),
        Arc::new(ResponseHeaders),
        Arc::new(ResponseRewrites),
        Arc::new(FeatureHeaders),
    ]
}
