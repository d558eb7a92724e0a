//! What happens to a request head before the route lookup, as nginx does it while reading the
//! request: `large-client-header-buffers` (a request line longer than one buffer gets 414, a
//! header line longer than one buffer 431), headers with `_` dropped unless
//! `enable-underscores-in-headers` (nginx ignores them as invalid), the host and method checks
//! of nginx's `ngx_http_process_request_header` (400 for an HTTP/1.1 or HTTP/2 request without
//! a host, a second `Host` line or an invalid host; 405 for CONNECT and TRACE, which are never
//! forwarded), the path routes are looked up with (400 for `%00` or an encoded slash that
//! moves dot segments), and the client's origin after real-IP processing.

use http::header::{CONNECTION, HOST, HeaderName};
use http::{Method, Response, StatusCode, Version};

use crate::body::Body;
use crate::client_ip::{self, Arrival};
use crate::filter::RequestContext;
use crate::proxy_protocol::Addresses;
use crate::text::Text;

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
    } else if let Some(refused) = check_host_and_method(parts) {
        early = Some(closing(refused));
    } else if encoded_nul(parts.uri.path()) {
        early = Some(closing(StatusCode::BAD_REQUEST));
    }
    match route_path(parts.uri.path()) {
        Some(path) => ctx.path = path,
        None => {
            ctx.path = sluice_router::normalize_path(parts.uri.path()).into_owned();
            early.get_or_insert_with(|| closing(StatusCode::BAD_REQUEST));
        }
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
        texts: ctx.texts.as_ref(),
    };
    ctx.client = client_ip::resolve(&settings.forwarded, arrival, &parts.headers);
    if ctx.client.best_http_host.is_empty()
        && let Some(authority) = parts.uri.authority()
    {
        ctx.client.best_http_host = Text::copy(authority.as_str());
    }
    early
}

/// nginx's checks once the head is read: a host is required from HTTP/1.1 on (the URI's
/// authority, else the one `Host` line), must be valid (`ngx_http_validate_host`), and CONNECT
/// and TRACE get 405.
fn check_host_and_method(parts: &http::request::Parts) -> Option<StatusCode> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let host_header = hosts.next();
    if hosts.next().is_some() {
        return Some(StatusCode::BAD_REQUEST);
    }
    let host = match parts.uri.authority() {
        Some(authority) => Some(authority.as_str().as_bytes()),
        None => host_header.map(http::HeaderValue::as_bytes),
    };
    match host {
        Some(host) if !valid_host(host) => return Some(StatusCode::BAD_REQUEST),
        None if parts.version > Version::HTTP_10 => return Some(StatusCode::BAD_REQUEST),
        _ => {}
    }
    if parts.method == Method::CONNECT || parts.method == Method::TRACE {
        return Some(StatusCode::METHOD_NOT_ALLOWED);
    }
    None
}

/// `ngx_http_validate_host`: no `..`, no `/` or backslash, no control character or space, and something
/// left once the port and a trailing dot are gone.
fn valid_host(host: &[u8]) -> bool {
    if host.windows(2).any(|w| w == b"..")
        || host
            .iter()
            .any(|&b| b <= b' ' || b == 0x7f || b == b'/' || b == b'\\')
    {
        return false;
    }
    let name = if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host, |end| &host[..=end])
    } else {
        host.iter()
            .position(|&b| b == b':')
            .map_or(host, |colon| &host[..colon])
    };
    let name = name.strip_suffix(b".").unwrap_or(name);
    !name.is_empty()
}

/// The path routes are looked up with, nginx's `$uri`: normalized, and with encoded slashes
/// decoded as nginx decodes them, so `/admin%2Fx` is under `/admin` (the upstream still
/// receives the request target as sent). `None` when an encoded slash changes the path's
/// shape (`/admin/..%2Fpublic`, `/public%2F..%2Fadmin`): a backend that decodes `%2F` and
/// one that does not would read different paths, so no route is safe.
pub(crate) fn route_path(path: &str) -> Option<String> {
    let normalized = sluice_router::normalize_path(path);
    if !normalized.contains("%2F") && !normalized.contains("%2f") {
        return Some(normalized.into_owned());
    }
    let decoded = normalized.replace("%2F", "/").replace("%2f", "/");
    let resolved = sluice_router::normalize_path(&decoded);
    (resolved == decoded).then(|| resolved.into_owned())
}

/// Whether the path holds an encoded NUL (`%00`), which a backend reading C strings would
/// cut the path at: refused with 400 so that `/admin%00` cannot pass as some other route.
fn encoded_nul(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w == b"%00")
}

/// [`status`] with `Connection: close`: what follows a refused head (a CONNECT tunnel's
/// first bytes, say) is not read as another request.
fn closing(code: StatusCode) -> Response<Body> {
    let mut response = status(code);
    response
        .headers_mut()
        .insert(CONNECTION, http::HeaderValue::from_static("close"));
    response
}

fn status(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::full(format!("{status}\n")));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, uri: &str, version: Version, hosts: &[&str]) -> http::request::Parts {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .version(version);
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn hosts_are_required_single_and_valid_as_nginx_checks_them() {
        let h11 = Version::HTTP_11;
        let cases = [
            (head("GET", "/", h11, &["app.example.com"]), None),
            (head("GET", "/", h11, &["app.example.com:8080"]), None),
            (head("GET", "/", h11, &["[::1]:8080"]), None),
            (head("GET", "/", h11, &["app.example.com."]), None),
            (head("GET", "/", h11, &[]), Some(StatusCode::BAD_REQUEST)),
            (head("GET", "/", Version::HTTP_10, &[]), None),
            (head("GET", "http://app.example.com/", h11, &[]), None),
            (
                head("GET", "/", h11, &["a.example.com", "b.example.com"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (head("GET", "/", h11, &[""]), Some(StatusCode::BAD_REQUEST)),
            (
                head("GET", "/", h11, &[":80"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                head("GET", "/", h11, &["app..example.com"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                head("GET", "/", h11, &["app.example.com/x"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                head("GET", "/", h11, &["app example.com"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                head("GET", "/", h11, &["app\\example.com"]),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                head(
                    "CONNECT",
                    "app.example.com:443",
                    h11,
                    &["app.example.com:443"],
                ),
                Some(StatusCode::METHOD_NOT_ALLOWED),
            ),
            (
                head("TRACE", "/", h11, &["app.example.com"]),
                Some(StatusCode::METHOD_NOT_ALLOWED),
            ),
        ];
        for (parts, want) in cases {
            assert_eq!(check_host_and_method(&parts), want, "{parts:?}");
        }
    }

    #[test]
    fn encoded_slashes_are_decoded_for_the_route_lookup() {
        for (path, want) in [
            ("/admin", Some("/admin")),
            ("/admin%2Fx", Some("/admin/x")),
            ("/admin%2fx", Some("/admin/x")),
            ("/api/group%2Fproject/x", Some("/api/group/project/x")),
            ("/a%252Fb", Some("/a%252Fb")),
            ("/public/%2e%2e/admin", Some("/admin")),
            ("/public%2F..%2Fadmin", None),
            ("/admin/..%2Fpublic", None),
            ("/admin%2F%2Fx", None),
        ] {
            assert_eq!(route_path(path).as_deref(), want, "{path}");
        }
        assert!(encoded_nul("/admin%00"));
        assert!(!encoded_nul("/admin%2500"));
    }
}
