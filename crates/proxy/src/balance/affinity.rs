//! Cookie session affinity (`affinity: cookie`), like ingress-nginx's `sticky*.lua`.
//!
//! The cookie value is `<upstream key>|<backend key>`. The backend key is
//! `md5(md5(name) + name)` of the upstream name (`namespace-service-port`), which tells which
//! upstream a client is pinned to (canaries use it). The upstream key depends on the mode:
//! - `persistent`: `md5(name + address)` of the endpoint, so the client stays on that endpoint
//!   as long as it exists, whatever else joins;
//! - `balanced`: a random token hashed onto the upstream's consistent-hash ring, so a scale-up
//!   moves about the share the new endpoints take, and nothing else.
//!
//! A request without a usable cookie gets an endpoint (random, or by a random token) and a
//! `Set-Cookie`. When the pinned endpoint fails, `session-cookie-change-on-failure` picks a new
//! one and reissues the cookie; without it the retry goes elsewhere but the cookie stays.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use md5::{Digest, Md5};
use sluice_ingress_model::policy::{Affinity, AffinityMode, SameSite};

use crate::filter::Scheme;

/// `md5(md5(name) + name)` as lowercase hex: the backend key of an upstream.
pub fn backend_key(upstream_name: &str) -> String {
    let inner = md5_hex(upstream_name.as_bytes());
    md5_hex(format!("{inner}{upstream_name}").as_bytes())
}

/// The persistent-mode key of an endpoint: `md5(upstream name + "ip:port")`.
pub fn endpoint_key(upstream_name: &str, addr: std::net::SocketAddr) -> String {
    md5_hex(format!("{upstream_name}{addr}").as_bytes())
}

/// Lowercase hex MD5.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    let mut out = String::with_capacity(32);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The parsed affinity cookie of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// The endpoint key (persistent) or ring token (balanced).
    pub upstream_key: String,
    /// The backend key, when present.
    pub backend_key: Option<String>,
}

impl Pinned {
    /// Parses `<upstream key>[|<backend key>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let upstream_key = parts.next().filter(|k| !k.is_empty())?.to_owned();
        Some(Self {
            upstream_key,
            backend_key: parts.next().map(str::to_owned),
        })
    }
}

/// A fresh balanced-mode token (ingress-nginx uses `now.pid.random`).
pub fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{now}.{}.{}",
        std::process::id(),
        super::random_below(1_000_000)
    )
}

/// Whether a mode pins by endpoint key.
pub fn persistent(affinity: &Affinity) -> bool {
    affinity.mode == AffinityMode::Persistent
}

/// What the `Set-Cookie` needs besides the affinity settings.
#[derive(Clone, Debug)]
pub struct CookieContext {
    /// The listener's scheme (`Secure` by default on HTTPS).
    pub scheme: Scheme,
    /// The route's path as written (the default `Path`).
    pub location_path: String,
    /// The client's `User-Agent` (conditional `SameSite=None`).
    pub user_agent: Option<String>,
}

/// The `Set-Cookie` value pinning a client: `name=<key>|<backend key>` with the configured
/// attributes, in lua-resty-cookie's order.
pub fn set_cookie(
    affinity: &Affinity,
    upstream_key: &str,
    backend_key: &str,
    cx: &CookieContext,
) -> Option<HeaderValue> {
    let cookie = &affinity.cookie;
    let mut out = format!("{}={upstream_key}|{backend_key}", cookie.name);
    if let Some(seconds) = cookie.expires {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_add(seconds);
        let _ = write!(out, "; Expires={}", http_date(at));
    }
    if let Some(max_age) = cookie.max_age {
        let _ = write!(out, "; Max-Age={max_age}");
    }
    if let Some(domain) = &cookie.domain {
        let _ = write!(out, "; Domain={domain}");
    }
    let path = cookie.path.as_deref().unwrap_or(&cx.location_path);
    let _ = write!(out, "; Path={}", if path.is_empty() { "/" } else { path });
    if cookie.secure.unwrap_or(cx.scheme == Scheme::Https) {
        out.push_str("; Secure");
    }
    out.push_str("; HttpOnly");
    let samesite = match cookie.samesite {
        Some(SameSite::None)
            if cookie.conditional_samesite_none
                && !same_site_none_compatible(cx.user_agent.as_deref()) =>
        {
            None
        }
        other => other,
    };
    match samesite {
        Some(SameSite::None) => out.push_str("; SameSite=None"),
        Some(SameSite::Lax) => out.push_str("; SameSite=Lax"),
        Some(SameSite::Strict) => out.push_str("; SameSite=Strict"),
        None => {}
    }
    if cookie.partitioned {
        out.push_str("; Partitioned");
    }
    HeaderValue::from_str(&out).ok()
}

