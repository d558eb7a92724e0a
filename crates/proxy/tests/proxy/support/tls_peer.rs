//! TLS on both sides of the proxy: an HTTPS client (any server certificate, optional client
//! certificate, chosen ALPN) and a TLS echo backend (h2 and HTTP/1.1 by ALPN, optional client
//! certificate checking) for HTTPS and GRPCS upstreams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{Backend, Hold, Issued, Reply, TestBody, echo, read};

fn chain_and_key(issued: &Issued) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let chain = CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap();
    (chain, key)
}

/// A client configuration: any server certificate, these ALPN protocols, an optional client
/// certificate, and optionally only these TLS versions.
pub fn client_config(
    alpn: &[&[u8]],
    client_cert: Option<&Issued>,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.unwrap_or(rustls::DEFAULT_VERSIONS))
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(sluice_testkit::AnyCertificate(provider)));
    let mut config = match client_cert {
        Some(issued) => {
            let (chain, key) = chain_and_key(issued);
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr` with SNI `sni`; the error when the handshake fails.
pub async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

/// One HTTP/1.1 request over a new TLS connection. `Err` carries a handshake or connection
/// failure.
pub async fn https(
    addr: SocketAddr,
    sni: &str,
    request: Request<TestBody>,
    config: Arc<ClientConfig>,
) -> Result<Reply, String> {
    let tls = tls_connect(addr, sni, config)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(read(response).await)
}

/// `GET path` over HTTPS with `Host: sni`.
pub async fn https_get(
    addr: SocketAddr,
    sni: &str,
    path: &str,
    client_cert: Option<&Issued>,
) -> Result<Reply, String> {
    let request = Request::builder()
        .uri(path)
        .header("host", sni)
        .body(super::empty())
        .unwrap();
    https(
        addr,
        sni,
        request,
        client_config(&[b"http/1.1"], client_cert, None),
    )
    .await
}

/// A TLS echo backend presenting `cert`; with `client_ca`, client certificates are required
/// and verified. The common name of a client certificate shows up in the echoed headers as
/// `x-test-client-cn`, the negotiated SNI as `x-test-sni`.
pub async fn tls_backend(name: &str, cert: &Issued, client_ca: Option<&str>) -> Backend {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let (chain, key) = chain_and_key(cert);
    let mut config = builder.with_single_cert(chain, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = Backend {
        name: name.to_owned(),
        addr: listener.local_addr().unwrap(),
        hits: Arc::new(AtomicUsize::new(0)),
        hold: Hold::default(),
    };
    let (name, hits, hold) = (
        backend.name.clone(),
        backend.hits.clone(),
        backend.hold.clone(),
    );
    tokio::spawn(async move {
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, name, hits, hold, builder) = (
                acceptor.clone(),
                name.clone(),
                hits.clone(),
                hold.clone(),
                builder.clone(),
            );
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let (_, session) = tls.get_ref();
                let sni = session.server_name().map(str::to_owned);
                let client_cn = session
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| common_name(c.as_ref()));
                let service = hyper::service::service_fn(move |mut req: Request<_>| {
                    if let Some(cn) = &client_cn {
                        req.headers_mut()
                            .insert("x-test-client-cn", cn.parse().unwrap());
                    }
                    if let Some(sni) = &sni {
                        req.headers_mut().insert("x-test-sni", sni.parse().unwrap());
                    }
                    echo(name.clone(), hits.clone(), hold.clone(), req)
                });
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    backend
}

/// The subject CN of a DER certificate.
fn common_name(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned()
}
