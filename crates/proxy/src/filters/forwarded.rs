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

use http::header::{AsHeaderName, CONNECTION, HOST};
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
        let route = ctx.route.clone();
        let policy = route.as_deref().map(|r| &r.policy);
        let grpc = policy.is_some_and(|p| {
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
        let vhost = match policy.and_then(|p| p.upstream_request.host.as_ref()) {
            Some(template) if !grpc => Some(vars.expand(template)),
            _ => None,
        };
        // Known names as constants: a name given as text is parsed on every lookup.
        let original_for = if forwarded
            .for_header
            .eq_ignore_ascii_case(X_FORWARDED_FOR.as_str())
        {
            joined(&req.headers, &X_FORWARDED_FOR)
        } else {
            joined(&req.headers, forwarded.for_header.as_str())
        };
        let original_host = joined(&req.headers, &X_FORWARDED_HOST);
        // The peer's address was formatted once for the connection; another (real-IP) address
        // is formatted here.
        let client_ip = match ctx.texts.as_ref().and_then(|t| t.ip(ctx.client_ip())) {
            Some(text) => nonempty(text.value()),
            None => value(&ctx.client_ip().to_string()),
        };
        let forwarded_for =
            if forwarded.use_forwarded_headers && forwarded.compute_full_forwarded_for {
                value(&match joined(&req.headers, &X_FORWARDED_FOR) {
                    Some(chain) => format!("{chain}, {}", ctx.client.full_forwarded_addr),
                    None => ctx.client.full_forwarded_addr.to_string(),
                })
            } else {
                client_ip.clone()
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
        let best_host = nonempty(ctx.client.best_http_host.value());
        let host = match &vhost {
            Some(vhost) => value(vhost),
            None => best_host.clone(),
        };
        let scheme = nonempty(ctx.client.pass_access_scheme.value());

        let headers = &mut req.headers;
        // Room for the headers set below at once, rather than growing the map step by step.
        headers.reserve(12);
        put(headers, HOST, host);
        set(headers, X_REQUEST_ID, &ctx.request_id);
        put(headers, X_REAL_IP, client_ip);
        put(headers, X_FORWARDED_FOR, forwarded_for);
        put(headers, X_FORWARDED_HOST, best_host);
        put(
            headers,
            X_FORWARDED_PORT,
            nonempty(ctx.client.pass_port.value()),
        );
        put(headers, X_FORWARDED_PROTO, scheme.clone());
        put(headers, X_FORWARDED_SCHEME, scheme.clone());
        if forwarded.original_uri_header {
            set(headers, X_ORIGINAL_URI, ctx.request_uri());
        }
        put(headers, X_SCHEME, scheme);
        set(
            headers,
            X_ORIGINAL_FORWARDED_FOR,
            original_for.as_deref().unwrap_or(""),
        );
        set(
            headers,
            X_ORIGINAL_FORWARDED_HOST,
            original_host.as_deref().unwrap_or(""),
        );
        headers.remove(PROXY);
        if let Some(policy) = policy {
            if let Some(connection) = &policy.upstream_request.connection {
                set(headers, CONNECTION, connection);
            }
            if policy.rewrite.is_some()
                && let Some(prefix) = &policy.upstream_request.forwarded_prefix
            {
                set(headers, X_FORWARDED_PREFIX, prefix);
            }
        }
        for (header, value) in extra {
            if let Ok(header) = HeaderName::from_bytes(header.as_bytes()) {
                set(headers, header, &value);
            }
        }
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_SCHEME: HeaderName = HeaderName::from_static("x-forwarded-scheme");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");
const X_ORIGINAL_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-original-forwarded-for");
const X_ORIGINAL_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-original-forwarded-host");
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
const PROXY: HeaderName = HeaderName::from_static("proxy");

/// A header value for `text`; `None` when it is empty or not a valid header value.
fn value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok().filter(|v| !v.is_empty())
}

/// A shared copy of `value`, `None` when it is empty.
fn nonempty(value: &HeaderValue) -> Option<HeaderValue> {
    (!value.is_empty()).then(|| value.clone())
}

/// Sets a header to `value`, or removes it when there is none.
fn put(headers: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(value) => {
            headers.insert(name, value);
        }
        None => {
            headers.remove(name);
        }
    }
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
fn joined(headers: &HeaderMap, name: impl AsHeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let mut joined = values.next()?.to_owned();
    for value in values {
        joined.push_str(", ");
        joined.push_str(value);
    }
    (!joined.is_empty()).then_some(joined)
}
