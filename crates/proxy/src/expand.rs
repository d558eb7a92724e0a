//! Expands the model's [`Template`]s (`$host`, `$request_uri`, `$http_x_user`, …) against one
//! request, the way nginx evaluates the variables ingress-nginx pastes into its configuration.
//! Used by hashing keys, external auth, mirroring and any other per-request value.

use std::fmt::Write;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sluice_ingress_model::template::{Part, Template, Variable};

use crate::filter::RequestContext;

/// What `$escaped_request_uri` escapes: everything but unreserved characters (Lua's
/// `ngx.escape_uri`, which ingress-nginx uses for it).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The request a template is expanded against.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a> {
    /// The context (host, path, client, ids).
    pub ctx: &'a RequestContext,
    /// The request head.
    pub parts: &'a http::request::Parts,
}

impl<'a> Vars<'a> {
    /// Variables of this request.
    pub fn new(ctx: &'a RequestContext, parts: &'a http::request::Parts) -> Self {
        Self { ctx, parts }
    }

    /// `$request_uri`: the path and query as the client sent them.
    pub fn request_uri(&self) -> &'a str {
        self.ctx.state.request_uri(self.parts)
    }

    /// `$scheme://$http_host$request_uri`, the URL the client asked for.
    pub fn original_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.ctx.connection.scheme,
            self.best_http_host(),
            self.request_uri()
        )
    }

    /// `$best_http_host`: the `Host` header (or `:authority`) as sent, else the host.
    pub fn best_http_host(&self) -> &'a str {
        self.parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or(&self.ctx.host)
    }

    /// A request header by nginx variable name (`x_user` matches `X-User`).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let wanted = name.replace('_', "-");
        self.parts
            .headers
            .get(wanted.as_str())
            .and_then(|v| v.to_str().ok())
    }

    /// A cookie value.
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        cookie(&self.parts.headers, name)
    }

    /// A query parameter (raw).
    pub fn arg(&self, name: &str) -> Option<&'a str> {
        self.parts.uri.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            k.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    /// Expands `template`; absent values expand to nothing, as in nginx.
    pub fn expand(&self, template: &Template) -> String {
        let mut out = String::with_capacity(template.text.len() + 16);
        for part in &template.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => self.push(&mut out, var),
                // Captures belong to rewrite-target; elsewhere they are rejected by the model.
                Part::Capture(_) => {}
            }
        }
        out
    }

    fn push(&self, out: &mut String, var: &Variable) {
        let ctx = self.ctx;
        let query = self.parts.uri.query();
        match var {
            Variable::Scheme => out.push_str(ctx.connection.scheme.as_str()),
            Variable::Host | Variable::ServerName => out.push_str(&ctx.host),
            Variable::Hostname => out.push_str(&hostname()),
            Variable::ServerPort => {
                let _ = write!(out, "{}", ctx.connection.port);
            }
            Variable::BestHttpHost => out.push_str(self.best_http_host()),
            Variable::Header(name) => out.push_str(self.header(name).unwrap_or_default()),
            Variable::Cookie(name) => out.push_str(self.cookie(name).unwrap_or_default()),
            Variable::Arg(name) => out.push_str(self.arg(name).unwrap_or_default()),
            Variable::RequestUri => out.push_str(self.request_uri()),
            Variable::EscapedRequestUri => {
                out.extend(utf8_percent_encode(self.request_uri(), COMPONENT));
            }
            Variable::Uri | Variable::DocumentUri => out.push_str(&ctx.path),
            Variable::Args | Variable::QueryString => out.push_str(query.unwrap_or_default()),
            Variable::IsArgs if query.is_some() => out.push('?'),
            Variable::IsArgs => {}
            Variable::RequestMethod => out.push_str(self.parts.method.as_str()),
            Variable::RemoteAddr => {
                let _ = write!(out, "{}", ctx.client_ip());
            }
            Variable::ContentType => out.push_str(header_str(self.parts, CONTENT_TYPE)),
            Variable::ContentLength => out.push_str(header_str(self.parts, CONTENT_LENGTH)),
            Variable::ProxyAddXForwardedFor => {
                if let Some(xff) = self.header("x_forwarded_for") {
                    out.push_str(xff);
                    out.push_str(", ");
                }
                let _ = write!(out, "{}", ctx.client_ip());
            }
            Variable::RequestId => out.push_str(&ctx.request_id),
            Variable::Namespace => {
                if let Some(origin) = ctx.origin() {
                    out.push_str(&origin.ingress.namespace);
                }
            }
            Variable::IngressName => {
                if let Some(origin) = ctx.origin() {
                    out.push_str(&origin.ingress.name);
                }
            }
            Variable::ServiceName => {
                if let Some(upstream) = &ctx.upstream {
                    out.push_str(&upstream.service);
                }
            }
            Variable::ServicePort => {
                if let Some(upstream) = &ctx.upstream {
                    let _ = write!(out, "{}", upstream.port);
                }
            }
            Variable::LocationPath => {
                if let Some(origin) = ctx.origin() {
                    out.push_str(&origin.path);
                }
            }
            // The model only produces the variables above; a new one expands to nothing until
            // the proxy learns it.
            _ => {}
        }
    }
}

/// A cookie of a request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn header_str(parts: &http::request::Parts, name: http::HeaderName) -> &str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// `$hostname`: the machine's host name (`HOSTNAME`, as set in every pod).
fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned())
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
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let connection = Connection {
            client: ([10, 0, 0, 9], 5555).into(),
            scheme: Scheme::Https,
            port: 8443,
        };
        let mut ctx = RequestContext::new(connection, parts.method.clone(), parts.version);
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
}
