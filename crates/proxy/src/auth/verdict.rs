//! What an external-auth answer means for the request: 2xx grants it (with the
//! `auth-response-headers` and `Set-Cookie` to pass on), 401 denies it (a 302 to `auth-signin`
//! with the original URL when set, else the service's `WWW-Authenticate`), 403 denies it, and
//! anything else is a 500.

use http::header::{HeaderName, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use sluice_ingress_model::policy::ExternalAuth;

use super::external::Answer;
use crate::body::Body;
use crate::filters::redirect::page;
use crate::variables::Vars;

/// Statuses whose responses carry the auth `Set-Cookie` without `auth-always-set-cookie`
/// (nginx `add_header` without `always`).
const COOKIE_STATUSES: [u16; 10] = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

/// The verdict on one request.
#[derive(Debug)]
pub enum Verdict {
    /// Allowed: apply these to the upstream request and the client response.
    Allow(Grant),
    /// Denied with this response (401, 403, 302 to sign-in, or 500).
    Deny {
        /// The response.
        response: Response<Body>,
        /// Whether it is a 401 (for `satisfy any`).
        unauthorized: bool,
    },
}

/// What an allowed request takes along.
#[derive(Debug, Default)]
pub struct Grant {
    /// `auth-response-headers`: the value to set, or `None` to remove the header.
    pub upstream_headers: Vec<(HeaderName, Option<HeaderValue>)>,
    /// `Set-Cookie` values for the client response.
    pub set_cookies: Vec<HeaderValue>,
    /// Whether the cookies go on every response status (`auth-always-set-cookie`).
    pub always_set_cookie: bool,
}

impl Grant {
    /// Puts the auth response headers into the upstream request.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.upstream_headers {
            headers.remove(name);
            if let Some(value) = value {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

/// Whether the auth `Set-Cookie` goes on a response with this status.
pub(crate) fn cookies_for(status: StatusCode, always: bool) -> bool {
    always || COOKIE_STATUSES.contains(&status.as_u16())
}

/// Turns the auth service's answer into the verdict for this request.
pub(super) fn verdict(auth: &ExternalAuth, answer: &Answer, vars: Vars<'_>) -> Verdict {
    let set_cookies: Vec<HeaderValue> =
        answer.headers.get_all(SET_COOKIE).iter().cloned().collect();
    match answer.status {
        200..=299 => Verdict::Allow(Grant {
            upstream_headers: auth
                .response_headers
                .iter()
                .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
                .map(|name| {
                    let value = answer.headers.get(&name).cloned();
                    (name, value)
                })
                .collect(),
            set_cookies,
            always_set_cookie: auth.always_set_cookie,
        }),
        401 => {
            let mut response = match &auth.signin {
                Some(signin) => {
                    let location =
                        signin_url(&vars.expand(signin), &auth.signin_redirect_param, vars);
                    let mut response = page(StatusCode::FOUND);
                    if let Ok(location) = HeaderValue::from_str(&location) {
                        response.headers_mut().insert(LOCATION, location);
                    }
                    response
                }
                None => {
                    let mut response = page(StatusCode::UNAUTHORIZED);
                    for value in answer.headers.get_all(WWW_AUTHENTICATE) {
                        response
                            .headers_mut()
                            .append(WWW_AUTHENTICATE, value.clone());
                    }
                    response
                }
            };
            if auth.always_set_cookie {
                for cookie in set_cookies {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
            }
            Verdict::Deny {
                response,
                unauthorized: true,
            }
        }
        403 => {
            let mut response = page(StatusCode::FORBIDDEN);
            if auth.always_set_cookie {
                for cookie in set_cookies {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
            }
            Verdict::Deny {
                response,
                unauthorized: false,
            }
        }
        status => {
            tracing::warn!(status, "external auth answered an unexpected status");
            deny(StatusCode::INTERNAL_SERVER_ERROR, false)
        }
    }
}

/// ingress-nginx `buildAuthSignInURL`: append `<param>=$scheme://$http_host$escaped_request_uri`
/// unless the sign-in URL already carries the parameter.
fn signin_url(signin: &str, param: &str, vars: Vars<'_>) -> String {
    let param = if param.is_empty() { "rd" } else { param };
    let query = signin
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q));
    let present = query.is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| k == param && !v.is_empty())
        })
    });
    if present {
        return signin.to_owned();
    }
    let separator = if query.is_some() { '&' } else { '?' };
    format!(
        "{signin}{separator}{param}={}://{}{}",
        vars.ctx.connection.scheme,
        vars.http_host(),
        vars.escaped_request_uri()
    )
}

pub(super) fn deny(status: StatusCode, unauthorized: bool) -> Verdict {
    Verdict::Deny {
        response: page(status),
        unauthorized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signin_urls_get_the_redirect_parameter_once() {
        let mut builder = http::Request::builder().uri("/a/b?x=1");
        builder = builder.header("host", "app.example.com");
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        let connection = crate::filter::Connection {
            client: ([10, 0, 0, 1], 1).into(),
            scheme: crate::filter::Scheme::Https,
            port: 443,
        };
        let ctx = crate::variables::test_context(connection, &mut parts);
        let vars = Vars::new(&ctx, &parts);
        assert_eq!(
            signin_url("https://login/start", "rd", vars),
            "https://login/start?rd=https://app.example.com%2Fa%2Fb%3Fx%3D1"
        );
        assert_eq!(
            signin_url("https://login/start?a=1", "", vars),
            "https://login/start?a=1&rd=https://app.example.com%2Fa%2Fb%3Fx%3D1"
        );
        assert_eq!(
            signin_url("https://login/start?rd=/home", "rd", vars),
            "https://login/start?rd=/home"
        );
    }
}
