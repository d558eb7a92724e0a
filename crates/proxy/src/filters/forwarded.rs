//! The headers ingress-nginx sets for the upstream (with `use-forwarded-headers: false`):
//! `X-Forwarded-For` becomes the client address (the incoming value moves to
//! `X-Original-Forwarded-For`), plus `X-Real-IP`, `X-Forwarded-Host`, `X-Forwarded-Port`,
//! `X-Forwarded-Proto`, `X-Scheme`; the `Proxy` header is dropped (httpoxy).

use http::HeaderValue;
use http::header::{HOST, HeaderName};

use crate::filter::{Filter, RequestContext};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_ORIGINAL_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-original-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");
const PROXY: HeaderName = HeaderName::from_static("proxy");

/// Sets the `X-Forwarded-*` family on upstream requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct ForwardedHeaders;

impl Filter for ForwardedHeaders {
    fn upstream_request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) {
        let headers = &mut req.headers;
        headers.remove(PROXY);
        let client = ip_value(ctx);
        if let Some(original) = join_values(headers, &X_FORWARDED_FOR) {
            headers.insert(X_ORIGINAL_FORWARDED_FOR, original);
        }
        headers.insert(X_FORWARDED_FOR, client.clone());
        headers.insert(X_REAL_IP, client);
        let host = headers.get(HOST).cloned().or_else(|| {
            req.uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        match host {
            Some(host) => headers.insert(X_FORWARDED_HOST, host),
            None => headers.remove(X_FORWARDED_HOST),
        };
        headers.insert(X_FORWARDED_PORT, HeaderValue::from(ctx.connection.port));
        let scheme = HeaderValue::from_static(ctx.connection.scheme.as_str());
        headers.insert(X_FORWARDED_PROTO, scheme.clone());
        headers.insert(X_SCHEME, scheme);
    }
}

fn ip_value(ctx: &RequestContext) -> HeaderValue {
    // An IP address always formats to a valid header value.
    HeaderValue::from_str(&ctx.connection.client.ip().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// All values of a header joined with `, `, if there is any.
fn join_values(headers: &http::HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let rest: Vec<&HeaderValue> = values.collect();
    if rest.is_empty() {
        return Some(first.clone());
    }
    let mut joined = first.as_bytes().to_vec();
    for value in rest {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}
