//! Whether a TLS private key belongs to a certificate, decided without cryptography: the public
//! key a private key carries is compared with the certificate's SubjectPublicKeyInfo.
//!
//! - RSA (PKCS#1, or PKCS#8 `rsaEncryption`): the modulus and public exponent are part of every
//!   RSA private key; they must equal the certificate's.
//! - EC (SEC1, or PKCS#8 `ecPublicKey`): the curve and the public point stored next to the
//!   private scalar must equal the certificate's. Every common tool stores the point, and
//!   rustls's ring provider refuses EC keys without it, so such a key stays undecided here.
//! - Other PKCS#8 algorithms (Ed25519, …): the algorithm and, when the key carries one
//!   (PKCS#8 v2), the public key must equal the certificate's.
//!
//! A key whose DER does not parse as its PEM label says is an error too. The proxy checks the
//! pair again when it loads it (rustls `CertifiedKey::from_der`), so an undecided key that does
//! not match is still never served; this check makes the mismatch a diagnostic that
//! `sluice check` and the admission webhook report.

use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::table::{KeyFormat, PrivateKey};

/// DER content of the OID 1.2.840.113549.1.1.1 (`rsaEncryption`).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER content of the OID 1.2.840.113549.1.1.10 (`id-RSASSA-PSS`).
const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
/// DER content of the OID 1.2.840.10045.2.1 (`id-ecPublicKey`).
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// The public half a private key carries.
#[derive(Debug, PartialEq, Eq)]
enum Public<'a> {
    /// RSA modulus and exponent, big-endian, leading zeros removed.
    Rsa {
        modulus: &'a [u8],
        exponent: &'a [u8],
    },
    /// An EC point on a curve (the curve OID's content, when the key names it).
    Ec {
        curve: Option<&'a [u8]>,
        point: &'a [u8],
    },
    /// Another algorithm (its OID's content) and its raw public key.
    Other { algorithm: &'a [u8], key: &'a [u8] },
    /// The key does not carry its public half (undecidable without cryptography).
    Unknown,
}

/// Checks that `key` belongs to the certificate whose SubjectPublicKeyInfo is `spki`; the
/// error is the reason for a `TlsSecretInvalid` diagnostic.
pub(super) fn check(spki: &SubjectPublicKeyInfo<'_>, key: &PrivateKey) -> Result<(), String> {
    let public = match key.format {
        KeyFormat::Pkcs1 => pkcs1(&key.der),
        KeyFormat::Sec1 => sec1(&key.der, None),
        KeyFormat::Pkcs8 => pkcs8(&key.der),
    }
    .ok_or_else(|| {
        format!(
            "data.tls.key does not parse as a {:?} private key",
            key.format
        )
    })?;
    let mismatch = |what: &str| {
        Err(format!(
            "data.tls.key does not belong to the certificate ({what})"
        ))
    };
    let algorithm = spki.algorithm.algorithm.as_bytes();
    match public {
        Public::Unknown => Ok(()),
        Public::Rsa { modulus, exponent } => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if algorithm == RSA_ENCRYPTION || algorithm == RSASSA_PSS => {
                if trim(rsa.modulus) == modulus && trim(rsa.exponent) == exponent {
                    Ok(())
                } else {
                    mismatch("the RSA public keys differ")
                }
            }
            _ => mismatch("the key is RSA, the certificate's is not"),
        },
        Public::Ec { curve, point } => {
            if algorithm != EC_PUBLIC_KEY {
                return mismatch("the key is EC, the certificate's is not");
            }
            let cert_curve = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag() == Tag::Oid)
                .map(|p| p.data);
            if let (Some(key_curve), Some(cert_curve)) = (curve, cert_curve)
                && key_curve != cert_curve
            {
                return mismatch("the curves differ");
            }
            if spki.subject_public_key.data.as_ref() == point {
                Ok(())
            } else {
                mismatch("the EC public keys differ")
            }
        }
        Public::Other {
            algorithm: key_alg,
            key,
        } => {
            if key_alg != algorithm {
                mismatch("the key algorithms differ")
            } else if spki.subject_public_key.data.as_ref() != key {
                mismatch("the public keys differ")
            } else {
                Ok(())
            }
        }
    }
}

/// Parses one DER element of the universal class with `tag`, returning it and the rest.
fn expect<'a>(input: &'a [u8], tag: Tag) -> Option<(Any<'a>, &'a [u8])> {
    let (rest, any) = Any::from_der(input).ok()?;
    (any.class() == Class::Universal && any.tag() == tag).then_some((any, rest))
}

