//! CORS (`enable-cors`, `cors-*`), as ingress-nginx's template emits it: the `Origin` is tested
//! against `(?i)(<origin>|…)$` (each allowed origin quoted, its `*` a single label
//! `[A-Za-z0-9-]+`), or every request qualifies with `cors-allow-origin: "*"`. A qualifying
//! `OPTIONS` request is answered 204 by the proxy; every other response of the location gets
//! `Access-Control-Allow-Origin` (the request's `Origin`, or `*`), `-Allow-Credentials`,
//! `-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers` and `-Max-Age`. A non-qualifying
//! `OPTIONS` request is proxied like any other.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    CONTENT_LENGTH, CONTENT_TYPE, ORIGIN,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use sluice_ingress_model::policy::{Cors, CorsOrigin};

use crate::body::Body;
use crate::filter::{Filter, Flow, RequestContext};

/// Answers CORS preflights and adds the CORS response headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorsHeaders;

impl Filter for CorsHeaders {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let Some(cors) = ctx.route.as_ref().and_then(|r| r.policy.cors.as_ref()) else {
            return Flow::Continue;
        };
        let origin = req.headers.get(ORIGIN).and_then(|v| v.to_str().ok());
        let Some(allowed) = allowed_origin(cors, origin) else {
            return Flow::Continue;
        };
        if req.method == Method::OPTIONS {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            set_headers(response.headers_mut(), cors, &allowed);
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain charset=UTF-8"),
            );
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            return Flow::Respond(response);
        }
        ctx.cors_origin = Some(allowed);
        Flow::Continue
    }

    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        let Some(allowed) = ctx.cors_origin.take() else {
            return;
        };
        let Some(cors) = ctx.route.as_ref().and_then(|r| r.policy.cors.as_ref()) else {
            return;
        };
        set_headers(&mut res.headers, cors, &allowed);
    }
}

/// The `Access-Control-Allow-Origin` value for a request, `None` when it does not qualify.
fn allowed_origin(cors: &Cors, origin: Option<&str>) -> Option<HeaderValue> {
    if let [CorsOrigin::Any] = cors.allow_origin.as_slice() {
        return Some(HeaderValue::from_static("*"));
    }
    let origin = origin?;
    let lower = origin.to_ascii_lowercase();
    let matched = cors.allow_origin.iter().any(|allowed| match allowed {
        CorsOrigin::Any => false,
        CorsOrigin::Exact(exact) => lower.ends_with(&exact.to_ascii_lowercase()),
        CorsOrigin::Wildcard {
            scheme,
            suffix,
            port,
        } => wildcard_matches(&lower, scheme, suffix, *port),
    });
    if !matched {
        return None;
    }
    HeaderValue::from_str(origin).ok()
}

/// `<scheme>://[A-Za-z0-9-]+\.<suffix>(:<port>)?$`, unanchored at the start (lowercase input).
fn wildcard_matches(origin: &str, scheme: &str, suffix: &str, port: Option<u16>) -> bool {
    let mut tail = format!(".{}", suffix.to_ascii_lowercase());
    if let Some(port) = port {
        tail.push_str(&format!(":{port}"));
    }
    let Some(head) = origin.strip_suffix(tail.as_str()) else {
        return false;
    };
    let label_start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map_or(0, |i| i + 1);
    if label_start >= head.len() {
        return false;
    }
    let before = &head[..label_start];
    before.ends_with(&format!("{}://", scheme.to_ascii_lowercase()))
}

fn set_headers(headers: &mut HeaderMap, cors: &Cors, origin: &HeaderValue) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if cors.allow_credentials {
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    } else {
        headers.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(ACCESS_CONTROL_ALLOW_METHODS, &cors.allow_methods);
    set(ACCESS_CONTROL_ALLOW_HEADERS, &cors.allow_headers);
    if !cors.expose_headers.is_empty() {
        set(ACCESS_CONTROL_EXPOSE_HEADERS, &cors.expose_headers);
    }
    set(ACCESS_CONTROL_MAX_AGE, &cors.max_age.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: Vec<CorsOrigin>) -> Cors {
        Cors {
            allow_origin: origins,
            ..Cors::default()
        }
    }

    #[test]
    fn star_qualifies_every_request() {
        let c = cors(vec![CorsOrigin::Any]);
        assert_eq!(allowed_origin(&c, None).unwrap(), "*");
        assert_eq!(allowed_origin(&c, Some("https://x")).unwrap(), "*");
    }

    #[test]
    fn exact_and_wildcard_origins_match_like_the_template_regex() {
        let c = cors(vec![
            CorsOrigin::Exact("https://app.example.com".into()),
            CorsOrigin::Wildcard {
                scheme: "https".into(),
                suffix: "example.org".into(),
                port: Some(8443),
            },
        ]);
        let ok = |o: &str| allowed_origin(&c, Some(o)).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            ok("https://app.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            ok("HTTPS://APP.example.com").as_deref(),
            Some("HTTPS://APP.example.com")
        );
        assert!(ok("https://app.example.com.evil").is_none());
        assert!(ok("http://app.example.com").is_none());
        assert!(ok("https://a-b.example.org:8443").is_some());
        assert!(ok("https://a.b.example.org:8443").is_none());
        assert!(ok("https://example.org:8443").is_none());
        assert!(ok("https://a.example.org").is_none());
        assert!(allowed_origin(&c, None).is_none());
    }
}
