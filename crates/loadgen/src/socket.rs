//! Opening the load generator's WebSocket connections: from a chosen loopback source address (so
//! that many connections are not limited to one address's ephemeral ports), with small buffers, and
//! sending protocol messages on them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use livepath_protocol::{ClientMessage, SUBPROTOCOL};
use serde_json::Value;
use tokio::net::TcpSocket;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig},
};

/// A client connection.
pub type Socket = WebSocketStream<tokio::net::TcpStream>;

fn config() -> WebSocketConfig {
    // tungstenite's 128 KiB default buffers would make the load generator the memory bottleneck.
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096)
}

/// Opens connection number `n` to `server` from source address 127.0.0.(1 + n % sources).
pub async fn connect(server: SocketAddr, n: usize, sources: u8) -> Result<Socket, String> {
    let source = Ipv4Addr::new(127, 0, 0, 1 + (n % usize::from(sources.max(1))) as u8);
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket.connect(server).await.map_err(|e| format!("connect to {server} from {source}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{server}/v1/ws").into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
        .await
        .map_err(|e| format!("handshake with {server}: {e}"))?;
    Ok(socket)
}

/// `message` as a text frame.
pub fn text(message: &ClientMessage<Value>) -> Message {
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}
