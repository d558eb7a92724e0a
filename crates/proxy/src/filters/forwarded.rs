//! The upstream request headers ingress-nginx's template sets on every location:
//! `Host` (`$best_http_host`, or `upstream-vhost`), `X-Request-ID`, `X-Real-IP`,
//! `X-Forwarded-For` (the client address, or with `use-forwarded-headers` and
//! `compute-full-forwarded-for` the incoming chain plus the peer), `X-Forwarded-Host`,
//! `X-Forwarded-Port`, `X-Forwarded-Proto`, `X-Forwarded-Scheme`, `X-Scheme`, `X-Original-URI`
//! (with `proxy-add-original-uri-header`), `X-Original-Forwarded-For` (the incoming
//! `forwarded-for-header`), `X-Original-Forwarded-Host`, `X-Forwarded-Prefix` (with a rewrite),
//! `Connection` (`connection-proxy-header`), no `Proxy` (httpoxy), then the ConfigMap's
//! `proxy-set-headers`. A header whose value would be empty is not sent, as with nginx's
//! `proxy_set_header`.

use http::header::{CONNECTION, HOST};
use http::{HeaderMap, HeaderName, HeaderValue};
use sluice_ingress_model::template::Allow;
use sluice_ingress_model::{BackendProtocol, Template};

use crate::filter::{Filter, RequestContext};
use crate::variables::Vars;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Sets the forwarded headers on upstream requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct ForwardedHeaders;

impl Filter for ForwardedHeaders {
    fn upstream_request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) {
        let settings = ctx.settings();
        let forwarded = &settings.forwarded;
        let policy = ctx.route.as_ref().map(|r| r.policy.clone());
        let grpc = policy.as_ref().is_some_and(|p| {
            matches!(
                p.upstream_request.protocol,
                BackendProtocol::Grpc | BackendProtocol::Grpcs
            )
        });
        let vars = Vars {
            ctx,
            head: req,
            captures: &ctx.captures,
        };
        // nginx does not set `Host` from `upstream-vhost` for gRPC (`grpc_set_header`).
        let host = match policy
            .as_ref()
            .and_then(|p| p.upstream_request.host.as_ref())
        {
            Some(template) if !grpc => vars.expand(template),
            _ => ctx.client.best_http_host.clone(),
        };
        let original_for = joined(&req.headers, &forwarded.for_header);
        let original_host = joined(&req.headers, X_FORWARDED_HOST.as_str());
        let forwarded_for =
            if forwarded.use_forwarded_headers && forwarded.compute_full_forwarded_for {
                match joined(&req.headers, X_FORWARDED_FOR.as_str()) {
                    Some(chain) => format!("{chain}, {}", ctx.client.full_forwarded_addr),
                    None => ctx.client.full_forwarded_addr.to_string(),
                }
            } else {
                ctx.client_ip().to_string()
            };
        let extra: Vec<(String, String)> = forwarded
            .request_headers
            .iter()
            .map(|(name, value)| {
                let expanded = match Template::parse(value, Allow::VARS) {
                    Ok(template) => vars.expand(&template),
                    Err(_) => value.clone(),
                };
                (name.clone(), expanded)
            })
            .collect();
        let client_ip = ctx.client_ip().to_string();
        let scheme = ctx.client.pass_access_scheme.clone();

        let headers = &mut req.headers;
        set(headers, HOST, &host);
        set(headers, name("x-request-id"), &ctx.request_id);
        set(headers, name("x-real-ip"), &client_ip);
        set(headers, X_FORWARDED_FOR, &forwarded_for);
        set(headers, X_FORWARDED_HOST, &ctx.client.best_http_host);
        set(headers, name("x-forwarded-port"), &ctx.client.pass_port);
        set(headers, name("x-forwarded-proto"), &scheme);
        set(headers, name("x-forwarded-scheme"), &scheme);
        if forwarded.original_uri_header {
            set(headers, name("x-original-uri"), ctx.request_uri());
        }
        set(headers, name("x-scheme"), &scheme);
        set(
            headers,
            name("x-original-forwarded-for"),
            original_for.as_deref().unwrap_or(""),
        );
        set(
            headers,
            name("x-original-forwarded-host"),
            original_host.as_deref().unwrap_or(""),
        );
        headers.remove("proxy");
        if let Some(policy) = &policy {
            if let Some(connection) = &policy.upstream_request.connection {
                set(headers, CONNECTION, connection);
            }
            if policy.rewrite.is_some()
                && let Some(prefix) = &policy.upstream_request.forwarded_prefix
            {
                set(headers, name("x-forwarded-prefix"), prefix);
            }
        }
        for (header, value) in extra {
            if let Ok(header) = HeaderName::from_bytes(header.as_bytes()) {
                set(headers, header, &value);
            }
        }
    }
}

fn name(text: &'static str) -> HeaderName {
    HeaderName::from_static(text)
}

/// Sets a header, or removes it when the value is empty (or not a valid header value).
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(value) if !value.is_empty() => {
            headers.insert(name, value);
        }
        _ => {
            headers.remove(name);
        }
    }
}

/// Every value of a header joined with `, ` (nginx's `$http_<name>`), `None` when absent or
/// empty.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = values.join(", ");
    (!joined.is_empty()).then_some(joined)
}
