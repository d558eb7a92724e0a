//! What happens to a request head before the route lookup, as nginx does it while reading the
//! request: `large-client-header-buffers` (a request line longer than one buffer gets 414, a
//! header line longer than one buffer 431), headers with `_` dropped unless
//! `enable-underscores-in-headers` (nginx ignores them as invalid), and the client's origin
//! after real-IP processing.

use http::header::HeaderName;
use http::{Response, StatusCode};

use crate::body::Body;
use crate::client_ip::{self, Arrival};
use crate::filter::RequestContext;
use crate::proxy_protocol::Addresses;

/// Checks and cleans the head and resolves the client's origin; a response means the request
/// ends here.
pub(crate) fn prepare(
    ctx: &mut RequestContext,
    parts: &mut http::request::Parts,
    proxy: Option<&Addresses>,
) -> Option<Response<Body>> {
    let generation = ctx.generation.clone();
    let fallback;
    let settings = match &generation {
        Some(generation) => generation.settings(),
        None => {
            fallback = sluice_ingress_model::Settings::default();
            &fallback
        }
    };
    let client = &settings.client;
    let line_limit = usize::try_from(client.large_header_buffer_bytes).unwrap_or(usize::MAX);
    // `METHOD SP request-target SP HTTP/1.1 CRLF`
    let request_line = parts.method.as_str().len() + 1 + ctx.request_uri.len() + 1 + 8 + 2;
    let mut early = None;
    if request_line > line_limit {
        early = Some(status(StatusCode::URI_TOO_LONG));
    } else if parts
        .headers
        .iter()
        .any(|(name, value)| name.as_str().len() + 2 + value.len() + 2 > line_limit)
    {
        early = Some(status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }
    if !client.underscores_in_headers && client.ignore_invalid_headers {
        let dropped: Vec<HeaderName> = parts
            .headers
            .keys()
            .filter(|name| name.as_str().contains('_'))
            .cloned()
            .collect();
        for name in dropped {
            parts.headers.remove(name);
        }
    }
    let arrival = Arrival {
        connection: &ctx.connection,
        proxy,
        proxy_protocol: client.proxy_protocol,
        https_port: ctx.https_port,
    };
    ctx.client = client_ip::resolve(&settings.forwarded, arrival, &parts.headers);
    if ctx.client.best_http_host.is_empty() {
        ctx.client.best_http_host = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
    }
    early
}

fn status(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::full(format!("{status}\n")));
    *response.status_mut() = status;
    response
}
