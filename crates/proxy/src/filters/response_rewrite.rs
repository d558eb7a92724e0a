//! Rewrites of upstream response headers (nginx's `proxy_cookie_domain`, `proxy_cookie_path`,
//! `proxy_redirect`): the `Domain` attribute of `Set-Cookie` equal to `from` (ignoring case and
//! a leading dot) becomes `to`; a `Path` attribute starting with `from` gets that prefix
//! replaced by `to`; a `Location` or `Refresh` URL starting with `proxy-redirect-from` gets that
//! prefix replaced by `proxy-redirect-to`. `proxy-redirect-from: default` names nginx's
//! internal `proxy_pass` URL, which an upstream never sends, so it changes nothing.

use http::header::{LOCATION, REFRESH, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue};
use sluice_ingress_model::policy::{ProxyRedirect, ResponseRewrite};

use crate::filter::{Filter, RequestContext};

/// Applies the route's `proxy-cookie-*` and `proxy-redirect-*`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseRewrites;

impl Filter for ResponseRewrites {
    fn response(&self, ctx: &mut RequestContext, res: &mut http::response::Parts) {
        if !ctx.from_upstream {
            return;
        }
        let Some(route) = &ctx.route else {
            return;
        };
        rewrite(&route.policy.response_rewrite, &mut res.headers);
    }
}

fn rewrite(rules: &ResponseRewrite, headers: &mut HeaderMap) {
    if rules.cookie_domain.is_some() || rules.cookie_path.is_some() {
        let cookies: Vec<HeaderValue> = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| match value.to_str() {
                Ok(text) => {
                    let changed = rewrite_cookie(text, rules);
                    HeaderValue::from_str(&changed).unwrap_or_else(|_| value.clone())
                }
                Err(_) => value.clone(),
            })
            .collect();
        headers.remove(SET_COOKIE);
        for cookie in cookies {
            headers.append(SET_COOKIE, cookie);
        }
    }
    if let ProxyRedirect::Replace { from, to } = &rules.redirect {
        for name in [LOCATION, REFRESH] {
            replace_prefix(headers, &name, from, to);
        }
    }
}

fn rewrite_cookie(cookie: &str, rules: &ResponseRewrite) -> String {
    let mut parts: Vec<String> = cookie.split(';').map(str::to_owned).collect();
    for part in parts.iter_mut().skip(1) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let key_trimmed = key.trim();
        if key_trimmed.eq_ignore_ascii_case("domain")
            && let Some((from, to)) = &rules.cookie_domain
        {
            let bare = |d: &str| d.trim().trim_start_matches('.').to_ascii_lowercase();
            if bare(value) == bare(from) {
                *part = format!("{key}={to}");
            }
        } else if key_trimmed.eq_ignore_ascii_case("path")
            && let Some((from, to)) = &rules.cookie_path
            && let Some(rest) = value.trim().strip_prefix(from.as_str())
        {
            *part = format!("{key}={to}{rest}");
        }
    }
    parts.join(";")
}

fn replace_prefix(headers: &mut HeaderMap, name: &HeaderName, from: &str, to: &str) {
    let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return;
    };
    // `Refresh: 5; url=<URL>` carries the URL after `url=`.
    let (head, url) = match value.to_ascii_lowercase().find("url=") {
        Some(at) if *name == REFRESH => (&value[..at + 4], &value[at + 4..]),
        _ => ("", value),
    };
    if let Some(rest) = url.strip_prefix(from)
        && let Ok(new) = HeaderValue::from_str(&format!("{head}{to}{rest}"))
    {
        headers.insert(name, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_get_domain_and_path_rewritten() {
        let rules = ResponseRewrite {
            cookie_domain: Some(("internal.local".into(), "example.com".into())),
            cookie_path: Some(("/two/".into(), "/".into())),
            redirect: ProxyRedirect::Off,
        };
        assert_eq!(
            rewrite_cookie(
                "a=1; Domain=.Internal.local; Path=/two/some/uri/; HttpOnly",
                &rules
            ),
            "a=1; Domain=example.com; Path=/some/uri/; HttpOnly"
        );
        assert_eq!(
            rewrite_cookie("b=2; domain=other.local; path=/one/", &rules),
            "b=2; domain=other.local; path=/one/"
        );
    }

    #[test]
    fn redirects_get_their_prefix_replaced() {
        let rules = ResponseRewrite {
            redirect: ProxyRedirect::Replace {
                from: "http://backend:8080/".into(),
                to: "https://example.com/app/".into(),
            },
            ..ResponseRewrite::default()
        };
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, "http://backend:8080/login?x=1".parse().unwrap());
        headers.insert(REFRESH, "5; url=http://backend:8080/next".parse().unwrap());
        rewrite(&rules, &mut headers);
        assert_eq!(headers[LOCATION], "https://example.com/app/login?x=1");
        assert_eq!(headers[REFRESH], "5; url=https://example.com/app/next");
    }
}
