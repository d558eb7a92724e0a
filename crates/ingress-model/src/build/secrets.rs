//! Contents of the Secrets annotations name: htpasswd/auth-map credentials (`auth-secret`), CA
//! bundles (`auth-tls-secret`, `proxy-ssl-secret`) and upstream client certificates. Every error
//! is a reason string: the caller makes the routes fail closed.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

use crate::objects::Secret;
use crate::policy::{BasicAuthKind, Credentials, HashScheme, PasswordHash};
use crate::table::Certificate;

/// Reads credentials: `auth-file` = htpasswd (or htdigest for digest) under key `auth`;
/// `auth-map` = one key per user whose value is the hash.
pub fn credentials(
    secret: &Secret,
    map: bool,
    kind: BasicAuthKind,
    realm: &str,
) -> Result<Credentials, String> {
    let mut users = Credentials::default();
    if map {
        for (user, value) in &secret.data {
            let hash = std::str::from_utf8(value)
                .map_err(|_| format!("the value of user {user:?} is not UTF-8"))?;
            users
                .0
                .insert(user.clone(), password_hash(hash.trim(), kind, user)?);
        }
    } else {
        let data = secret
            .data
            .get("auth")
            .ok_or("the Secret has no key \"auth\"")?;
        let text = std::str::from_utf8(data).map_err(|_| "data.auth is not UTF-8")?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = match kind {
                BasicAuthKind::Basic => line
                    .split_once(':')
                    .ok_or_else(|| format!("line {} is not user:hash", n + 1))?,
                BasicAuthKind::Digest => {
                    let mut fields = line.splitn(3, ':');
                    let (Some(user), Some(line_realm), Some(ha1)) =
                        (fields.next(), fields.next(), fields.next())
                    else {
                        return Err(format!("line {} is not user:realm:hash", n + 1));
                    };
                    if line_realm != realm {
                        continue;
                    }
                    (user, ha1)
                }
            };
            users
                .0
                .insert(user.to_owned(), password_hash(hash.trim(), kind, user)?);
        }
    }
    if users.0.is_empty() {
        return Err("the Secret holds no user".into());
    }
    Ok(users)
}

/// Detects the scheme of one stored hash.
fn password_hash(hash: &str, kind: BasicAuthKind, user: &str) -> Result<PasswordHash, String> {
    let scheme = if kind == BasicAuthKind::Digest {
        if hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            HashScheme::DigestHa1
        } else {
            return Err(format!("user {user:?}: not an htdigest MD5 hash"));
        }
    } else if ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
        HashScheme::Bcrypt
    } else if hash.starts_with("$apr1$") {
        HashScheme::Apr1
    } else if hash.starts_with("$1$") {
        HashScheme::Md5Crypt
    } else if hash.starts_with("$5$") {
        HashScheme::Sha256Crypt
    } else if hash.starts_with("$6$") {
        HashScheme::Sha512Crypt
    } else if hash.starts_with("{SHA}") {
        HashScheme::Sha1
    } else if hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        HashScheme::Des
    } else {
        return Err(format!(
            "user {user:?}: unsupported password hash (bcrypt, apr1, MD5/SHA-crypt, {{SHA}} or DES crypt expected; plain text is not accepted)"
        ));
    };
    Ok(PasswordHash {
        scheme,
        hash: hash.to_owned(),
    })
}

/// DER certificates and revocation lists of a CA Secret.
pub struct CaBundle {
    /// `ca.crt`.
    pub certificates: Vec<Vec<u8>>,
    /// `ca.crl`.
    pub crls: Vec<Vec<u8>>,
}

/// A CA bundle (`ca.crt`, required when `required`) and optional CRLs (`ca.crl`), as DER.
pub fn ca_bundle(secret: &Secret, required: bool) -> Result<CaBundle, String> {
    let ca = match secret.data.get("ca.crt").filter(|d| !d.is_empty()) {
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .map(|c| c.map(|c| c.as_ref().to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("data.ca.crt is not valid PEM: {e}"))?;
            for der in &certs {
                x509_parser::parse_x509_certificate(der).map_err(|e| {
                    format!("data.ca.crt holds a certificate that does not parse: {e}")
                })?;
            }
            if certs.is_empty() {
                return Err("data.ca.crt holds no CERTIFICATE block".into());
            }
            certs
        }
        None if required => return Err("the Secret has no data.ca.crt".into()),
        None => Vec::new(),
    };
    let crls = match secret.data.get("ca.crl").filter(|d| !d.is_empty()) {
        Some(pem) => CertificateRevocationListDer::pem_slice_iter(pem)
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("data.ca.crl is not valid PEM: {e}"))?,
        None => Vec::new(),
    };
    Ok(CaBundle {
        certificates: ca,
        crls,
    })
}

/// The optional client certificate of a `proxy-ssl-secret` (`tls.crt` + `tls.key`).
pub fn client_certificate(secret: &Secret) -> Result<Option<Certificate>, String> {
    let cert = secret.data.get("tls.crt").filter(|d| !d.is_empty());
    let key = secret.data.get("tls.key").filter(|d| !d.is_empty());
    match (cert, key) {
        (Some(cert), Some(key)) => super::tls::parse_pem_pair(cert, key).map(Some),
        (None, None) => Ok(None),
        _ => Err("tls.crt and tls.key must be set together".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ObjectKey;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            key: ObjectKey::new("ns", "s"),
            secret_type: "Opaque".into(),
            data: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn htpasswd_schemes_are_detected() {
        let s = secret(&[(
            "auth",
            "a:$2y$05$abcdefghijklmnopqrstuu\nb:$apr1$salt$hash\nc:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n# comment\nd:abJnggxhB/yWI\n",
        )]);
        let users = credentials(&s, false, BasicAuthKind::Basic, "").unwrap();
        let schemes: Vec<_> = users.0.values().map(|h| h.scheme).collect();
        assert_eq!(
            schemes,
            [
                HashScheme::Bcrypt,
                HashScheme::Apr1,
                HashScheme::Sha1,
                HashScheme::Des
            ]
        );
        assert!(!format!("{users:?}").contains("$2y$"));
        let plain = secret(&[("auth", "a:password123")]);
        assert!(credentials(&plain, false, BasicAuthKind::Basic, "").is_err());
        assert!(credentials(&secret(&[]), false, BasicAuthKind::Basic, "").is_err());
        let map = secret(&[("alice", "$apr1$x$y")]);
        assert_eq!(
            credentials(&map, true, BasicAuthKind::Basic, "").unwrap().0["alice"].scheme,
            HashScheme::Apr1
        );
        let digest = secret(&[(
            "auth",
            "u:realm:0123456789abcdef0123456789abcdef\nv:other:0123456789abcdef0123456789abcdef",
        )]);
        let users = credentials(&digest, false, BasicAuthKind::Digest, "realm").unwrap();
        assert_eq!(users.0.keys().collect::<Vec<_>>(), ["u"]);
    }

    #[test]
    fn ca_bundles_need_a_certificate() {
        assert!(ca_bundle(&secret(&[]), true).is_err());
        assert!(
            ca_bundle(&secret(&[]), false)
                .unwrap()
                .certificates
                .is_empty()
        );
        assert!(ca_bundle(&secret(&[("ca.crt", "junk")]), true).is_err());
    }
}
