//! External authentication (`auth-url` and friends, or ConfigMap `global-auth-*`), the way
//! ingress-nginx's generated auth location behaves: a subrequest without body carrying the
//! original headers plus `X-Original-URL`, `X-Original-Method`, `X-Sent-From`, `X-Real-IP`,
//! `X-Forwarded-For`, `X-Auth-Request-Redirect`, `X-Request-ID` (and `X-Original-URI`,
//! `X-Scheme` with `auth-method`), `Host` set to the auth service's and `X-Forwarded-Proto`
//! and `Content-Length` removed.
//!
//! A 2xx answer allows the request: the `auth-response-headers` of the answer replace those of
//! the request (a header the answer lacks is removed, so a client cannot forge it). 401 and
//! 403 are returned (401 becomes a 302 to `auth-signin` with `rd=<original URL>` when set;
//! otherwise its `WWW-Authenticate` is kept); any other status, an unreachable service or a
//! timeout (the route's connect plus read timeout) gives 500. Answers are cached per
//! `auth-cache-key` and `auth-cache-duration` in a bounded cache ([`CACHE_ENTRIES`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::header::{
    CONTENT_LENGTH, EXPECT, HOST, HeaderName, LOCATION, SET_COOKIE, TRANSFER_ENCODING,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use sluice_ingress_model::Policy;
use sluice_ingress_model::policy::ExternalAuth;
use sluice_ingress_model::template::{Allow, Template};

use crate::body::Body;
use crate::expand::Vars;
use crate::filter::RequestContext;
use crate::outbound::OutboundClient;

/// Cached auth answers kept at most.
pub const CACHE_ENTRIES: usize = 10_000;
/// Auth answer bytes read at most (the body is discarded).
const MAX_ANSWER_BODY: usize = 64 << 10;

const X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_SENT_FROM: HeaderName = HeaderName::from_static("x-sent-from");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_AUTH_REQUEST_REDIRECT: HeaderName = HeaderName::from_static("x-auth-request-redirect");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");

/// Statuses whose responses carry the auth `Set-Cookie` without `auth-always-set-cookie`
/// (nginx `add_header` without `always`).
const COOKIE_STATUSES: [u16; 10] = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

/// What the auth service said, as far as the proxy needs it.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
}

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

/// The client and cache for external auth.
pub struct External {
    client: OutboundClient,
    cache: Mutex<HashMap<String, (Instant, Answer)>>,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External").finish_non_exhaustive()
    }
}

impl Default for External {
    fn default() -> Self {
        Self {
            client: crate::outbound::client(32),
            cache: Mutex::default(),
        }
    }
}

impl External {
    /// Asks the auth service about a request.
    pub async fn check(
        &self,
        auth: &ExternalAuth,
        policy: &Policy,
        ctx: &RequestContext,
        parts: &http::request::Parts,
    ) -> Verdict {
        let vars = Vars::new(ctx, parts);
        let url = vars.expand(&auth.url);
        let cache_key = auth.cache_key.as_ref().map(|key| {
            let origin = ctx
                .origin()
                .map(|o| format!("{}{}", o.ingress, o.path))
                .unwrap_or_default();
            format!("{origin}\n{url}\n{}", vars.expand(key))
        });
        let cached = cache_key.as_deref().and_then(|key| self.cached(key));
        let answer = match cached {
            Some(answer) => answer,
            None => match self.ask(auth, policy, &url, vars).await {
                Ok(answer) => {
                    if let Some(key) = cache_key {
                        self.store(auth, key, &answer);
                    }
                    answer
                }
                Err(reason) => {
                    tracing::warn!(%url, %reason, "external auth failed");
                    return deny(StatusCode::INTERNAL_SERVER_ERROR, false);
                }
            },
        };
        verdict(auth, &answer, vars)
    }

