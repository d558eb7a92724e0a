//! TLS certificates: the certificate store of one generation (exact host, then one-label
//! wildcard, then the default certificate), conversions from the model's certificates, the ring
//! provider, and the self-signed certificate used when the table names no usable default. The
//! server configurations built over a store are in `tls_config`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::sign::CertifiedKey;
use sluice_ingress_model::{Certificate, HostPattern, KeyFormat, ObjectKey, Routes};

use crate::error::ProxyError;

/// The common name of the generated default certificate.
pub const SELF_SIGNED_COMMON_NAME: &str = "sluice default certificate";

/// The certificates of one generation, ready for rustls.
#[derive(Debug)]
pub(crate) struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
    by_secret: BTreeMap<ObjectKey, Arc<CertifiedKey>>,
}

impl CertStore {
    /// A store that answers every name with `default`.
    pub fn empty(default: Arc<CertifiedKey>) -> Self {
        Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default,
            by_secret: BTreeMap::new(),
        }
    }

    /// Builds the store for `routes`. Keys of certificates unchanged since `previous` are
    /// reused rather than parsed again. A certificate rustls cannot use is logged and its hosts
    /// get the default certificate; `fallback` serves when the table names no usable default.
    pub fn build(
        routes: &Routes,
        previous: Option<(&Routes, &CertStore)>,
        fallback: &Arc<CertifiedKey>,
    ) -> Self {
        let mut by_secret = BTreeMap::new();
        for (key, cert) in &routes.certificates {
            let reused = previous.and_then(|(old_routes, old_store)| {
                (old_routes.certificates.get(key) == Some(cert))
                    .then(|| old_store.by_secret.get(key).cloned())
                    .flatten()
            });
            let loaded = match reused {
                Some(loaded) => Ok(loaded),
                None => certified_key(cert),
            };
            match loaded {
                Ok(loaded) => {
                    by_secret.insert(key.clone(), loaded);
                }
                Err(reason) => {
                    tracing::warn!(secret = %key, %reason, "certificate unusable, serving the default certificate instead");
                }
            }
        }
        let default = routes
            .default_certificate
            .as_ref()
            .and_then(|k| by_secret.get(k))
            .unwrap_or(fallback)
            .clone();
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for vhost in &routes.virtual_hosts {
            let Some(cert) = vhost
                .tls
                .as_ref()
                .and_then(|tls| tls.certificate.as_ref())
                .and_then(|key| by_secret.get(key))
            else {
                continue;
            };
            match &vhost.host {
                HostPattern::Exact(host) => {
                    exact.insert(host.clone(), cert.clone());
                }
                HostPattern::Wildcard(suffix) => {
                    wildcard.insert(suffix.clone(), cert.clone());
                }
                HostPattern::Any => {}
            }
        }
        Self {
            exact,
            wildcard,
            default,
            by_secret,
        }
    }

    /// The certificate for a server name: exact host, else one-label wildcard, else default.
    pub fn resolve(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return self.default.clone();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(cert) = self.exact.get(&name) {
            return cert.clone();
        }
        if let Some((first, rest)) = name.split_once('.')
            && !first.is_empty()
            && let Some(cert) = self.wildcard.get(rest)
        {
            return cert.clone();
        }
        self.default.clone()
    }
}

/// The ring crypto provider, chosen explicitly (never the process default).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Converts a model certificate into a rustls key, checking that key and certificate match.
pub(crate) fn certified_key(cert: &Certificate) -> Result<Arc<CertifiedKey>, String> {
    let key = private_key(cert);
    let chain = cert
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// The private key of a model certificate in rustls's form.
pub(crate) fn private_key(cert: &Certificate) -> PrivateKeyDer<'static> {
    let der = cert.key.der.clone();
    match cert.key.format {
        KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
        KeyFormat::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
    }
}

