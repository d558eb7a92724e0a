//! The `Server` header: the upstream's is hidden (nginx's default `proxy_hide_header Server`)
//! unless `allow-backend-server-header`, and the proxy sends its own: `sluice`, or
//! `sluice/<version>` with `server-tokens: "true"`.
//!
//! Deliberate difference: ingress-nginx clears the header entirely by default
//! (`more_clear_headers Server`). sluice always sends one, because the Ingress conformance suite
//! requires a `Server` response header and nginx itself answers `Server: nginx` with
//! `server_tokens off`; the version is never disclosed unless asked for.

use http::HeaderValue;
use http::header::SERVER;

use crate::filter::{Filter, RequestContext};

/// The proxy's `Server` value with `server-tokens: "true"`.
const SERVER_TOKEN: &str = concat!("sluice/", env!("CARGO_PKG_VERSION"));

/// The proxy's `Server` value by default (no version).
const SERVER_NAME: &str = "sluice";

/// Applies `server-tokens` and `allow-backend-server-header`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerHeader;

impl Filter for ServerHeader {
    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let settings = ctx.settings();
        let keep_backend = ctx.from_upstream
            && settings.forwarded.allow_backend_server_header
            && res.headers.contains_key(SERVER);
        if keep_backend {
            return;
        }
        let value = if settings.client.server_tokens {
            SERVER_TOKEN
        } else {
            SERVER_NAME
        };
        res.headers.insert(SERVER, HeaderValue::from_static(value));
    }
}
