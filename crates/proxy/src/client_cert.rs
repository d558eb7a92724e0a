//! Client-certificate authentication (`auth-tls-*`), per host.
//!
//! The choice: the handshake of a host with `auth-tls-secret` *requests* a certificate (with the
//! CA's subjects as hints) and checks only that the client holds its key; it never fails for a
//! missing or untrusted certificate. The chain is verified against the host's CA (and CRLs) with
//! rustls's WebPKI verifier when a request arrives, and the result is cached on the connection.
//! That gives nginx's behaviour: `on` answers 400 without a valid certificate, `optional` 400
//! for an invalid one, `optional_no_ca` passes the result upstream, `auth-tls-error-page`
//! redirects instead of 400, `auth-tls-match-cn` answers 403; and `ssl-client-verify`,
//! `ssl-client-subject-dn`, `ssl-client-issuer-dn` (plus `ssl-client-cert` with
//! `auth-tls-pass-certificate-to-upstream`) go upstream.

use std::sync::{Arc, Mutex};

use regex::Regex;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use sluice_ingress_model::ObjectKey;
use sluice_ingress_model::policy::{ClientAuth, VerifyClient};

/// A host's client-certificate settings, ready for handshakes and requests.
#[derive(Debug)]
pub(crate) struct ClientAuthRuntime {
    /// The settings.
    pub policy: ClientAuth,
    /// Verifies chains against the CA and CRLs; `None` when the CA has no usable certificate
    /// (every certificate then fails).
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// `auth-tls-match-cn` as the regex nginx applies to the subject DN (`CN=<pattern>`).
    pub match_cn: Option<Regex>,
    /// The CA certificates (a client may send them; they do not count towards the depth).
    anchors: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl ClientAuthRuntime {
    /// Prepares a host's settings.
    pub fn new(policy: &ClientAuth, provider: Arc<CryptoProvider>) -> Self {
        let mut roots = RootCertStore::empty();
        for der in &policy.ca {
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        let crls: Vec<CertificateRevocationListDer<'static>> = policy
            .crls
            .iter()
            .map(|c| CertificateRevocationListDer::from(c.clone()))
            .collect();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls)
            .allow_unknown_revocation_status()
            .allow_unauthenticated()
            .build()
            .map_err(|error| {
                tracing::warn!(secret = %policy.secret, %error, "client CA unusable; every client certificate will fail");
            })
            .ok();
        let match_cn = policy
            .match_cn
            .as_ref()
            .and_then(|p| Regex::new(&format!("CN={p}")).ok());
        Self {
            policy: policy.clone(),
            verifier,
            match_cn,
            anchors: policy.ca.clone(),
            provider,
        }
    }

    /// The verifier a handshake of this host uses (see the module doc), or `None` for `off`.
    pub fn handshake_verifier(self: &Arc<Self>) -> Option<Arc<dyn ClientCertVerifier>> {
        (self.policy.verify != VerifyClient::Off).then(|| {
            Arc::new(RequestingVerifier { auth: self.clone() }) as Arc<dyn ClientCertVerifier>
        })
    }

    /// Verifies a presented chain (leaf first).
    fn verify(&self, chain: &[CertificateDer<'static>]) -> Verification {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Verification::None;
        };
        let Some(verifier) = &self.verifier else {
            return Verification::Failed("unable to get local issuer certificate".into());
        };
        let depth = intermediates
            .iter()
            .filter(|c| !self.anchors.iter().any(|a| a.as_slice() == c.as_ref()))
            .count()
            + 1;
        if u32::try_from(depth).unwrap_or(u32::MAX) > self.policy.depth.max(1) {
            return Verification::Failed("certificate chain too long".into());
        }
        match verifier.verify_client_cert(leaf, intermediates, UnixTime::now()) {
            Ok(_) => Verification::Success,
            Err(error) => Verification::Failed(openssl_reason(&error).into()),
        }
    }
}

/// Requests a certificate and checks the handshake signature; the chain is judged per request.
#[derive(Debug)]
struct RequestingVerifier {
    auth: Arc<ClientAuthRuntime>,
}

impl ClientCertVerifier for RequestingVerifier {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.auth.verifier {
            Some(verifier) => verifier.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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
            &self.auth.provider.signature_verification_algorithms,
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
            &self.auth.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.auth
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `$ssl_client_verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verification {
    /// No certificate was sent.
    None,
    /// The chain verified.
    Success,
    /// The chain did not verify, with OpenSSL's wording of why.
    Failed(String),
}

impl Verification {
    /// The variable's value: `NONE`, `SUCCESS` or `FAILED:<reason>`.
    pub fn as_header(&self) -> String {
        match self {
            Self::None => "NONE".to_owned(),
            Self::Success => "SUCCESS".to_owned(),
            Self::Failed(reason) => format!("FAILED:{reason}"),
        }
    }
}

/// The client certificate of a connection, judged for one host.
#[derive(Clone, Debug)]
pub(crate) struct CertCheck {
    /// The verification result.
    pub verification: Verification,
    /// `$ssl_client_s_dn` (RFC 2253), empty without a certificate.
    pub subject_dn: String,
    /// `$ssl_client_i_dn`.
    pub issuer_dn: String,
    /// `$ssl_client_escaped_cert`: the leaf as URL-escaped PEM.
    pub escaped_pem: String,
}

/// What a TLS connection knows about its client.
#[derive(Debug, Default)]
pub(crate) struct TlsSession {
    /// The certificate chain the client sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    checked: Mutex<Option<(ObjectKey, Arc<CertCheck>)>>,
}

impl TlsSession {
    /// A session with this client chain.
    pub fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        Self {
            chain,
            checked: Mutex::new(None),
        }
    }

    /// The chain judged against a host's CA; computed once per connection and CA Secret.
    pub fn check(&self, auth: &ClientAuthRuntime) -> Arc<CertCheck> {
        // A poisoned lock only loses the cache.
        let mut cached = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((secret, check)) = cached.as_ref()
            && *secret == auth.policy.secret
        {
            return check.clone();
        }
        let verification = match auth.policy.verify {
            VerifyClient::Off => Verification::None,
            _ => auth.verify(&self.chain),
        };
        let names = self.chain.first().and_then(|leaf| names(leaf.as_ref()));
        let (subject_dn, issuer_dn) = names.unwrap_or_default();
        let escaped_pem = self
            .chain
            .first()
            .map(|leaf| escaped_pem(leaf.as_ref()))
            .unwrap_or_default();
        let check = Arc::new(CertCheck {
            verification,
            subject_dn,
            issuer_dn,
            escaped_pem,
        });
        *cached = Some((auth.policy.secret.clone(), check.clone()));
        check
    }
}

/// The check a request of a plain-HTTP connection (no certificate possible) gets.
pub(crate) fn no_certificate() -> CertCheck {
    CertCheck {
        verification: Verification::None,
        subject_dn: String::new(),
        issuer_dn: String::new(),
        escaped_pem: String::new(),
    }
}

/// OpenSSL's `X509_verify_cert_error_string` wording for the common failures.
fn openssl_reason(error: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "certificate has expired"
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "certificate is not yet valid"
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "certificate revoked",
        rustls::Error::InvalidCertificate(C::BadSignature) => "certificate signature failure",
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "unable to get local issuer certificate"
        }
        rustls::Error::InvalidCertificate(C::InvalidPurpose | C::InvalidPurposeContext { .. }) => {
            "unsupported certificate purpose"
        }
        _ => "certificate verify failed",
    }
}

/// Subject and issuer of a DER certificate in RFC 2253 form (nginx's `$ssl_client_s_dn`).
pub(crate) fn names(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some((rfc2253(cert.subject()), rfc2253(cert.issuer())))
}

fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for rdn in name.iter() {
        let attrs: Vec<String> = rdn
            .iter()
            .map(|attr| {
                let oid = attr.attr_type().to_id_string();
                let key = short_name(&oid).unwrap_or(oid.as_str()).to_owned();
                let value = match attr.as_str() {
                    Ok(text) => escape_value(text),
                    Err(_) => format!("#{}", hex(attr.attr_value().data)),
                };
                format!("{key}={value}")
            })
            .collect();
        rdns.push(attrs.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// OpenSSL's short names for the attribute types certificates commonly carry.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// RFC 2253 escaping as OpenSSL does it (`ESC_2253`, `ESC_CTRL`, `ESC_MSB`).
fn escape_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let last = text.len().saturating_sub(1);
    for (i, b) in text.bytes().enumerate() {
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'#' if i == 0 => out.push_str("\\#"),
            b' ' if i == 0 || i == last => out.push_str("\\ "),
            0..=0x1f | 0x7f..=0xff => {
                out.push('\\');
                out.push_str(&hex(&[b]).to_ascii_uppercase());
            }
            _ => out.push(char::from(b)),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A DER certificate as PEM, URL-escaped like nginx's `$ssl_client_escaped_cert`.
pub(crate) fn escaped_pem(der: &[u8]) -> String {
    let body = base64(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    percent_encoding::utf8_percent_encode(&pem, crate::variables::COMPONENT).to_string()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, s) in symbols.iter().enumerate() {
            if i <= chunk.len() {
                // `s` is six bits, always inside the 64-entry alphabet.
                out.push(char::from(ALPHABET[*s as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn distinguished_names_are_rfc2253_in_reverse_order() {
        let mut params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc");
        dn.push(rcgen::DnType::CommonName, "client one");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (subject, issuer) = names(cert.der()).unwrap();
        assert_eq!(subject, "CN=client one,O=Acme\\, Inc,C=DE");
        assert_eq!(issuer, subject);
        let pem = escaped_pem(cert.der());
        assert!(pem.starts_with("-----BEGIN%20CERTIFICATE-----%0A"), "{pem}");
        assert!(!pem.contains('/') && !pem.contains('+') && !pem.contains('\n'));
    }

    #[test]
    fn escaping_covers_special_and_edge_characters() {
        assert_eq!(escape_value("#a b "), "\\#a b\\ ");
        assert_eq!(escape_value("a;b<c>"), "a\\;b\\<c\\>");
        assert_eq!(escape_value("é"), "\\C3\\A9");
    }
}
