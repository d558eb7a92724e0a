//! Host-level policy (ingress-nginx `server` settings): taken from the oldest Ingress of the host
//! that sets each group; `ssl-passthrough` is on when any Ingress of the host sets it.

use serde::Serialize;

use crate::host::HostPattern;
use crate::key::ObjectKey;
use crate::policy::TlsVersion;
use crate::table::{Certificate, UpstreamId};

/// Settings of one virtual host beyond its certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostPolicy {
    /// `auth-tls-*`: client certificates for the whole host.
    pub client_auth: Option<ClientAuth>,
    /// `ssl-ciphers`: rustls TLS 1.2 suite names for this host; `None` = the global list.
    pub ssl_ciphers: Option<Vec<String>>,
    /// `ssl-prefer-server-ciphers`; `None` = the global setting.
    pub prefer_server_ciphers: Option<bool>,
    /// `ssl-passthrough`: TLS connections for this SNI go, undecrypted, to an endpoint of this
    /// upstream (the backend of the first path of the first Ingress that set it; ingress-nginx
    /// dials the Service ClusterIP instead, letting kube-proxy pick). Needs the proxy's
    /// passthrough listener; plain-HTTP routes of the host are unaffected.
    pub passthrough: Option<UpstreamId>,
    /// Set on virtual hosts created by `server-alias` or `from-to-www-redirect`: the host
    /// whose configuration they copy or redirect to.
    pub alias_of: Option<HostPattern>,
}

/// `auth-tls-verify-client`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyClient {
    /// A valid certificate is required; failure gives 400 (or the error page).
    #[default]
    On,
    /// Certificates are not requested.
    Off,
    /// A certificate is optional, but an invalid one gives 400.
    Optional,
    /// Any certificate is accepted; the verification result is passed upstream.
    OptionalNoCa,
}

/// Client-certificate (mTLS) authentication of a host. The proxy always sends
/// `ssl-client-verify`, `ssl-client-subject-dn` and `ssl-client-issuer-dn` upstream when it is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientAuth {
    /// The CA Secret (`auth-tls-secret`).
    pub secret: ObjectKey,
    /// Trusted CA certificates (DER) from `ca.crt`.
    #[serde(skip)]
    pub ca: Vec<Vec<u8>>,
    /// Revocation lists (DER) from `ca.crl`.
    #[serde(skip)]
    pub crls: Vec<Vec<u8>>,
    /// `auth-tls-verify-client`.
    pub verify: VerifyClient,
    /// `auth-tls-verify-depth`: maximum chain depth.
    pub depth: u32,
    /// `auth-tls-error-page`: redirect here instead of answering 400.
    pub error_page: Option<String>,
    /// `auth-tls-pass-certificate-to-upstream`: URL-escaped PEM in `ssl-client-cert`.
    pub pass_certificate: bool,
    /// `auth-tls-match-cn`: the subject CN must match this regex, else 403.
    pub match_cn: Option<String>,
    /// The Ingress these settings came from.
    pub origin: ObjectKey,
}

/// TLS towards HTTPS/GRPCS upstreams (`proxy-ssl-*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpstreamTls {
    /// `proxy-ssl-secret`.
    pub secret: Option<ObjectKey>,
    /// Client certificate from `tls.crt`/`tls.key`, when present.
    pub client_certificate: Option<Certificate>,
    /// Trusted CAs (DER) from `ca.crt`.
    #[serde(skip)]
    pub ca: Vec<Vec<u8>>,
    /// `proxy-ssl-verify`: verify the upstream certificate against `ca`.
    pub verify: bool,
    /// `proxy-ssl-verify-depth`.
    pub verify_depth: u32,
    /// `proxy-ssl-name`: name verified (and sent as SNI); `None` = the upstream host.
    pub name: Option<String>,
    /// `proxy-ssl-server-name`: send SNI.
    pub server_name: bool,
    /// `proxy-ssl-ciphers` mapped to rustls names; `None` = the provider's defaults.
    pub ciphers: Option<Vec<String>>,
    /// `proxy-ssl-protocols`.
    pub protocols: Vec<TlsVersion>,
}

impl Default for UpstreamTls {
    fn default() -> Self {
        Self {
            secret: None,
            client_certificate: None,
            ca: Vec::new(),
            verify: false,
            verify_depth: 1,
            name: None,
            server_name: false,
            ciphers: None,
            protocols: vec![TlsVersion::Tls12],
        }
    }
}
