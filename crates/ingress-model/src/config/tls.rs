//! OpenSSL TLS names (cipher strings, protocol lists, curves) mapped to what rustls with the ring
//! provider offers. Names rustls lacks are returned separately so callers can report them.

use crate::policy::TlsVersion;

/// OpenSSL cipher names and the rustls suite each maps to.
const SUITES: &[(&str, &str)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
];

/// OpenSSL group keywords that select every suite rustls offers.
const KEYWORDS: &[&str] = &[
    "ALL",
    "DEFAULT",
    "HIGH",
    "MEDIUM",
    "COMPLEMENTOFDEFAULT",
    "ECDHE",
    "EECDH",
    "kEECDH",
    "kECDHE",
    "ECDH",
    "AESGCM",
    "AES",
    "AES128",
    "AES256",
    "CHACHA20",
    "ECDSA",
    "aECDSA",
    "RSA",
    "aRSA",
    "SHA256",
    "SHA384",
    "TLSv1.2",
    "FIPS",
    "SUITEB128",
    "SUITEB192",
];

/// ingress-nginx's default `ssl-ciphers`, mapped (its two DHE suites do not exist in rustls).
pub fn default_ciphers() -> Vec<String> {
    SUITES[..6].iter().map(|(_, r)| (*r).to_owned()).collect()
}

/// Maps an OpenSSL cipher string (`:`, `,` or space separated) to rustls suite names, in
/// order. Exclusions (`!x`, `-x`) and `@STRENGTH` are ignored; group keywords (`HIGH`,
/// `ECDHE+AESGCM`, …) select every supported TLS 1.2 suite. Returns the suites and the names
/// rustls does not have; an error when nothing usable is left.
pub fn map_ciphers(value: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut suites: Vec<String> = Vec::new();
    let mut dropped = Vec::new();
    let push = |suite: &str, suites: &mut Vec<String>| {
        if !suites.iter().any(|s| s == suite) {
            suites.push(suite.to_owned());
        }
    };
    for token in value
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if token.starts_with(['!', '-', '@']) {
            continue;
        }
        let token = token.strip_prefix('+').unwrap_or(token);
        if let Some((_, rustls)) = SUITES.iter().find(|(openssl, _)| *openssl == token) {
            push(rustls, &mut suites);
        } else if token.split('+').all(|part| KEYWORDS.contains(&part)) {
            for (_, rustls) in &SUITES[..6] {
                push(rustls, &mut suites);
            }
        } else if token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            dropped.push(token.to_owned());
        } else {
            return Err(format!("{token:?} is not an OpenSSL cipher name"));
        }
    }
    if suites.is_empty() {
        return Err(format!(
            "no cipher that rustls supports (not available: {})",
            dropped.join(", ")
        ));
    }
    Ok((suites, dropped))
}

/// Maps `ssl-protocols` (`TLSv1.2 TLSv1.3`); SSLv2/SSLv3/TLSv1/TLSv1.1 are dropped.
pub fn map_protocols(value: &str) -> Result<(Vec<TlsVersion>, Vec<String>), String> {
    let mut versions = Vec::new();
    let mut dropped = Vec::new();
    for word in value.split_whitespace() {
        match word {
            "TLSv1.2" => versions.push(TlsVersion::Tls12),
            "TLSv1.3" => versions.push(TlsVersion::Tls13),
            "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1" => dropped.push(word.to_owned()),
            _ => return Err(format!("unknown protocol {word:?}")),
        }
    }
    versions.sort();
    versions.dedup();
    if versions.is_empty() {
        return Err("no protocol rustls supports (TLSv1.2, TLSv1.3)".into());
    }
    Ok((versions, dropped))
}

/// Maps `ssl-ecdh-curve` (`auto` or a `:` list) to rustls group names.
pub fn map_curves(value: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let text = value.trim();
    if text.is_empty() || text == "auto" {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut groups = Vec::new();
    let mut dropped = Vec::new();
    for name in text.split(':').map(str::trim).filter(|n| !n.is_empty()) {
        let group = match name {
            "X25519" | "x25519" => "X25519",
            "prime256v1" | "secp256r1" | "P-256" => "secp256r1",
            "secp384r1" | "P-384" => "secp384r1",
            _ => {
                dropped.push(name.to_owned());
                continue;
            }
        };
        groups.push(group.to_owned());
    }
    if groups.is_empty() {
        return Err(format!("no curve rustls supports in {text:?}"));
    }
    Ok((groups, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_names_map_to_rustls() {
        let (suites, dropped) = map_ciphers(
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256",
        )
        .unwrap();
        assert_eq!(
            suites,
            [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert_eq!(dropped, ["DHE-RSA-AES128-GCM-SHA256"]);
        assert_eq!(map_ciphers("HIGH:!aNULL:!MD5").unwrap().0.len(), 6);
        assert!(map_ciphers("AES128-SHA").is_err());
        assert!(map_ciphers("A;B").is_err());
    }

    #[test]
    fn protocols_and_curves() {
        assert_eq!(
            map_protocols("TLSv1 TLSv1.2").unwrap(),
            (vec![TlsVersion::Tls12], vec!["TLSv1".to_owned()])
        );
        assert!(map_protocols("TLSv1.1").is_err());
        assert!(map_protocols("TLSv9").is_err());
        assert_eq!(map_curves("auto").unwrap().0.len(), 0);
        assert_eq!(
            map_curves("X25519:prime256v1").unwrap().0,
            ["X25519", "secp256r1"]
        );
    }
}
