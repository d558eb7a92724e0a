//! The `Server` header as ingress-nginx sends it: the upstream's is hidden (nginx's default
//! `proxy_hide_header Server`) unless `allow-backend-server-header`, and the proxy's own is
//! cleared (`more_clear_headers Server`) unless `server-tokens`, which names sluice and its
//! version.

use http::HeaderValue;
use http::header::SERVER;

use crate::filter::{Filter, RequestContext};

/// The proxy's `Server` value with `server-tokens: "true"`.
const SERVER_TOKEN: &str = concat!("sluice/", env!("CARGO_PKG_VERSION"));

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
        res.headers.remove(SERVER);
        if settings.client.server_tokens {
            res.headers
                .insert(SERVER, HeaderValue::from_static(SERVER_TOKEN));
        }
    }
}