/// A fresh self-signed certificate (`CN=sluice default certificate`, SAN `ingress.local`), the
/// counterpart of ingress-nginx's fake certificate.
pub(crate) fn self_signed() -> Result<Arc<CertifiedKey>, ProxyError> {
    let tls = |e: rcgen::Error| ProxyError::Tls {
        reason: format!("self-signed default certificate: {e}"),
    };
    let mut params =
        rcgen::CertificateParams::new(vec!["ingress.local".to_owned()]).map_err(tls)?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, SELF_SIGNED_COMMON_NAME);
    params.distinguished_name = name;
    let key_pair = rcgen::KeyPair::generate().map_err(tls)?;
    let cert = params.self_signed(&key_pair).map_err(tls)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    CertifiedKey::from_der(vec![cert.der().clone()], key, &provider())
        .map(Arc::new)
        .map_err(|e| ProxyError::Tls {
            reason: format!("self-signed default certificate: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::{HostTls, VirtualHost};

    fn cert(name: &str) -> Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let c = params.self_signed(&key).unwrap();
        sluice_ingress_model::build::parse_pem_pair(
            c.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap()
    }

    fn vhost(host: HostPattern, secret: &str) -> VirtualHost {
        VirtualHost {
            host,
            tls: Some(HostTls {
                certificate: Some(ObjectKey::new("ns", secret)),
                origin: ObjectKey::new("ns", "ing"),
            }),
            routes: Vec::new(),
            policy: Default::default(),
        }
    }

    #[test]
    fn resolves_exact_then_wildcard_then_default() {
        let mut routes = Routes::default();
        routes
            .certificates
            .insert(ObjectKey::new("ns", "a"), Arc::new(cert("a.example.com")));
        routes
            .certificates
            .insert(ObjectKey::new("ns", "w"), Arc::new(cert("*.example.com")));
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Exact("a.example.com".into()), "a").into());
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Wildcard("example.com".into()), "w").into());
        let fallback = self_signed().unwrap();
        let store = CertStore::build(&routes, None, &fallback);
        let a = store.by_secret[&ObjectKey::new("ns", "a")].clone();
        let w = store.by_secret[&ObjectKey::new("ns", "w")].clone();
        assert!(Arc::ptr_eq(&store.resolve(Some("A.example.com.")), &a));
        assert!(Arc::ptr_eq(&store.resolve(Some("b.example.com")), &w));
        assert!(Arc::ptr_eq(
            &store.resolve(Some("x.b.example.com")),
            &fallback
        ));
        assert!(Arc::ptr_eq(&store.resolve(None), &fallback));

        // Unchanged certificates are reused, not parsed again.
        let next = CertStore::build(&routes, Some((&routes, &store)), &fallback);
        assert!(Arc::ptr_eq(&next.resolve(Some("a.example.com")), &a));
    }

    #[test]
    fn table_default_certificate_wins_over_the_generated_one() {
        let mut routes = Routes::default();
        let key = ObjectKey::new("ns", "d");
        routes
            .certificates
            .insert(key.clone(), Arc::new(cert("d.example.com")));
        routes.default_certificate = Some(key.clone());
        let fallback = self_signed().unwrap();
        let store = CertStore::build(&routes, None, &fallback);
        assert!(Arc::ptr_eq(
            &store.resolve(Some("other")),
            &store.by_secret[&key]
        ));
    }

    #[test]
    fn mismatched_key_falls_back_to_default() {
        let mut broken = cert("a.example.com");
        broken.key = cert("b.example.com").key;
        assert!(certified_key(&broken).is_err());
        let mut routes = Routes::default();
        routes
            .certificates
            .insert(ObjectKey::new("ns", "a"), Arc::new(broken));
        routes
            .virtual_hosts
            .push(vhost(HostPattern::Exact("a.example.com".into()), "a").into());
        let fallback = self_signed().unwrap();
        let store = CertStore::build(&routes, None, &fallback);
        assert!(Arc::ptr_eq(
            &store.resolve(Some("a.example.com")),
            &fallback
        ));
    }
}