/// The elements of a context-specific `[n]` field, if `input` starts with one.
fn context<'a>(input: &'a [u8], n: u32) -> Option<(Any<'a>, &'a [u8])> {
    let (rest, any) = Any::from_der(input).ok()?;
    (any.class() == Class::ContextSpecific && any.tag() == Tag(n)).then_some((any, rest))
}

/// A BIT STRING's content without its unused-bits byte (which must be 0 for a key).
fn bits(content: &[u8]) -> Option<&[u8]> {
    match content.split_first() {
        Some((0, key)) => Some(key),
        _ => None,
    }
}

fn trim(integer: &[u8]) -> &[u8] {
    let start = integer
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(integer.len());
    &integer[start..]
}

/// PKCS#1 `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }`.
fn pkcs1(der: &[u8]) -> Option<Public<'_>> {
    let (seq, _) = expect(der, Tag::Sequence)?;
    let (_, rest) = expect(seq.data, Tag::Integer)?;
    let (modulus, rest) = expect(rest, Tag::Integer)?;
    let (exponent, _) = expect(rest, Tag::Integer)?;
    Some(Public::Rsa {
        modulus: trim(modulus.data),
        exponent: trim(exponent.data),
    })
}

/// SEC1 `ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING,
/// [0] parameters OPTIONAL, [1] publicKey BIT STRING OPTIONAL }`; `curve` is the curve a
/// PKCS#8 wrapper names.
fn sec1<'a>(der: &'a [u8], curve: Option<&'a [u8]>) -> Option<Public<'a>> {
    let (seq, _) = expect(der, Tag::Sequence)?;
    let (_, rest) = expect(seq.data, Tag::Integer)?;
    let (_, mut rest) = expect(rest, Tag::OctetString)?;
    let mut curve = curve;
    if let Some((parameters, after)) = context(rest, 0) {
        let (oid, _) = expect(parameters.data, Tag::Oid)?;
        curve = curve.or(Some(oid.data));
        rest = after;
    }
    match context(rest, 1) {
        Some((public, _)) => {
            let (point, _) = expect(public.data, Tag::BitString)?;
            Some(Public::Ec {
                curve,
                point: bits(point.data)?,
            })
        }
        None => Some(Public::Unknown),
    }
}

/// PKCS#8 `OneAsymmetricKey ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET
/// STRING, [0] attributes OPTIONAL, [1] publicKey OPTIONAL }`.
fn pkcs8(der: &[u8]) -> Option<Public<'_>> {
    let (seq, _) = expect(der, Tag::Sequence)?;
    let (_, rest) = expect(seq.data, Tag::Integer)?;
    let (algorithm, rest) = expect(rest, Tag::Sequence)?;
    let (private, mut rest) = expect(rest, Tag::OctetString)?;
    let (oid, parameters) = expect(algorithm.data, Tag::Oid)?;
    if let Some((_, after)) = context(rest, 0) {
        rest = after;
    }
    let embedded = match context(rest, 1) {
        Some((public, _)) => Some(bits(public.data)?),
        None => None,
    };
    match oid.data {
        RSA_ENCRYPTION | RSASSA_PSS => pkcs1(private.data),
        EC_PUBLIC_KEY => {
            let curve = expect(parameters, Tag::Oid).map(|(c, _)| c.data);
            match (sec1(private.data, curve)?, embedded) {
                (Public::Unknown, Some(point)) => Some(Public::Ec { curve, point }),
                (public, _) => Some(public),
            }
        }
        algorithm => Some(match embedded {
            Some(key) => Public::Other { algorithm, key },
            None => Public::Unknown,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keys_do_not_parse() {
        for der in [&b""[..], b"\x30", b"\x30\x03\x02\x01", b"junk", b"\x30\x00"] {
            assert_eq!(pkcs1(der), None);
            assert_eq!(pkcs8(der), None);
            assert_eq!(sec1(der, None), None);
        }
    }

    #[test]
    fn sec1_without_public_key_is_undecided() {
        // SEQUENCE { INTEGER 1, OCTET STRING 01 }
        let der = [0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, 0x01];
        assert_eq!(sec1(&der, None), Some(Public::Unknown));
    }

    #[test]
    fn integers_lose_leading_zeros() {
        assert_eq!(trim(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim(&[0]), &[] as &[u8]);
    }
}
