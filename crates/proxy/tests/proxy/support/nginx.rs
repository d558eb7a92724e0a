//! ingress-nginx vocabulary for test worlds: annotations, the controller ConfigMap, paths of any
//! type, Secrets with CAs and client certificates, and certificates made with rcgen.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sluice_ingress_model::*;

use super::{NS, World};

/// The controller ConfigMap every test world points at.
pub const CONFIG_MAP: &str = "ingress-nginx-controller";

/// ingress-nginx's annotations and ConfigMap on a [`World`].
pub trait Nginx {
    /// Sets `nginx.ingress.kubernetes.io/<key>` on an Ingress added before.
    fn annotate(&mut self, ingress: &str, key: &str, value: &str) -> &mut Self;
    /// Sets a key of the controller ConfigMap.
    fn configmap(&mut self, key: &str, value: &str) -> &mut Self;
    /// An Ingress `name` with one rule: `host` and (path, pathType, Service) entries.
    fn ingress_paths(
        &mut self,
        name: &str,
        host: Option<&str>,
        paths: &[(&str, PathType, &str)],
    ) -> &mut Self;
    /// An Ingress with only `spec.defaultBackend` (the catch-all).
    fn catch_all(&mut self, name: &str, service: &str) -> &mut Self;
    /// A Service without any ready endpoint.
    fn service_without_endpoints(&mut self, name: &str) -> &mut Self;
    /// A Secret with these data keys.
    fn secret_data(&mut self, name: &str, secret_type: &str, data: &[(&str, &[u8])]) -> &mut Self;
    /// Sets the creation timestamp of an Ingress added before.
    fn created(&mut self, ingress: &str, at: i64) -> &mut Self;
}

impl Nginx for World {
    fn annotate(&mut self, ingress: &str, key: &str, value: &str) -> &mut Self {
        let key_name = format!("{DEFAULT_ANNOTATION_PREFIX}/{key}");
        let ingress = self
            .snapshot
            .ingresses
            .get_mut(&ObjectKey::new(NS, ingress))
            .unwrap_or_else(|| panic!("no Ingress {ingress}"));
        Arc::make_mut(ingress)
            .annotations
            .insert(key_name, value.to_owned());
        self
    }

    fn configmap(&mut self, key: &str, value: &str) -> &mut Self {
        let config_key = ObjectKey::new(NS, CONFIG_MAP);
        self.options.controller_config = Some(config_key.clone());
        let mut data = self
            .snapshot
            .config_maps
            .get(&config_key)
            .map(|c| c.data.clone())
            .unwrap_or_default();
        data.insert(key.to_owned(), value.to_owned());
        self.snapshot.insert_config_map(ConfigMap {
            key: config_key,
            data,
        });
        self
    }

    fn ingress_paths(
        &mut self,
        name: &str,
        host: Option<&str>,
        paths: &[(&str, PathType, &str)],
    ) -> &mut Self {
        self.snapshot.insert_ingress(Ingress {
            key: ObjectKey::new(NS, name),
            class_name: Some("sluice".into()),
            rules: vec![IngressRule {
                host: host.map(Into::into),
                paths: paths
                    .iter()
                    .map(|(path, path_type, service)| HttpPath {
                        path: Some((*path).into()),
                        path_type: Some(*path_type),
                        backend: IngressBackend::Service {
                            name: (*service).into(),
                            port: PortRef::Number(80),
                        },
                    })
                    .collect(),
            }],
            ..Ingress::default()
        });
        self
    }

    fn catch_all(&mut self, name: &str, service: &str) -> &mut Self {
        self.snapshot.insert_ingress(Ingress {
            key: ObjectKey::new(NS, name),
            class_name: Some("sluice".into()),
            default_backend: Some(IngressBackend::Service {
                name: service.into(),
                port: PortRef::Number(80),
            }),
            ..Ingress::default()
        });
        self
    }

    fn service_without_endpoints(&mut self, name: &str) -> &mut Self {
        let none: [SocketAddr; 0] = [];
        self.service(name, &none)
    }

    fn secret_data(&mut self, name: &str, secret_type: &str, data: &[(&str, &[u8])]) -> &mut Self {
        let data: BTreeMap<String, Vec<u8>> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        self.snapshot.insert_secret(Secret {
            key: ObjectKey::new(NS, name),
            secret_type: secret_type.into(),
            data,
        });
        self
    }

    fn created(&mut self, ingress: &str, at: i64) -> &mut Self {
        let ingress = self
            .snapshot
            .ingresses
            .get_mut(&ObjectKey::new(NS, ingress))
            .unwrap();
        Arc::make_mut(ingress).created = Some(at);
        self
    }
}

/// A CA and certificates it issues (rcgen).
pub struct Ca {
    /// The CA certificate.
    pub cert: rcgen::Certificate,
    /// Its issuer handle.
    pub issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// PEM of the intermediates between this CA and its root (itself included when it is one).
    chain: String,
}

/// A certificate with its key, PEM.
pub struct Issued {
    /// Certificate PEM, then its intermediates.
    pub cert_pem: String,
    /// Key PEM.
    pub key_pem: String,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Sluice Tests");
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::new(params, key);
        Self {
            cert,
            issuer,
            chain: String::new(),
        }
    }

    /// An intermediate CA issued by this one; its certificates carry it in their chain.
    pub fn intermediate(&self, name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = format!("{}{}", cert.pem(), self.chain);
        Self {
            cert,
            issuer: rcgen::Issuer::new(params, key),
            chain,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A client certificate with this common name.
    pub fn client(&self, common_name: &str) -> Issued {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Clients");
        dn.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    /// A server certificate for these DNS names.
    pub fn server(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    fn issue(&self, params: rcgen::CertificateParams) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: format!("{}{}", cert.pem(), self.chain),
            key_pem: key.serialize_pem(),
        }
    }
}
