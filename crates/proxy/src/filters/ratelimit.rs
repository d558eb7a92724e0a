//! Rate and connection limits as a filter: when a limit of the route's Ingress is exceeded it
//! answers `limit-req-status-code` or `limit-conn-status-code` (ConfigMap, 503 by default) with
//! nginx's error page. Runs in nginx's preaccess position: after the rewrite-phase filters (a
//! denied location or a redirect never counts) and before the access lists and authentication.

use std::sync::Arc;

use http::StatusCode;
use sluice_ingress_model::ObjectKey;

use crate::filter::{Filter, Flow, Mark, RequestContext};
use crate::filters::redirect::page;
use crate::limits::{Verdict, Zones};

/// The zone key of routes without an Ingress (the controller's default backend).
const DEFAULT_ZONE: (&str, &str) = ("", "(default-backend)");

/// Applies the route policy's `rate_limit`.
#[derive(Debug, Default)]
pub struct RateLimits {
    zones: Arc<Zones>,
}

impl Filter for RateLimits {
    fn request(&self, ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        let Some(route) = &ctx.route else {
            return Flow::Continue;
        };
        let limits = &route.policy.rate_limit;
        let default_zone;
        let ingress = match &route.origin {
            Some(origin) => &origin.ingress,
            None => {
                default_zone = ObjectKey::new(DEFAULT_ZONE.0, DEFAULT_ZONE.1);
                &default_zone
            }
        };
        let client = ctx.client_ip();
        let (mark, status) = match self.zones.check(ingress, limits, client) {
            Verdict::Unlimited => return Flow::Continue,
            Verdict::Admitted(guard) => {
                ctx.state.limit_guard = guard;
                return Flow::Continue;
            }
            Verdict::RateExceeded => (Mark::RateLimited, ctx.settings().limit_req_status),
            Verdict::ConnectionsExceeded => {
                (Mark::ConnectionLimited, ctx.settings().limit_conn_status)
            }
        };
        tracing::debug!(%client, %ingress, status, "request limited");
        ctx.mark(mark);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        Flow::Respond(page(status))
    }
}
