//! TLS towards `HTTPS` and `GRPCS` upstreams (`proxy-ssl-*`), as nginx's `proxy_ssl_*`
//! directives behave in ingress-nginx: the upstream certificate is not verified unless
//! `proxy-ssl-verify` is on (then against `ca.crt` for `proxy-ssl-name`, by default the upstream
//! name `namespace-service-port`), SNI is sent only with `proxy-ssl-server-name`, and the
//! Secret's `tls.crt`/`tls.key` is the client certificate.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sluice_ingress_model::policy::{TlsVersion, UpstreamTls};

use crate::error::ProxyError;

/// How to open TLS to one upstream.
#[derive(Clone, Debug)]
pub(crate) struct TlsTarget {
    /// The client configuration.
    pub config: Arc<ClientConfig>,
    /// The name verified (and sent as SNI when enabled).
    pub server_name: ServerName<'static>,
}

/// A client configuration for `tls` (`None` = nginx's defaults: no verification, no SNI,
/// TLS 1.2 and 1.3), offering `alpn`.
pub(crate) fn client_config(
    tls: Option<&UpstreamTls>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, ProxyError> {
    let error = |reason: String| ProxyError::Tls { reason };
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = tls
        .and_then(|t| t.ciphers.as_ref())
        .filter(|n| !n.is_empty())
    {
        provider.cipher_suites.retain(|suite| {
            suite.version() == &rustls::version::TLS13
                || suite
                    .suite()
                    .as_str()
                    .is_some_and(|name| names.iter().any(|n| n == name))
        });
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match tls {
        Some(t) if !t.protocols.is_empty() => t
            .protocols
            .iter()
            .map(|v| match v {
                TlsVersion::Tls12 => &rustls::version::TLS12,
                TlsVersion::Tls13 => &rustls::version::TLS13,
            })
            .collect(),
        _ => vec![&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| error(format!("upstream TLS versions: {e}")))?;
    let verify = tls.is_some_and(|t| t.verify);
    let builder = if verify {
        let mut roots = RootCertStore::empty();
        for der in tls.map(|t| t.ca.as_slice()).unwrap_or_default() {
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| error(format!("upstream CA: {e}")))?;
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider.clone())))
    };
    let client_cert = tls.and_then(|t| t.client_certificate.as_ref());
    let mut config = match client_cert {
        Some(cert) => {
            let chain = cert
                .chain
                .iter()
                .map(|c| CertificateDer::from(c.clone()))
                .collect();
            let key = crate::tls::private_key(cert);
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| error(format!("upstream client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = tls.is_some_and(|t| t.server_name);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name a TLS upstream is verified against: `proxy-ssl-name`, else the upstream name.
pub(crate) fn server_name(
    tls: Option<&UpstreamTls>,
    upstream: &str,
) -> Result<ServerName<'static>, ProxyError> {
    let name = tls
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| upstream.to_owned());
    ServerName::try_from(name.clone()).map_err(|_| ProxyError::Tls {
        reason: format!("upstream TLS name {name:?} is not a DNS name or IP address"),
    })
}

/// `proxy-ssl-verify: off`: any certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
