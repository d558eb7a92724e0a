//! TLS Secrets: parsing the PEM they hold, and checking a certificate against a host.
//! Anything wrong becomes a diagnostic and the default certificate; nothing here can panic on
//! Secret contents (a bad Secret once took ingress-nginx down).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::keymatch;
use crate::diagnostic::DiagnosticKind;
use crate::objects::{Secret, TLS_SECRET_TYPE};
use crate::table::{Certificate, KeyFormat, PrivateKey};

/// Parses a TLS Secret into a certificate chain and key. As with ingress-nginx, the type does
/// not matter when the Secret holds `tls.crt` or `tls.key` (an `Opaque` Secret written by older
/// tooling serves too); a Secret of another type without them is the wrong kind of Secret.
pub fn parse_tls_secret(secret: &Secret) -> Result<Certificate, DiagnosticKind> {
    let key = &secret.key;
    let holds_pair = secret.data.contains_key("tls.crt") || secret.data.contains_key("tls.key");
    if secret.secret_type != TLS_SECRET_TYPE && !holds_pair {
        return Err(DiagnosticKind::TlsSecretWrongType {
            secret: key.clone(),
            found: secret.secret_type.clone(),
        });
    }
    let invalid = |reason: String| DiagnosticKind::TlsSecretInvalid {
        secret: key.clone(),
        reason,
    };
    let cert_pem = secret
        .data
        .get("tls.crt")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("data.tls.crt is missing or empty".into()))?;
    let key_pem = secret
        .data
        .get("tls.key")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("data.tls.key is missing or empty".into()))?;
    parse_pem_pair(cert_pem, key_pem).map_err(invalid)
}

/// Parses a PEM certificate chain and a PEM private key (PKCS#1, PKCS#8 or SEC1) and checks
/// that the key belongs to the first certificate.
pub fn parse_pem_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<Certificate, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("data.tls.crt is not valid PEM: {e}"))?;
    let Some(leaf) = chain.first() else {
        return Err("data.tls.crt holds no CERTIFICATE block".into());
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("data.tls.key holds no usable private key: {e}"))?;
    let key = match key {
        PrivateKeyDer::Pkcs1(k) => PrivateKey {
            format: KeyFormat::Pkcs1,
            der: k.secret_pkcs1_der().to_vec(),
        },
        PrivateKeyDer::Pkcs8(k) => PrivateKey {
            format: KeyFormat::Pkcs8,
            der: k.secret_pkcs8_der().to_vec(),
        },
        PrivateKeyDer::Sec1(k) => PrivateKey {
            format: KeyFormat::Sec1,
            der: k.secret_sec1_der().to_vec(),
        },
        _ => return Err("data.tls.key uses an unsupported key encoding".into()),
    };
    let (names, not_after) = leaf_names(leaf, &key)?;
    Ok(Certificate {
        chain,
        key,
        names,
        not_after,
    })
}

/// DNS names (SANs, else the subject CN) and `notAfter` of a DER certificate, after checking
/// that `key` belongs to it.
fn leaf_names(der: &[u8], key: &PrivateKey) -> Result<(Vec<String>, i64), String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("data.tls.crt: the first certificate does not parse: {e}"))?;
    keymatch::check(cert.public_key(), key)?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty()
        && let Some(cn) = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
    {
        names.push(cn.to_ascii_lowercase());
    }
    Ok((names, cert.validity().not_after.timestamp()))
}
