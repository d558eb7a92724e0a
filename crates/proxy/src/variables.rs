//! Expands the model's parsed [`Template`]s (nginx variables in annotation values) for one
//! request: redirect locations, `upstream-vhost`, `rewrite-target`, `auth-tls-error-page`,
//! `proxy-set-headers` and `add-headers` values, external-auth URLs, headers and sign-in
//! redirects, `upstream-hash-by` keys and `mirror-target`. Only the whitelisted variables of
//! `sluice_ingress_model::template` exist; they mean what nginx means by them.

use std::sync::OnceLock;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, PercentEncode, utf8_percent_encode};
use sluice_ingress_model::template::{Part, Variable};
use sluice_ingress_model::{Action, Template};

use crate::filter::RequestContext;

/// What nginx's `ngx_escape_uri` (component mode) leaves alone: letters, digits and `-._~`.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The request a template is expanded for.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a> {
    /// The request's context (host, client, route, request id).
    pub ctx: &'a RequestContext,
    /// The request head as it is now (headers; the URI after any rewrite).
    pub head: &'a http::request::Parts,
    /// `$1`..`$9`: capture groups of the route's path regex, when a rewrite matched.
    pub captures: &'a [String],
}

impl<'a> Vars<'a> {
    /// The variables of a request outside a rewrite (no `$1`..`$9`).
    pub fn new(ctx: &'a RequestContext, head: &'a http::request::Parts) -> Self {
        Self {
            ctx,
            head,
            captures: &[],
        }
    }

    /// A request cookie's value (`$cookie_<name>`).
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        cookie(&self.head.headers, name)
    }

    /// `$http_host`: the `Host` header (or the HTTP/2 `:authority`) as the client sent it.
    pub fn http_host(&self) -> &'a str {
        self.head
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| self.head.uri.authority().map(|a| a.as_str()))
            .unwrap_or_default()
    }

    /// `$scheme://$http_host$request_uri`: the URL the client asked for.
    pub fn original_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.ctx.connection.scheme,
            self.http_host(),
            self.ctx.request_uri()
        )
    }

    /// `$escaped_request_uri`: `$request_uri` with everything but unreserved characters
    /// percent-encoded.
    pub fn escaped_request_uri(&self) -> PercentEncode<'a> {
        utf8_percent_encode(self.ctx.request_uri(), COMPONENT)
    }

    /// Expands `template`.
    pub fn expand(&self, template: &Template) -> String {
        let mut out = String::with_capacity(template.text.len());
        for part in &template.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Capture(n) => {
                    let value = usize::from(*n)
                        .checked_sub(1)
                        .and_then(|i| self.captures.get(i));
                    out.push_str(value.map_or("", String::as_str));
                }
                Part::Var(var) => self.push_var(var, &mut out),
            }
        }
        out
    }

    fn header(&self, name: &str) -> &str {
        self.head
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn push_var(&self, var: &Variable, out: &mut String) {
        let ctx = self.ctx;
        match var {
            Variable::Scheme => out.push_str(ctx.connection.scheme.as_str()),
            Variable::Host => out.push_str(&ctx.host),
            Variable::Hostname => out.push_str(hostname()),
            Variable::ServerName => {
                out.push_str(ctx.vhost.as_ref().map_or("_", |v| v.name.as_str()))
            }
            Variable::ServerPort => out.push_str(&ctx.server_port().to_string()),
            Variable::BestHttpHost => out.push_str(ctx.client.best_http_host.as_str()),
            Variable::Header(name) => out.push_str(self.header(&name.replace('_', "-"))),
            Variable::Cookie(name) => out.push_str(cookie(&self.head.headers, name).unwrap_or("")),
            Variable::Arg(name) => out.push_str(arg(ctx.request_uri(), name).unwrap_or("")),
            Variable::RequestUri => out.push_str(ctx.request_uri()),
            Variable::EscapedRequestUri => out.extend(self.escaped_request_uri()),
            Variable::Uri | Variable::DocumentUri => out.push_str(self.head.uri.path()),
            Variable::Args | Variable::QueryString => {
                out.push_str(self.head.uri.query().unwrap_or(""));
            }
            Variable::IsArgs if self.head.uri.query().is_some_and(|q| !q.is_empty()) => {
                out.push('?');
            }
            Variable::IsArgs => {}
            Variable::RequestMethod => out.push_str(ctx.method.as_str()),
            Variable::RemoteAddr => out.push_str(&ctx.client_ip().to_string()),
            Variable::ContentType => out.push_str(self.header(CONTENT_TYPE.as_str())),
            Variable::ContentLength => out.push_str(self.header(CONTENT_LENGTH.as_str())),
            Variable::ProxyAddXForwardedFor => {
                let incoming: Vec<&str> = self
                    .head
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                for value in incoming {
                    out.push_str(value);
                    out.push_str(", ");
                }
                out.push_str(&ctx.client_ip().to_string());
            }
            Variable::RequestId => out.push_str(&ctx.request_id),
            Variable::Namespace => {
                out.push_str(ctx.origin().map_or("", |o| o.ingress.namespace.as_str()))
            }
            Variable::IngressName => {
                out.push_str(ctx.origin().map_or("", |o| o.ingress.name.as_str()));
            }
            Variable::ServiceName => {
                out.push_str(first_backend(ctx).map_or("", |u| u.service.as_str()))
            }
            Variable::ServicePort => {
                if let Some(upstream) = first_backend(ctx) {
                    out.push_str(&upstream.port.to_string());
                }
            }
            Variable::LocationPath => out.push_str(ctx.origin().map_or("", |o| o.path.as_str())),
            _ => {}
        }
    }
}

