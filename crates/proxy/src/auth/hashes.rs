//! Verifying htpasswd password hashes. bcrypt uses the `bcrypt` crate; MD5-crypt (`$1$`),
//! SHA-crypt (`$5$`, `$6$`) and traditional DES crypt use `pwhash`; Apache's `$apr1$` is
//! MD5-crypt with another magic string, implemented here on `md-5`; `{SHA}` is base64 SHA-1.
//! Every comparison is constant-time. Anything unexpected verifies as false.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use sha1::Sha1;
use sluice_ingress_model::policy::{HashScheme, PasswordHash};
use subtle::ConstantTimeEq;

/// crypt's base-64 alphabet.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `password` matches `stored`. Slow schemes (bcrypt, SHA-crypt, MD5-crypt) take
/// milliseconds: call it off the async threads.
pub fn verify(stored: &PasswordHash, password: &[u8]) -> bool {
    let hash = stored.hash.as_str();
    match stored.scheme {
        HashScheme::Bcrypt => bcrypt::verify(password, hash).unwrap_or(false),
        HashScheme::Apr1 => apr1(password, hash).is_some_and(|c| equal(&c, hash)),
        HashScheme::Md5Crypt => pwhash::md5_crypt::verify(password, hash),
        HashScheme::Sha256Crypt => pwhash::sha256_crypt::verify(password, hash),
        HashScheme::Sha512Crypt => pwhash::sha512_crypt::verify(password, hash),
        HashScheme::Des => pwhash::unix_crypt::verify(password, hash),
        HashScheme::Sha1 => {
            let computed = format!("{{SHA}}{}", STANDARD.encode(Sha1::digest(password)));
            equal(&computed, hash)
        }
        // Digest HA1 values are checked by the digest handshake, never as passwords.
        HashScheme::DigestHa1 => false,
    }
}

/// Whether verifying this scheme costs enough to move it to a blocking thread.
pub fn is_slow(scheme: HashScheme) -> bool {
    matches!(
        scheme,
        HashScheme::Bcrypt
            | HashScheme::Sha256Crypt
            | HashScheme::Sha512Crypt
            | HashScheme::Md5Crypt
            | HashScheme::Apr1
    )
}

/// Constant-time string equality.
pub fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `$apr1$<salt>$<hash>` for `password` with the salt of `setting` (`None` if malformed).
pub fn apr1(password: &[u8], setting: &str) -> Option<String> {
    let rest = setting.strip_prefix("$apr1$")?;
    let salt = rest.split('$').next()?;
    let salt = salt.get(..salt.len().min(8))?;
    Some(md5_crypt(password, salt.as_bytes(), b"$apr1$"))
}

/// The MD5-crypt algorithm (Poul-Henning Kamp's, as Apache uses it for `$apr1$`).
fn md5_crypt(password: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(password)
        .chain_update(magic)
        .chain_update(salt);
    let mut remaining = password.len();
    while remaining > 0 {
        let n = remaining.min(16);
        ctx.update(alternate.get(..n).unwrap_or_default());
        remaining -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(password.get(..1).unwrap_or_default());
        }
        bits >>= 1;
    }
    let mut digest: [u8; 16] = ctx.finalize().into();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(digest);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(digest);
        } else {
            c.update(password);
        }
        digest = c.finalize().into();
    }
    let d = digest;
    let mut out = String::with_capacity(magic.len() + salt.len() + 23);
    out.push_str(&String::from_utf8_lossy(magic));
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let groups = [
        (d[0], d[6], d[12]),
        (d[1], d[7], d[13]),
        (d[2], d[8], d[14]),
    ];
    for (a, b, c) in groups
        .into_iter()
        .chain([(d[3], d[9], d[15]), (d[4], d[10], d[5])])
    {
        to64(
            &mut out,
            u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c),
            4,
        );
    }
    to64(&mut out, u32::from(d[11]), 2);
    out
}

fn to64(out: &mut String, mut value: u32, n: usize) {
    for _ in 0..n {
        // The mask keeps the index below 64.
        out.push(char::from(ITOA64[(value & 0x3f) as usize]));
        value >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(scheme: HashScheme, hash: &str) -> PasswordHash {
        PasswordHash {
            scheme,
            hash: hash.to_owned(),
        }
    }

    /// Vectors made with `openssl passwd` and glibc `crypt` for the password `secret`.
    #[test]
    fn verifies_vectors_from_other_implementations() {
        let cases = [
            (HashScheme::Apr1, "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
            (HashScheme::Md5Crypt, "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"),
            (
                HashScheme::Sha256Crypt,
                "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
            ),
            (
                HashScheme::Sha512Crypt,
                "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
            ),
            (HashScheme::Des, "abNANd1rDfiNc"),
            (
                HashScheme::Bcrypt,
                "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
            ),
            (HashScheme::Sha1, "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="),
        ];
        for (scheme, stored) in cases {
            let stored = hash(scheme, stored);
            assert!(verify(&stored, b"secret"), "{scheme:?}");
            assert!(!verify(&stored, b"Secret"), "{scheme:?}");
            assert!(!verify(&stored, b""), "{scheme:?}");
        }
    }

    #[test]
    fn malformed_hashes_never_verify() {
        assert!(!verify(&hash(HashScheme::Bcrypt, "$2y$nonsense"), b"x"));
        assert!(!verify(&hash(HashScheme::Apr1, "$apr1"), b"x"));
        assert!(!verify(&hash(HashScheme::DigestHa1, "00"), b"x"));
        assert_eq!(apr1(b"x", "$1$abc$def"), None);
        assert!(equal("abc", "abc") && !equal("abc", "abd") && !equal("abc", "ab"));
    }
}