/// User agents that mishandle `SameSite=None` (ingress-nginx `util/same_site.lua`).
pub fn same_site_none_compatible(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else {
        return true;
    };
    let old_chrome = ["Chrome/4", "Chrome/5", "Chrome/6"]
        .iter()
        .any(|v| ua.contains(v));
    let ios12 = ua.contains("CPU iPhone OS 12") || ua.contains("iPad; CPU OS 12");
    let mac_safari = ua.contains("Macintosh")
        && ua.contains("Intel Mac OS X 10_14")
        && ua.contains("Safari")
        && !ua.contains("Chrome");
    !(old_chrome || ios12 || mac_safari)
}

/// An RFC 7231 IMF-fixdate for a Unix time.
pub fn http_date(unix: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(unix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::policy::SessionCookie;

    fn affinity(cookie: SessionCookie) -> Affinity {
        Affinity {
            cookie,
            mode: AffinityMode::Balanced,
            canary_behavior: Default::default(),
        }
    }

    fn cx(scheme: Scheme, ua: Option<&str>) -> CookieContext {
        CookieContext {
            scheme,
            location_path: "/app".into(),
            user_agent: ua.map(Into::into),
        }
    }

    #[test]
    fn cookie_attributes_follow_the_settings() {
        let plain = set_cookie(
            &affinity(SessionCookie::default()),
            "k",
            "b",
            &cx(Scheme::Http, None),
        )
        .unwrap();
        assert_eq!(plain, "INGRESSCOOKIE=k|b; Path=/app; HttpOnly");
        let full = SessionCookie {
            name: "route".into(),
            path: Some("/".into()),
            domain: Some(".example.com".into()),
            max_age: Some(3600),
            samesite: Some(SameSite::None),
            conditional_samesite_none: true,
            partitioned: true,
            ..SessionCookie::default()
        };
        let chrome = set_cookie(
            &affinity(full.clone()),
            "k",
            "b",
            &cx(Scheme::Https, Some("Chrome/120")),
        )
        .unwrap();
        assert_eq!(
            chrome,
            "route=k|b; Max-Age=3600; Domain=.example.com; Path=/; Secure; HttpOnly; SameSite=None; Partitioned"
        );
        let old = set_cookie(
            &affinity(full),
            "k",
            "b",
            &cx(Scheme::Https, Some("Chrome/51.0")),
        )
        .unwrap();
        assert!(!old.to_str().unwrap().contains("SameSite"));
        let insecure = SessionCookie {
            secure: Some(false),
            ..SessionCookie::default()
        };
        let v = set_cookie(&affinity(insecure), "k", "b", &cx(Scheme::Https, None)).unwrap();
        assert!(!v.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn keys_and_dates() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(backend_key("ns-svc-80").len(), 32);
        assert_ne!(
            endpoint_key("ns-svc-80", ([10, 0, 0, 1], 80).into()),
            endpoint_key("ns-svc-80", ([10, 0, 0, 2], 80).into())
        );
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        let pinned = Pinned::parse("abc|def").unwrap();
        assert_eq!(pinned.upstream_key, "abc");
        assert_eq!(pinned.backend_key.as_deref(), Some("def"));
        assert!(Pinned::parse("").is_none());
        assert_eq!(Pinned::parse("tok").unwrap().backend_key, None);
    }
}
