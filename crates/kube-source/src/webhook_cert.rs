//! The admission webhook's certificate, re-read from its files when they change.
//!
//! cert-manager (or any rotation) replaces the Secret behind the mounted files and the kubelet
//! swaps them in place; a certificate read once at start would expire under a running
//! controller and, with `failurePolicy: Fail`, block every Ingress write in the cluster. So the
//! files are read again at most every `check_every`, on a handshake, and a new pair that parses
//! and matches replaces the old one. A broken pair (half-written, garbage, key of another
//! certificate) is logged once and the last good pair keeps serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{info, warn};

use crate::error::Error;

/// How often the files are looked at by default.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(10);

/// A server certificate from PEM files, reloaded when their contents change.
#[derive(Debug)]
pub struct ReloadingCert {
    certificate: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    check_every: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    checked: Instant,
    /// The bytes of the certificate and key files last read (good or not).
    seen: (Vec<u8>, Vec<u8>),
    current: Arc<CertifiedKey>,
}

impl ReloadingCert {
    /// Reads the pair now (an error when it does not load) and serves it until it changes.
    pub fn load(
        certificate: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
        check_every: Duration,
    ) -> Result<Self, Error> {
        let seen = read_pair(certificate, key)?;
        let current = Arc::new(parse_pair(&seen, certificate, key, &provider)?);
        Ok(Self {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
            provider,
            check_every,
            state: Mutex::new(State {
                checked: Instant::now(),
                seen,
                current,
            }),
        })
    }

    /// The pair to serve, after reading the files again when `check_every` has passed.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= self.check_every {
            state.checked = Instant::now();
            self.refresh(&mut state);
        }
        state.current.clone()
    }

    fn refresh(&self, state: &mut State) {
        let bytes = match read_pair(&self.certificate, &self.key) {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(%error, "webhook certificate files unreadable; keeping the current one");
                return;
            }
        };
        if bytes == state.seen {
            return;
        }
        match parse_pair(&bytes, &self.certificate, &self.key, &self.provider) {
            Ok(pair) => {
                info!(certificate = %self.certificate.display(), "webhook certificate reloaded");
                state.current = Arc::new(pair);
            }
            Err(error) => {
                warn!(%error, "new webhook certificate not usable; keeping the current one");
            }
        }
        state.seen = bytes;
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn read_pair(certificate: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| Error::WebhookTls(format!("{}: {e}", path.display())))
    };
    Ok((read(certificate)?, read(key)?))
}

fn parse_pair(
    (certificate_pem, key_pem): &(Vec<u8>, Vec<u8>),
    certificate: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(certificate_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::WebhookTls(format!("{}: {e}", certificate.display())))?;
    if chain.is_empty() {
        return Err(Error::WebhookTls(format!(
            "{}: no certificate",
            certificate.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::WebhookTls(format!("{}: {e}", key.display())))?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| Error::WebhookTls(format!("{}: {e}", key.display())))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|e| {
        Error::WebhookTls(format!(
            "{} does not belong to {}: {e}",
            key.display(),
            certificate.display()
        ))
    })?;
    Ok(pair)
}
