//! `auth-type: basic` and `digest` against the credentials of `auth-secret`.
//!
//! Basic: the `Authorization: Basic` user is looked up and the password verified against its
//! htpasswd hash ([`super::hashes`]; slow schemes on a blocking thread); failure answers 401
//! with `WWW-Authenticate: Basic realm="<auth-realm>"`.
//!
//! Digest (RFC 7616, MD5, `qop=auth`): the challenge carries a nonce made of a timestamp and an
//! MD5 MAC under a per-process secret, valid for [`NONCE_LIFETIME`]; the response is checked
//! against the htdigest HA1. Nonce counts are not tracked, so a captured response can be
//! replayed for the same URI while its nonce is valid.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use sluice_ingress_model::policy::{BasicAuth, BasicAuthKind, PasswordHash};

use super::hashes;
use crate::balance::affinity::md5_hex;

/// How long a digest nonce is accepted.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The outcome of a basic or digest check.
#[derive(Debug, PartialEq, Eq)]
pub enum Basic {
    /// The credentials are valid.
    Valid,
    /// Missing or wrong: answer 401 with this `WWW-Authenticate`.
    Challenge(HeaderValue),
}

/// Checks the request's credentials; `request_uri` is the target as the client sent it (what
/// a digest response signs, whatever a rewrite made of the URI since).
pub async fn check(
    auth: &BasicAuth,
    parts: &http::request::Parts,
    request_uri: &str,
    secret: &[u8; 16],
) -> Basic {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = match auth.kind {
        BasicAuthKind::Basic => match basic_credentials(header) {
            Some((user, password)) => match auth.credentials.0.get(&user) {
                Some(stored) => verify(stored.clone(), password).await,
                None => false,
            },
            None => false,
        },
        BasicAuthKind::Digest => digest_valid(
            auth,
            header,
            parts.method.as_str(),
            request_uri,
            secret,
            now(),
        ),
    };
    if valid {
        Basic::Valid
    } else {
        Basic::Challenge(challenge(auth, secret, now()))
    }
}

async fn verify(stored: PasswordHash, password: Vec<u8>) -> bool {
    if hashes::is_slow(stored.scheme) {
        tokio::task::spawn_blocking(move || hashes::verify(&stored, &password))
            .await
            .unwrap_or(false)
    } else {
        hashes::verify(&stored, &password)
    }
}

/// `Basic base64(user:password)`.
fn basic_credentials(header: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded.get(..colon)?.to_vec()).ok()?;
    Some((user, decoded.get(colon + 1..)?.to_vec()))
}

fn challenge(auth: &BasicAuth, secret: &[u8; 16], now: u64) -> HeaderValue {
    let realm = auth.realm.replace(['"', '\\'], "");
    let text = match auth.kind {
        BasicAuthKind::Basic => format!("Basic realm=\"{realm}\""),
        BasicAuthKind::Digest => format!(
            "Digest realm=\"{realm}\", qop=\"auth\", algorithm=MD5, nonce=\"{}\"",
            nonce(secret, now)
        ),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Basic"))
}

/// `<hex time>-<md5(secret:time)>`.
fn nonce(secret: &[u8; 16], time: u64) -> String {
    format!("{time:x}-{}", nonce_mac(secret, time))
}

fn nonce_mac(secret: &[u8; 16], time: u64) -> String {
    let mut data = secret.to_vec();
    data.extend_from_slice(format!(":{time:x}").as_bytes());
    md5_hex(&data)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `key=value` / `key="value"` parameters of a `Digest` header.
fn digest_params(header: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.push((key.trim().to_ascii_lowercase(), value.to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(params)
}

fn digest_valid(
    auth: &BasicAuth,
    header: &str,
    method: &str,
    request_uri: &str,
    secret: &[u8; 16],
    now: u64,
) -> bool {
    let Some(params) = digest_params(header) else {
        return false;
    };
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let (Some(user), Some(nonce_value), Some(uri), Some(response)) =
        (get("username"), get("nonce"), get("uri"), get("response"))
    else {
        return false;
    };
    if get("realm") != Some(auth.realm.as_str()) || uri != request_uri {
        return false;
    }
    let Some((time, mac)) = nonce_value.split_once('-') else {
        return false;
    };
    let Ok(time) = u64::from_str_radix(time, 16) else {
        return false;
    };
    if !hashes::equal(mac, &nonce_mac(secret, time))
        || now.saturating_sub(time) > NONCE_LIFETIME.as_secs()
    {
        return false;
    }
    let Some(stored) = auth.credentials.0.get(user) else {
        return false;
    };
    let ha1 = stored.hash.to_ascii_lowercase();
    let ha2 = md5_hex(format!("{method}:{uri}").as_bytes());
    let expected = match (get("qop"), get("nc"), get("cnonce")) {
        (Some("auth"), Some(nc), Some(cnonce)) => {
            md5_hex(format!("{ha1}:{nonce_value}:{nc}:{cnonce}:auth:{ha2}").as_bytes())
        }
        (None, _, _) => md5_hex(format!("{ha1}:{nonce_value}:{ha2}").as_bytes()),
        _ => return false,
    };
    hashes::equal(&expected, &response.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::policy::{Credentials, HashScheme};

    fn digest_auth() -> BasicAuth {
        let ha1 = md5_hex(b"alice:realm:secret");
        let mut credentials = Credentials::default();
        credentials.0.insert(
            "alice".into(),
            PasswordHash {
                scheme: HashScheme::DigestHa1,
                hash: ha1,
            },
        );
        BasicAuth {
            kind: BasicAuthKind::Digest,
            realm: "realm".into(),
            credentials,
        }
    }

    fn client_response(nonce: &str, password: &str, uri: &str) -> String {
        let ha1 = md5_hex(format!("alice:realm:{password}").as_bytes());
        let ha2 = md5_hex(format!("GET:{uri}").as_bytes());
        let response = md5_hex(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}").as_bytes());
        format!(
            "Digest username=\"alice\", realm=\"realm\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc=00000001, cnonce=\"c0ffee\", response=\"{response}\""
        )
    }

    #[test]
    fn digest_handshake() {
        let secret = [7u8; 16];
        let auth = digest_auth();
        let t = 1_000_000;
        let n = nonce(&secret, t);
        let ok = client_response(&n, "secret", "/a?b=1");
        assert!(digest_valid(&auth, &ok, "GET", "/a?b=1", &secret, t + 10));
        assert!(!digest_valid(&auth, &ok, "GET", "/other", &secret, t + 10));
        assert!(
            !digest_valid(&auth, &ok, "GET", "/a?b=1", &secret, t + 301),
            "expired"
        );
        assert!(
            !digest_valid(&auth, &ok, "GET", "/a?b=1", &[8; 16], t),
            "foreign nonce"
        );
        let wrong = client_response(&n, "wrong", "/a?b=1");
        assert!(!digest_valid(&auth, &wrong, "GET", "/a?b=1", &secret, t));
        let challenge = challenge(&auth, &secret, t);
        assert!(
            challenge
                .to_str()
                .unwrap()
                .starts_with("Digest realm=\"realm\", qop=\"auth\"")
        );
    }

    #[test]
    fn basic_header_parsing() {
        let header = format!("Basic {}", STANDARD.encode("bob:pa:ss"));
        assert_eq!(
            basic_credentials(&header),
            Some(("bob".to_owned(), b"pa:ss".to_vec()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("nocolon"))),
            None
        );
    }
}
