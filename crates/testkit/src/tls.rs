//! TLS clients (rustls with ring): SNI and ALPN chosen per call, and either any certificate
//! accepted (the test then inspects which one was served) or a real verification against a
//! test CA and the SNI name.

use std::net::SocketAddr;
use std::sync::Arc;

use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::client::{Reply, read};
use crate::{TestBody, empty};

/// Accepts any certificate but checks the handshake signatures, so the test learns which
/// certificate was served and that the server holds its key.
#[derive(Debug)]
pub struct AnyCertificate(pub Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How the client checks the server's certificate.
#[derive(Clone, Debug)]
pub enum Trust {
    /// Any certificate (signatures still checked).
    Any,
    /// Only a chain to this CA (DER) valid for the SNI name.
    Root(Vec<u8>),
}

/// The outcome of one HTTPS request.
pub struct TlsReply {
    /// The response.
    pub reply: Reply,
    /// The leaf certificate served (DER).
    pub certificate: Vec<u8>,
    /// The protocol ALPN chose.
    pub alpn: Option<Vec<u8>>,
}

/// A ring client configuration with this trust and ALPN offer.
pub fn tls_client_config(trust: &Trust, alpn: &[&[u8]]) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::Any => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        Trust::Root(der) => {
            let mut roots = RootCertStore::empty();
            roots.add(CertificateDer::from(der.clone()))?;
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// GET `path` over TLS with this SNI (also the Host) and ALPN offer, any certificate accepted;
/// h2 when negotiated, else HTTP/1.1.
pub async fn tls_get(addr: SocketAddr, sni: &str, alpn: &[&[u8]], path: &str) -> TlsReply {
    tls_request(addr, sni, &Trust::Any, alpn, "GET", path, empty())
        .await
        .unwrap_or_else(|e| panic!("GET https://{sni}{path} via {addr}: {e}"))
}

/// `method` `path` over TLS to `addr` with SNI and Host `sni`, checking the certificate as
/// `trust` says; h2 when ALPN chose it, else HTTP/1.1. A failed handshake is an `Err`.
pub async fn tls_request(
    addr: SocketAddr,
    sni: &str,
    trust: &Trust,
    alpn: &[&[u8]],
    method: &str,
    path: &str,
    body: TestBody,
) -> Result<TlsReply, String> {
    let config = tls_client_config(trust, alpn).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (_, session) = tls.get_ref();
    let certificate = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let io = TokioIo::new(tls);
    let reply = if alpn.as_deref() == Some(b"h2") {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(format!("https://{sni}{path}"))
            .body(body)
            .map_err(|e| e.to_string())?;
        read(sender.send_request(req).await.map_err(|e| e.to_string())?).await
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", sni)
            .body(body)
            .map_err(|e| e.to_string())?;
        read(sender.send_request(req).await.map_err(|e| e.to_string())?).await
    };
    Ok(TlsReply {
        reply,
        certificate,
        alpn,
    })
}

/// Whether `needle` occurs in `haystack` (e.g. a name inside a DER certificate).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
