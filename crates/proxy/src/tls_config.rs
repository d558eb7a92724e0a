//! The rustls server configurations of one generation: the default one from the ConfigMap's TLS
//! keys (`ssl-protocols`, `ssl-ciphers`, `ssl-ecdh-curve`, `ssl-prefer-server-ciphers`,
//! `ssl-session-cache`, `ssl-session-tickets`, `use-http2`) and per-host ones for hosts with their
//! own `ssl-ciphers` or client certificates. The HTTPS acceptor reads the ClientHello, finds
//! the host by SNI and hands the handshake the host's configuration; with `ssl-reject-handshake`
//! a name no host claims gets no handshake at all.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedProtocolVersion};
use sluice_ingress_model::policy::{ClientSettings, TlsSettings, TlsVersion};

use crate::client_cert::ClientAuthRuntime;
use crate::tls::CertStore;

/// Per-host overrides of the default configuration.
#[derive(Default)]
pub(crate) struct HostTls<'a> {
    /// `ssl-ciphers` of the host (rustls TLS 1.2 suite names).
    pub ciphers: Option<&'a [String]>,
    /// `ssl-prefer-server-ciphers` of the host.
    pub prefer_server_ciphers: Option<bool>,
    /// Client certificates.
    pub client_auth: Option<&'a Arc<ClientAuthRuntime>>,
}

impl HostTls<'_> {
    /// Whether the host needs a configuration of its own.
    pub fn is_default(&self) -> bool {
        self.ciphers.is_none() && self.prefer_server_ciphers.is_none() && self.client_auth.is_none()
    }
}

/// Serves the certificates of one generation's store.
#[derive(Debug)]
struct StoreResolver(Arc<CertStore>);

impl ResolvesServerCert for StoreResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.resolve(hello.server_name()))
    }
}

/// Builds a server configuration. Settings rustls cannot honour (no cipher left, say) fall back
/// to its defaults with a warning rather than failing the generation; `None` only if even those
/// fail (handshakes are then refused).
pub(crate) fn server_config(
    tls: &TlsSettings,
    client: &ClientSettings,
    certs: &Arc<CertStore>,
    host: &HostTls<'_>,
) -> Option<Arc<ServerConfig>> {
    match build(tls, client, certs, host) {
        Ok(config) => Some(Arc::new(config)),
        Err(error) => {
            tracing::warn!(%error, "TLS settings unusable, using rustls defaults");
            let fallback = TlsSettings {
                protocols: vec![TlsVersion::Tls12, TlsVersion::Tls13],
                ciphers: Vec::new(),
                ecdh_curves: Vec::new(),
                ..tls.clone()
            };
            let plain = HostTls {
                client_auth: host.client_auth,
                ..HostTls::default()
            };
            match build(&fallback, client, certs, &plain) {
                Ok(config) => Some(Arc::new(config)),
                Err(error) => {
                    tracing::error!(%error, "default TLS configuration failed");
                    None
                }
            }
        }
    }
}

fn build(
    tls: &TlsSettings,
    client: &ClientSettings,
    certs: &Arc<CertStore>,
    host: &HostTls<'_>,
) -> Result<ServerConfig, String> {
    let provider = Arc::new(provider_for(tls, host.ciphers)?);
    let versions: Vec<&'static SupportedProtocolVersion> = tls
        .protocols
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    if versions.is_empty() {
        return Err("no TLS version enabled".into());
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let verifier = host.client_auth.and_then(|auth| auth.handshake_verifier());
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(StoreResolver(certs.clone())));
    config.alpn_protocols = if client.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.ignore_client_order = host
        .prefer_server_ciphers
        .unwrap_or(tls.prefer_server_ciphers);
    if !tls.session_cache {
        config.session_storage = Arc::new(NoServerSessionStorage {});
    }
    if tls.session_tickets {
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| e.to_string())?;
    }
    Ok(config)
}

/// ring with the configured TLS 1.2 suites (TLS 1.3 suites are always on, as in nginx) and
/// key-exchange groups.
fn provider_for(
    tls: &TlsSettings,
    host_ciphers: Option<&[String]>,
) -> Result<CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let names = host_ciphers.unwrap_or(&tls.ciphers);
    if !names.is_empty() {
        provider.cipher_suites.retain(|suite| {
            suite.version() == &rustls::version::TLS13
                || suite
                    .suite()
                    .as_str()
                    .is_some_and(|name| names.iter().any(|n| n == name))
        });
        let tls12_only = !tls.protocols.contains(&TlsVersion::Tls13);
        let has_tls12 = provider
            .cipher_suites
            .iter()
            .any(|s| s.version() == &rustls::version::TLS12);
        if tls12_only && !has_tls12 {
            return Err(format!("none of the ciphers {names:?} is available"));
        }
    }
    if !tls.ecdh_curves.is_empty() {
        provider.kx_groups.retain(|group| {
            let name = format!("{:?}", group.name()).to_ascii_lowercase();
            tls.ecdh_curves
                .iter()
                .any(|wanted| wanted.to_ascii_lowercase() == name)
        });
        if provider.kx_groups.is_empty() {
            return Err(format!(
                "none of the curves {:?} is available",
                tls.ecdh_curves
            ));
        }
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphers_keep_tls13_suites_and_the_named_tls12_ones() {
        let tls = TlsSettings {
            ciphers: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()],
            ..TlsSettings::default()
        };
        let provider = provider_for(&tls, None).unwrap();
        let names: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect();
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        assert!(names.contains(&"TLS13_AES_128_GCM_SHA256"));
        assert!(!names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        let only12 = TlsSettings {
            protocols: vec![TlsVersion::Tls12],
            ciphers: vec!["TLS_NOPE".into()],
            ..TlsSettings::default()
        };
        assert!(provider_for(&only12, None).is_err());
    }

    #[test]
    fn curves_filter_key_exchange_groups() {
        let tls = TlsSettings {
            ecdh_curves: vec!["secp384r1".into()],
            ..TlsSettings::default()
        };
        let provider = provider_for(&tls, None).unwrap();
        assert_eq!(provider.kx_groups.len(), 1);
    }
}
