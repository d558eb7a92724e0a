//! Response headers the proxy adds or removes: `hide-headers` (upstream headers removed),
//! HSTS on HTTPS responses (`hsts`, `hsts-max-age`, `hsts-include-subdomains`, `hsts-preload`;
//! ingress-nginx's header filter sets it on every HTTPS response of an Ingress location,
//! replacing the upstream's), the ConfigMap's `add-headers` and the route's `custom-headers`
//! (both set on every status, like `more_set_headers`).

use http::header::STRICT_TRANSPORT_SECURITY;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::filter::{Filter, RequestContext, Scheme};

/// Applies the response header settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseHeaders;

impl Filter for ResponseHeaders {
    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let settings = ctx.settings();
        let headers = &mut res.headers;
        if ctx.from_upstream {
            for name in &settings.forwarded.hide_headers {
                headers.remove(name.as_str());
            }
        }
        let hsts = &settings.tls.hsts;
        if hsts.enabled && ctx.connection.scheme == Scheme::Https {
            let mut value = format!("max-age={}", hsts.max_age);
            if hsts.include_subdomains {
                value.push_str("; includeSubDomains");
            }
            if hsts.preload {
                value.push_str("; preload");
            }
            set(headers, STRICT_TRANSPORT_SECURITY.as_str(), &value);
        }
        for (name, value) in &settings.forwarded.response_headers {
            set(headers, name, value);
        }
        if let Some(route) = &ctx.route {
            for (name, value) in &route.policy.response_headers {
                set(headers, name, value);
            }
        }
    }
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}
