//! Authentication policies: basic/digest credentials and external (forward) auth.
//! Password hashes are never printed or serialised.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::template::Template;

/// Authentication of a route. Checks combine per [`super::Satisfy`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Auth {
    /// `auth-type` basic/digest with its Secret.
    pub basic: Option<BasicAuth>,
    /// `auth-url` forward auth.
    pub external: Option<ExternalAuth>,
    /// `enable-global-auth`: ConfigMap `global-auth-url` applies (when set, and not for
    /// `no-auth-locations`, and not when `external` is set).
    pub global: bool,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            basic: None,
            external: None,
            global: true,
        }
    }
}

/// `auth-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BasicAuthKind {
    /// RFC 7617 basic.
    Basic,
    /// RFC 7616 digest (MD5, htdigest `user:realm:HA1` lines).
    Digest,
}

/// Basic or digest authentication. Failure gives 401 with `WWW-Authenticate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BasicAuth {
    /// Basic or digest.
    pub kind: BasicAuthKind,
    /// `auth-realm`.
    pub realm: String,
    /// Users and their password hashes.
    pub credentials: Credentials,
}

/// Users and password hashes from an `auth-secret` (htpasswd under key `auth`, or an auth-map).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(pub BTreeMap<String, PasswordHash>);

/// A stored password hash and its scheme.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// The hash scheme.
    pub scheme: HashScheme,
    /// The hash as stored (for digest: the HA1 hex; the realm is checked at parse time).
    pub hash: String,
}

/// htpasswd hash schemes (the proxy verifies passwords).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashScheme {
    /// `$2y$`, `$2a$`, `$2b$`.
    Bcrypt,
    /// `$apr1$`: Apache MD5.
    Apr1,
    /// `$1$`: MD5-crypt.
    Md5Crypt,
    /// `$5$`: SHA-256-crypt.
    Sha256Crypt,
    /// `$6$`: SHA-512-crypt.
    Sha512Crypt,
    /// `{SHA}`: base64 SHA-1.
    Sha1,
    /// 13-character traditional DES crypt.
    Des,
    /// Digest HA1 = MD5(user:realm:password), hex.
    DigestHa1,
}

/// External authentication (`auth-url` and friends, or ConfigMap `global-auth-*`): a subrequest
/// without body; 2xx allows, 401/403 are returned (401 redirects to `signin` when set), other
/// statuses give 500.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExternalAuth {
    /// The auth service URL.
    pub url: Template,
    /// Subrequest method; `None` = the original method (nginx `auth_request`: GET semantics,
    /// no body).
    pub method: Option<String>,
    /// `auth-signin`: on 401 redirect here with `?<signin_redirect_param>=<original URL>`.
    pub signin: Option<Template>,
    /// `auth-signin-redirect-param` (`rd`).
    pub signin_redirect_param: String,
    /// `auth-response-headers`: copied from the auth response into the upstream request.
    pub response_headers: Vec<String>,
    /// `auth-request-redirect`: `X-Auth-Request-Redirect` value; `None` = `$request_uri`.
    pub request_redirect: Option<Template>,
    /// `auth-proxy-set-headers`: extra headers sent to the auth service.
    pub proxy_set_headers: BTreeMap<String, String>,
    /// `auth-cache-key`: cache auth answers under this key; `None` = no cache.
    pub cache_key: Option<Template>,
    /// `auth-cache-duration`: how long answers are cached, by status.
    pub cache_duration: Vec<CacheRule>,
    /// Connection reuse towards the auth service.
    pub keepalive: ExternalAuthKeepalive,
    /// `auth-always-set-cookie`: pass `Set-Cookie` of the auth response for every status.
    pub always_set_cookie: bool,
}

/// One `auth-cache-duration` entry: `<codes> <duration>`, `any` = every code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheRule {
    /// Statuses; empty = any.
    pub codes: Vec<u16>,
    /// Validity.
    pub duration_ms: u64,
}

/// `auth-keepalive*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExternalAuthKeepalive {
    /// Idle connections kept; 0 = none.
    pub connections: u32,
    /// Requests per connection.
    pub requests: u32,
    /// Idle timeout.
    pub timeout_ms: u64,
    /// `auth-keepalive-share-vars`.
    pub share_vars: bool,
}

impl Default for ExternalAuthKeepalive {
    fn default() -> Self {
        Self {
            connections: 0,
            requests: 1000,
            timeout_ms: 60_000,
            share_vars: false,
        }
    }
}

impl ExternalAuth {
    /// An external auth with ingress-nginx's defaults for everything but the URL.
    pub fn new(url: Template) -> Self {
        Self {
            url,
            method: None,
            signin: None,
            signin_redirect_param: "rd".into(),
            response_headers: Vec::new(),
            request_redirect: None,
            proxy_set_headers: BTreeMap::new(),
            cache_key: None,
            cache_duration: vec![CacheRule {
                codes: vec![200, 202, 401],
                duration_ms: 300_000,
            }],
            keepalive: ExternalAuthKeepalive::default(),
            always_set_cookie: false,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(user, hash)| (user, hash.scheme)))
            .finish()
    }
}

impl Serialize for Credentials {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Users and schemes only: hashes never leave the process.
        serializer.collect_map(self.0.iter().map(|(user, hash)| (user, hash.scheme)))
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({:?})", self.scheme)
    }
}