    async fn ask(
        &self,
        auth: &ExternalAuth,
        policy: &Policy,
        url: &str,
        vars: Vars<'_>,
    ) -> Result<Answer, String> {
        let uri: Uri = url.parse().map_err(|e| format!("invalid auth URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err("the auth URL is not http:// or https://".into());
        }
        let host = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .ok_or("the auth URL has no host")?;
        let method = match &auth.method {
            Some(m) => Method::from_bytes(m.as_bytes()).map_err(|e| e.to_string())?,
            None => vars.parts.method.clone(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = subrequest_headers(auth, vars, host);
        let timeouts = &policy.timeouts;
        let budget = Duration::from_millis(timeouts.connect_ms.saturating_add(timeouts.read_ms));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{e}"))?;
            let (head, body) = response.into_parts();
            // Read (and discard) a bounded amount of the body so the connection can be reused.
            let limited = http_body_util::Limited::new(body, MAX_ANSWER_BODY);
            let _ = limited.collect().await;
            Ok::<Answer, String>(Answer {
                status: head.status.as_u16(),
                headers: head.headers,
            })
        };
        tokio::time::timeout(budget, exchange)
            .await
            .map_err(|_| format!("no answer within {budget:?}"))?
    }

    fn cached(&self, key: &str) -> Option<Answer> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (expires, answer) = cache.get(key)?;
        (*expires > Instant::now()).then(|| answer.clone())
    }

    fn store(&self, auth: &ExternalAuth, key: String, answer: &Answer) {
        let Some(rule) = auth
            .cache_duration
            .iter()
            .find(|r| r.codes.is_empty() || r.codes.contains(&answer.status))
        else {
            return;
        };
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (expires, _)| *expires > now);
            if cache.len() >= CACHE_ENTRIES {
                // Still full of live entries: drop a tenth, whichever the map yields first.
                let victims: Vec<String> = cache.keys().take(CACHE_ENTRIES / 10).cloned().collect();
                for victim in victims {
                    cache.remove(&victim);
                }
            }
        }
        let expires = now + Duration::from_millis(rule.duration_ms);
        cache.insert(key, (expires, answer.clone()));
    }
}

/// The headers of the subrequest (see the module doc).
fn subrequest_headers(auth: &ExternalAuth, vars: Vars<'_>, host: HeaderValue) -> HeaderMap {
    let ctx = vars.ctx;
    let mut headers = vars.parts.headers.clone();
    crate::forward::strip_hop_by_hop(&mut headers, false);
    for name in [CONTENT_LENGTH, TRANSFER_ENCODING, EXPECT, X_FORWARDED_PROTO] {
        headers.remove(name);
    }
    let client = crate::state::client_ip(ctx).to_string();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(X_ORIGINAL_URL, &vars.original_url());
    set(X_ORIGINAL_METHOD, vars.parts.method.as_str());
    set(X_SENT_FROM, "nginx-ingress-controller");
    set(X_REAL_IP, &client);
    set(X_FORWARDED_FOR, &client);
    let redirect = match &auth.request_redirect {
        Some(template) => vars.expand(template),
        None => vars.request_uri().to_owned(),
    };
    set(X_AUTH_REQUEST_REDIRECT, &redirect);
    set(X_REQUEST_ID, &ctx.request_id);
    if auth.method.is_some() {
        set(X_ORIGINAL_URI, vars.request_uri());
        set(X_SCHEME, ctx.connection.scheme.as_str());
    }
    for (name, value) in &auth.proxy_set_headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let value = match Template::parse(value, Allow::VARS) {
            Ok(template) => vars.expand(&template),
            Err(_) => value.clone(),
        };
        set(name, &value);
    }
    headers.insert(HOST, host);
    headers
}

/// Turns the auth service's answer into the verdict for this request.
fn verdict(auth: &ExternalAuth, answer: &Answer, vars: Vars<'_>) -> Verdict {
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
                    let mut response = text(StatusCode::FOUND);
                    if let Ok(location) = HeaderValue::from_str(&location) {
                        response.headers_mut().insert(LOCATION, location);
                    }
                    response
                }
                None => {
                    let mut response = text(StatusCode::UNAUTHORIZED);
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
            let mut response = text(StatusCode::FORBIDDEN);
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
    let escaped = vars.expand(&Template {
        text: "$escaped_request_uri".into(),
        parts: vec![sluice_ingress_model::template::Part::Var(
            sluice_ingress_model::template::Variable::EscapedRequestUri,
        )],
    });
    format!(
        "{signin}{separator}{param}={}://{}{escaped}",
        vars.ctx.connection.scheme,
        vars.best_http_host()
    )
}

fn text(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::full(format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn deny(status: StatusCode, unauthorized: bool) -> Verdict {
    Verdict::Deny {
        response: text(status),
        unauthorized,
    }
}

/// A plain-text response with this status (shared by the auth module).
pub(super) fn plain(status: StatusCode) -> Response<Body> {
    text(status)
}