/// The first backend of the matched route (`$service_name`, `$service_port`).
pub(crate) fn first_backend(ctx: &RequestContext) -> Option<&sluice_ingress_model::UpstreamId> {
    match &ctx.route.as_ref()?.action {
        Action::Forward(forward) => forward.backends.first().map(|b| &b.upstream),
        _ => None,
    }
}

/// The machine's host name (`$hostname`), read once.
fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}

/// A request cookie's value.
pub(crate) fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A query argument's raw value from a request target.
fn arg<'a>(request_uri: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = request_uri.split_once('?')?;
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A context for `parts` as the pipeline prepares it before the request filters run (request
/// target recorded, real-IP processing with default settings).
#[cfg(test)]
pub(crate) fn test_context(
    connection: crate::filter::Connection,
    parts: &mut http::request::Parts,
) -> RequestContext {
    let mut ctx = RequestContext::new(connection, parts.method.clone(), parts.version);
    ctx.request_uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let _ = crate::intake::prepare(&mut ctx, parts, None);
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Connection, Scheme};
    use sluice_ingress_model::template::Allow;

    fn expand(text: &str, uri: &str, headers: &[(&str, &str)]) -> String {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        let connection = Connection {
            client: ([10, 0, 0, 9], 5555).into(),
            scheme: Scheme::Https,
            port: 8443,
        };
        let mut ctx = test_context(connection, &mut parts);
        ctx.host = "a.example.com".into();
        ctx.path = parts.uri.path().to_owned();
        ctx.request_id = "rid".into();
        let template = Template::parse(text, Allow::LOCATION).unwrap();
        Vars::new(&ctx, &parts).expand(&template)
    }

    #[test]
    fn expands_request_variables() {
        let headers = [
            ("host", "A.example.com:8443"),
            ("x-user", "bob"),
            ("cookie", "a=1; sid=xyz"),
        ];
        assert_eq!(
            expand(
                "$scheme://$host$request_uri|$http_x_user|$cookie_sid|$arg_q|$remote_addr|$request_id|$server_port",
                "/p/a?q=1&r=2",
                &headers
            ),
            "https://a.example.com/p/a?q=1&r=2|bob|xyz|1|10.0.0.9|rid|8443"
        );
        assert_eq!(
            expand("$best_http_host$is_args$args", "/x?k=v", &headers),
            "A.example.com:8443?k=v"
        );
        assert_eq!(expand("$is_args$args$http_none", "/x", &headers), "");
        assert_eq!(
            expand("$escaped_request_uri", "/a%20b/?x=1&y=2", &[]),
            "%2Fa%2520b%2F%3Fx%3D1%26y%3D2"
        );
        assert_eq!(
            expand(
                "$proxy_add_x_forwarded_for",
                "/",
                &[("x-forwarded-for", "1.1.1.1")]
            ),
            "1.1.1.1, 10.0.0.9"
        );
    }

    #[test]
    fn arguments_and_cookies_are_found_case_insensitively() {
        assert_eq!(arg("/p?a=1&Token=x", "token"), Some("x"));
        assert_eq!(arg("/p?flag", "flag"), Some(""));
        assert_eq!(arg("/p", "a"), None);
        let mut headers = http::HeaderMap::new();
        headers.insert(COOKIE, "a=1; Session=abc".parse().unwrap());
        assert_eq!(cookie(&headers, "session"), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn templates_parse_with_captures() {
        let t = Template::parse("/new/$2?x=$arg_a", Allow::CAPTURES).unwrap();
        assert_eq!(t.max_capture(), 2);
    }
}
