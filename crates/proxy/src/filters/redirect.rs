//! The location's rewrite phase, in nginx's order: a denied location answers 503
//! (`Policy::deny`); `permanent-redirect`/`temporal-redirect` (and the `from-to-www-redirect`
//! twin host) answer with the route's redirect, variables expanded; then `lua_ingress.rewrite`
//! sends plain-HTTP requests to HTTPS (`ssl-redirect` when the host has TLS, `force-ssl-redirect`
//! always, except `no-tls-redirect-locations`).

use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Response, StatusCode};
use sluice_ingress_model::Action;

use crate::body::Body;
use crate::filter::{Filter, Flow, RequestContext};
use crate::variables::Vars;

/// `Policy::deny`: 503 for every request of a misconfigured location.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeniedLocation;

impl Filter for DeniedLocation {
    fn request(&self, ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        match ctx.route.as_ref().and_then(|r| r.policy.deny.as_ref()) {
            Some(deny) => {
                tracing::debug!(reason = %deny.reason, host = %ctx.host, path = %ctx.path, "location denied");
                let status =
                    StatusCode::from_u16(deny.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                Flow::Respond(page(status))
            }
            None => Flow::Continue,
        }
    }
}

/// The route's own redirect (`permanent-redirect`, `temporal-redirect`, the www twin).
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteRedirect;

impl Filter for RouteRedirect {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let Some(route) = ctx.route.as_ref() else {
            return Flow::Continue;
        };
        let Action::Redirect(redirect) = &route.action else {
            return Flow::Continue;
        };
        let www_twin =
            route.origin.is_none() && ctx.vhost.as_ref().is_some_and(|_| ctx.generation.is_some());
        let location = if www_twin && is_www_twin(ctx) {
            www_location(ctx, &redirect.template.text)
        } else {
            let vars = Vars {
                ctx,
                head: req,
                captures: &[],
            };
            absolute(ctx, vars.expand(&redirect.template))
        };
        Flow::Respond(redirect_to(redirect.status, &location))
    }
}

/// Whether the request's virtual host is a `from-to-www-redirect` twin (created by the model
/// with a single redirect route and no Ingress origin).
fn is_www_twin(ctx: &RequestContext) -> bool {
    let Some(generation) = &ctx.generation else {
        return false;
    };
    generation
        .table
        .routes
        .virtual_host(&ctx.host)
        .is_some_and(|v| v.policy.alias_of.is_some() && v.routes.len() == 1)
}

/// The twin's redirect as ingress-nginx's redirect server builds it: the scheme
/// (`X-Forwarded-Proto` with `use-forwarded-headers`), the rule host, the HTTPS listener's port
/// when it is not 443, and `$request_uri` without a trailing slash.
fn www_location(ctx: &RequestContext, template_text: &str) -> String {
    // The model writes the twin's location as `$scheme://<rule host>$request_uri`.
    let host = template_text
        .strip_prefix("$scheme://")
        .and_then(|rest| rest.strip_suffix("$request_uri"))
        .unwrap_or(&ctx.host);
    let scheme = if ctx.settings().forwarded.use_forwarded_headers {
        ctx.client.pass_access_scheme.as_str().to_owned()
    } else {
        ctx.connection.scheme.as_str().to_owned()
    };
    let uri = ctx.request_uri();
    let uri = uri.strip_suffix('/').unwrap_or(uri);
    if ctx.https_port == 443 {
        format!("{scheme}://{host}{uri}")
    } else {
        format!("{scheme}://{host}:{}{uri}", ctx.https_port)
    }
}

/// nginx's `absolute_redirect on`: a location starting with `/` gets the request's scheme and
/// host (and the port with `use-port-in-redirects`), unless `relative-redirects`.
fn absolute(ctx: &RequestContext, location: String) -> String {
    if !location.starts_with('/') || location.starts_with("//") {
        return location;
    }
    let redirects = ctx.route.as_ref().map(|r| &r.policy.redirects);
    if redirects.is_some_and(|r| r.relative) {
        return location;
    }
    let scheme = ctx.connection.scheme.as_str();
    let port = ctx.connection.port;
    let default_port = matches!((scheme, port), ("http", 80) | ("https", 443));
    if redirects.is_some_and(|r| r.port_in_redirects) && !default_port {
        format!("{scheme}://{}:{port}{location}", ctx.host)
    } else {
        format!("{scheme}://{}{location}", ctx.host)
    }
}

/// `ssl-redirect` / `force-ssl-redirect` (ingress-nginx's `lua_ingress.rewrite`).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpsRedirect;

impl Filter for HttpsRedirect {
    fn request(&self, ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        let Some(route) = ctx.route.as_ref() else {
            return Flow::Continue;
        };
        if !matches!(route.action, Action::Forward(_)) {
            return Flow::Continue;
        }
        let redirects = &route.policy.redirects;
        // `isLocationInLocationList`: the Ingress path as written starts with a listed prefix.
        let location_path = route.origin.as_ref().map_or("/", |o| o.path.as_str());
        if redirects
            .no_tls_redirect_locations
            .iter()
            .any(|prefix| !prefix.is_empty() && location_path.starts_with(prefix.as_str()))
        {
            return Flow::Continue;
        }
        let plain = ctx.client.pass_access_scheme == "http";
        let wanted = if redirects.force_ssl_redirect && plain {
            true
        } else if !plain {
            false
        } else {
            redirects.ssl_redirect && ctx.vhost.as_ref().is_some_and(|v| v.has_tls)
        };
        if !wanted {
            return Flow::Continue;
        }
        let mut uri = ctx.request_uri().to_owned();
        if !redirects.preserve_trailing_slash && uri.ends_with('/') {
            uri.pop();
        }
        // `redirect_host`: `$best_http_host` up to the first `:`.
        let host = ctx
            .client
            .best_http_host
            .as_str()
            .split(':')
            .next()
            .unwrap_or_default();
        let location = if redirects.port_in_redirects {
            format!("https://{host}:{}{uri}", ctx.https_port)
        } else {
            format!("https://{host}{uri}")
        };
        Flow::Respond(redirect_to(redirects.code, &location))
    }
}

/// A redirect response with nginx's HTML body.
pub(crate) fn redirect_to(code: u16, location: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
    let mut response = page(status);
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => {
            tracing::warn!(location, "redirect location is not a valid header value");
            return page(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    response
}

/// nginx's page for a status it generates itself.
pub(crate) fn page(status: StatusCode) -> Response<Body> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>sluice</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}
