//! Upstream connections: TCP (with `TCP_NODELAY`) to the endpoint named by the request URI,
//! optionally wrapped in TLS, for the HTTP/1.1 and HTTP/2 pools.
//!
//! The proxy's own requests (external auth, mirrors) go to URLs instead
//! ([`Connector::by_url`]): the host name is resolved by the system resolver and `https://`
//! URLs get TLS with SNI for that name.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::uri::Scheme;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::BoxError;
use crate::stats::{UpstreamConnections, UpstreamOpen};
use crate::upstream_tls::TlsTarget;

/// Opens upstream connections, plain or TLS.
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    target: Target,
    connections: Option<Arc<UpstreamConnections>>,
}

/// Where a [`Connector`] connects.
#[derive(Clone, Debug)]
enum Target {
    /// The endpoint address in the URI, with this TLS (or none).
    Endpoint(Option<TlsTarget>),
    /// The URI's host, resolved; TLS for `https://` with this configuration (none: such URLs
    /// fail).
    Url(Option<Arc<ClientConfig>>),
}

impl Connector {
    /// A connector for plain TCP.
    pub fn plain() -> Self {
        Self {
            target: Target::Endpoint(None),
            connections: None,
        }
    }

    /// A connector that speaks TLS on every connection.
    pub fn tls(target: TlsTarget) -> Self {
        Self {
            target: Target::Endpoint(Some(target)),
            connections: None,
        }
    }

    /// A connector for `http://` and `https://` URLs with host names; `tls` serves the
    /// `https://` ones (SNI is the URL's host when `tls` enables SNI).
    pub fn by_url(tls: Option<Arc<ClientConfig>>) -> Self {
        Self {
            target: Target::Url(tls),
            connections: None,
        }
    }

    /// Counts the connections it opens (per endpoint address, for `/metrics`).
    pub fn counted(mut self, connections: &Arc<UpstreamConnections>) -> Self {
        self.connections = Some(connections.clone());
        self
    }

    /// Opens a connection to `addr`.
    pub async fn open(&self, addr: SocketAddr) -> io::Result<UpstreamIo> {
        let tls = match &self.target {
            Target::Endpoint(Some(target)) => {
                Some((target.config.clone(), target.server_name.clone()))
            }
            Target::Endpoint(None) | Target::Url(_) => None,
        };
        let mut io = connect(&[addr], tls).await?;
        io._open = self.connections.as_ref().map(|c| c.opened(addr));
        Ok(io)
    }

    /// Opens a connection to the address of `uri`: its endpoint address, or its host resolved.
    async fn open_uri(&self, uri: &Uri) -> Result<UpstreamIo, BoxError> {
        let Target::Url(config) = &self.target else {
            return Ok(self.open(endpoint_of(uri)?).await?);
        };
        let host = uri.host().ok_or("URL without a host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let tls = if https {
            let config = config
                .clone()
                .ok_or("TLS is unavailable for https:// URLs")?;
            let name = ServerName::try_from(host.to_owned())?;
            Some((config, name))
        } else {
            None
        };
        Ok(connect(&addrs, tls).await?)
    }
}

/// Connects to the first of `addrs` that accepts, then speaks TLS when asked.
async fn connect(
    addrs: &[SocketAddr],
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
) -> io::Result<UpstreamIo> {
    let mut failure = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    let mut connected = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                connected = Some(tcp);
                break;
            }
            Err(error) => failure = error,
        }
    }
    let tcp = connected.ok_or(failure)?;
    tcp.set_nodelay(true)?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some((config, name)) => {
            let tls = TlsConnector::from(config).connect(name, tcp).await?;
            Stream::Tls(Box::new(tls))
        }
    };
    Ok(UpstreamIo {
        io: TokioIo::new(stream),
        _open: None,
    })
}

impl tower_service::Service<Uri> for Connector {
    type Response = UpstreamIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.open_uri(&uri).await })
    }
}

/// The endpoint address in a forwarding URI (`http://10.0.0.1:8080/...`).
fn endpoint_of(uri: &Uri) -> Result<SocketAddr, BoxError> {
    let authority = uri.authority().ok_or("upstream URI without an address")?;
    authority
        .as_str()
        .parse()
        .map_err(|_| format!("upstream URI authority {authority} is not an address").into())
}

/// A plain or TLS upstream stream.
#[derive(Debug)]
pub(crate) enum Stream {
    /// TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// An upstream connection as hyper sees it.
#[derive(Debug)]
pub(crate) struct UpstreamIo {
    io: TokioIo<Stream>,
    /// Keeps the connection counted as open.
    _open: Option<UpstreamOpen>,
}

impl hyper::rt::Read for UpstreamIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for UpstreamIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl Connection for UpstreamIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
