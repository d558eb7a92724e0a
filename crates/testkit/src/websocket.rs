//! WebSocket, both ends: the backend's echo after its handshake answer, and a client that
//! connects through a proxy address with a chosen virtual host.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
pub use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// A client WebSocket over plain TCP.
pub type WebSocket = WebSocketStream<TcpStream>;

/// The `Sec-WebSocket-Accept` answer to a `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    derive_accept_key(key)
}

/// Echoes every text and binary message until the peer closes (pings and closes are answered
/// by the protocol layer).
pub async fn echo<S>(stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut socket = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
    while let Some(Ok(message)) = socket.next().await {
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            break;
        }
    }
}

/// Opens a WebSocket to `ws://{host}{path}` through `addr` (the Host header names `host`).
pub async fn connect(addr: SocketAddr, host: &str, path: &str) -> WebSocket {
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{host}{path}");
    let (socket, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake with {host}{path} failed: {e}"));
    assert_eq!(response.status(), 101);
    socket
}

/// Sends `message` and returns the next message received.
pub async fn round_trip(socket: &mut WebSocket, message: Message) -> Message {
    socket.send(message).await.unwrap();
    loop {
        match socket.next().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(reply)) => return reply,
            other => panic!("no WebSocket reply: {other:?}"),
        }
    }
}
