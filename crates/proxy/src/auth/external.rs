//! External authentication (`auth-url` and friends, or ConfigMap `global-auth-*`), the way
//! ingress-nginx's generated auth location behaves: a subrequest without body carrying the
//! original headers plus `X-Original-URL`, `X-Original-Method`, `X-Sent-From`, `X-Real-IP`,
//! `X-Forwarded-For`, `X-Auth-Request-Redirect`, `X-Request-ID` (and `X-Original-URI`,
//! `X-Scheme` with `auth-method`), `Host` set to the auth service's and `X-Forwarded-Proto`
//! and `Content-Length` removed.
//!
//! What the answer means is [`super::verdict`]'s; an unreachable service or a timeout (the
//! route's connect plus read timeout) gives 500. Answers are cached per `auth-cache-key` and
//! `auth-cache-duration` in a bounded cache ([`CACHE_ENTRIES`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::header::{CONTENT_LENGTH, EXPECT, HOST, HeaderName, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use sluice_ingress_model::Policy;
use sluice_ingress_model::policy::ExternalAuth;
use sluice_ingress_model::template::{Allow, Template};

use super::verdict::{Verdict, deny, verdict};
use crate::body::Body;
use crate::connector::Connector;
use crate::filter::RequestContext;
use crate::variables::Vars;

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

/// What the auth service said, as far as the proxy needs it.
#[derive(Clone, Debug)]
pub(super) struct Answer {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
}

/// The client and cache for external auth.
pub struct External {
    client: Client<Connector, Body>,
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
            None => vars.head.method.clone(),
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
    let mut headers = vars.head.headers.clone();
    crate::forward::strip_hop_by_hop(&mut headers, false);
    for name in [CONTENT_LENGTH, TRANSFER_ENCODING, EXPECT, X_FORWARDED_PROTO] {
        headers.remove(name);
    }
    let client = ctx.client_ip().to_string();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(X_ORIGINAL_URL, &vars.original_url());
    set(X_ORIGINAL_METHOD, vars.head.method.as_str());
    set(X_SENT_FROM, "nginx-ingress-controller");
    set(X_REAL_IP, &client);
    set(X_FORWARDED_FOR, &client);
    let redirect = match &auth.request_redirect {
        Some(template) => vars.expand(template),
        None => ctx.request_uri().to_owned(),
    };
    set(X_AUTH_REQUEST_REDIRECT, &redirect);
    set(X_REQUEST_ID, &ctx.request_id);
    if auth.method.is_some() {
        set(X_ORIGINAL_URI, ctx.request_uri());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
        }
    }

    #[test]
    fn the_cache_keeps_only_cacheable_statuses_and_stays_bounded() {
        let external = External::default();
        let auth = ExternalAuth::new(Template::literal("http://auth/"));
        // ingress-nginx's default: 200, 202 and 401 for five minutes; not 403.
        external.store(&auth, "forbidden".into(), &answer(403));
        assert!(external.cached("forbidden").is_none());
        external.store(&auth, "ok".into(), &answer(200));
        assert_eq!(external.cached("ok").map(|a| a.status), Some(200));
        for i in 0..CACHE_ENTRIES + 50 {
            external.store(&auth, format!("k{i}"), &answer(401));
        }
        let held = external.cache.lock().unwrap().len();
        assert!(held <= CACHE_ENTRIES, "{held}");
        let latest = format!("k{}", CACHE_ENTRIES + 49);
        assert_eq!(external.cached(&latest).map(|a| a.status), Some(401));
    }
}
